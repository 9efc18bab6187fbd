/* Unit tests of broker/server/page.c: continue tokens round-trip, and every change to one
 * (a flipped character, another key, a truncation, padding, foreign characters) is
 * refused; the limit parameter. */
#include <errno.h>
#include <string.h>

#include "broker/server/objects.h"
#include "broker/server/page.h"
#include "tests/unit/harness.h"

static void test_roundtrip(void)
{
	uint8_t key[32], other[32];
	struct srv_continue c = { .res = 1, .rev = 123456789 }, d;
	char tok[SRV_CONTINUE_MAX];

	srv_continue_key("an admin token of at least thirty-two characters", key);
	srv_continue_key("another admin token of at least thirty-two characters", other);
	strcpy(c.name, "c1.gw-1.example");
	CHECK_EQ_INT(srv_continue_encode(key, &c, tok, sizeof(tok)), 0);
	CHECK_EQ_INT(strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
		     strlen(tok));
	CHECK_EQ_INT(srv_continue_decode(key, tok, &d), 0);
	CHECK_EQ_INT(d.res, 1);
	CHECK(d.rev == 123456789);
	CHECK_STR(d.name, "c1.gw-1.example");
	CHECK_EQ_INT(srv_continue_decode(other, tok, &d), -EINVAL);	/* another broker's */
	for (size_t i = 0; i < strlen(tok); i++) {
		char t[SRV_CONTINUE_MAX];

		strcpy(t, tok);
		t[i] = t[i] == 'A' ? 'B' : 'A';
		if (srv_continue_decode(key, t, &d) != -EINVAL) {
			CHECK(!"a changed token was accepted");
			break;
		}
	}
	{
		char t[SRV_CONTINUE_MAX + 8];

		strcpy(t, tok);
		t[strlen(t) - 1] = '\0';
		CHECK_EQ_INT(srv_continue_decode(key, t, &d), -EINVAL);
		snprintf(t, sizeof(t), "%s=", tok);
		CHECK_EQ_INT(srv_continue_decode(key, t, &d), -EINVAL);
		snprintf(t, sizeof(t), "%sAAAA", tok);
		CHECK_EQ_INT(srv_continue_decode(key, t, &d), -EINVAL);
	}
	CHECK_EQ_INT(srv_continue_decode(key, "", &d), -EINVAL);
	CHECK_EQ_INT(srv_continue_decode(key, NULL, &d), -EINVAL);
	CHECK_EQ_INT(srv_continue_decode(key, "a+b/", &d), -EINVAL);
	/* what may not be encoded */
	strcpy(c.name, "Not-A-Name");
	CHECK_EQ_INT(srv_continue_encode(key, &c, tok, sizeof(tok)), -EINVAL);
	strcpy(c.name, "ok");
	c.res = srv_n_resources;
	CHECK_EQ_INT(srv_continue_encode(key, &c, tok, sizeof(tok)), -EINVAL);
	c.res = 0;
	CHECK_EQ_INT(srv_continue_encode(key, &c, tok, 8), -ENOSPC);
	/* the longest name fits SRV_CONTINUE_MAX */
	memset(c.name, 'a', 253);
	for (int i = 63; i < 253; i += 64)
		c.name[i] = '.';
	c.name[253] = '\0';
	CHECK_EQ_INT(srv_continue_encode(key, &c, tok, sizeof(tok)), 0);
	CHECK_EQ_INT(srv_continue_decode(key, tok, &d), 0);
	CHECK_STR(d.name, c.name);
}

static void test_limit(void)
{
	unsigned n = 7;

	CHECK_EQ_INT(srv_page_limit(NULL, &n), 0);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(srv_page_limit("25", &n), 0);
	CHECK_EQ_INT(n, 25);
	CHECK_EQ_INT(srv_page_limit("99999999", &n), 0);
	CHECK_EQ_INT(n, SRV_PAGE_MAX);
	CHECK_EQ_INT(srv_page_limit("0", &n), -EINVAL);
	CHECK_EQ_INT(srv_page_limit("-1", &n), -EINVAL);
	CHECK_EQ_INT(srv_page_limit("1x", &n), -EINVAL);
	CHECK_EQ_INT(srv_page_limit("", &n), -EINVAL);
}

int main(void)
{
	RUN(test_roundtrip);
	RUN(test_limit);
	return harness_done();
}
