/* Unit tests for common/util.c */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "tests/unit/harness.h"

static void test_write_read_file(void)
{
	char dir[] = "/tmp/sa-test-util-XXXXXX";
	char path[256], sub[256];
	struct stat st;
	size_t len;
	char *buf;

	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(sub, sizeof(sub), "%s/a/b/c", dir);
	CHECK(util_mkdir_p(sub, 0700) == 0);
	snprintf(path, sizeof(path), "%s/a/secret", dir);
	CHECK(util_write_file(path, "hello", 5, 0600) == 0);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	buf = util_read_file(path, 100, &len);
	CHECK(buf && len == 5 && !strcmp(buf, "hello"));
	free(buf);
	buf = util_read_file(path, 3, &len);
	CHECK(buf == NULL && errno == EFBIG);
	CHECK(util_read_file("/nonexistent/x", 10, NULL) == NULL && errno == ENOENT);
	unlink(path);
	rmdir(sub);
	snprintf(sub, sizeof(sub), "%s/a/b", dir);
	rmdir(sub);
	snprintf(sub, sizeof(sub), "%s/a", dir);
	rmdir(sub);
	rmdir(dir);
}

static void test_random_hex(void)
{
	char a[65], b[65];

	REQUIRE(util_random_hex(a, 32) == 0);
	REQUIRE(util_random_hex(b, 32) == 0);
	CHECK(strlen(a) == 64);
	CHECK(strcmp(a, b) != 0);
	CHECK(strspn(a, "0123456789abcdef") == 64);
}

int main(void)
{
	RUN(test_write_read_file);
	RUN(test_random_hex);
	return harness_done();
}
