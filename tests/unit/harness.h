/* A tiny unit-test harness. Each test file:
 *   static void test_foo(void) { CHECK(1 + 1 == 2); CHECK_EQ_INT(x, 3); }
 *   int main(void) { RUN(test_foo); return harness_done(); }
 * Prints "PASS: file:test", "FAIL: file:test", or "SKIP: file:test (why)" per test;
 * tests/run-all.sh counts those lines. SKIP_TEST("why") skips the current test. */
#ifndef SA_HARNESS_H
#define SA_HARNESS_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int h_failed_total, h_cur_failed, h_cur_skipped;
static char h_skip_why[256];

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		h_cur_failed = 1; \
	} \
} while (0)

#define CHECK_EQ_INT(a, b) do { \
	long long _a = (long long)(a), _b = (long long)(b); \
	if (_a != _b) { \
		fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n", \
			__FILE__, __LINE__, #a, _a, #b, _b); \
		h_cur_failed = 1; \
	} \
} while (0)

#define CHECK_STR(a, b) do { \
	const char *_a = (a), *_b = (b); \
	if (!_a || !_b || strcmp(_a, _b)) { \
		fprintf(stderr, "  %s:%d: %s == \"%s\", expected \"%s\"\n", \
			__FILE__, __LINE__, #a, _a ? _a : "(null)", _b ? _b : "(null)"); \
		h_cur_failed = 1; \
	} \
} while (0)

/* Stops the current test when a check it depends on failed. */
#define REQUIRE(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "  %s:%d: required check failed: %s\n", __FILE__, __LINE__, #cond); \
		h_cur_failed = 1; \
		return; \
	} \
} while (0)

#define SKIP_TEST(...) do { \
	snprintf(h_skip_why, sizeof(h_skip_why), __VA_ARGS__); \
	h_cur_skipped = 1; \
	return; \
} while (0)

#define RUN(fn) do { \
	h_cur_failed = 0; h_cur_skipped = 0; \
	fn(); \
	if (h_cur_skipped && !h_cur_failed) \
		printf("SKIP: %s:%s (%s)\n", h_basename(__FILE__), #fn, h_skip_why); \
	else \
		printf("%s: %s:%s\n", h_cur_failed ? "FAIL" : "PASS", h_basename(__FILE__), #fn); \
	fflush(stdout); \
	h_failed_total += h_cur_failed; \
} while (0)

static inline const char *h_basename(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static inline int harness_done(void)
{
	return h_failed_total ? 1 : 0;
}

#endif
