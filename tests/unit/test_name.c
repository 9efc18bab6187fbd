/* Unit tests for common/name.c: one check per kind of name, at its edges. */
#include <errno.h>
#include <string.h>

#include "common/name.h"
#include "tests/unit/harness.h"

static void test_dns_label(void)
{
	char l63[64], l64[65];

	memset(l63, 'a', 63);
	l63[63] = '\0';
	memset(l64, 'a', 64);
	l64[64] = '\0';
	CHECK(name_is_dns_label("c1"));
	CHECK(name_is_dns_label("a-b-0"));
	CHECK(name_is_dns_label("0"));
	CHECK(name_is_dns_label(l63));
	CHECK(!name_is_dns_label(l64));
	CHECK(!name_is_dns_label(""));
	CHECK(!name_is_dns_label(NULL));
	CHECK(!name_is_dns_label("A"));
	CHECK(!name_is_dns_label("a-"));
	CHECK(!name_is_dns_label("-a"));
	CHECK(!name_is_dns_label("a_b"));
	CHECK(!name_is_dns_label("a.b"));
}

static void test_dns_subdomain(void)
{
	char long_name[300];

	CHECK(name_is_dns_subdomain("c1-n1"));
	CHECK(name_is_dns_subdomain("a.b-c.d"));
	CHECK(!name_is_dns_subdomain("a..b"));
	CHECK(!name_is_dns_subdomain(".a"));
	CHECK(!name_is_dns_subdomain("a."));
	CHECK(!name_is_dns_subdomain("a.-b"));
	CHECK(!name_is_dns_subdomain("A.b"));
	CHECK(!name_is_dns_subdomain("a/b"));
	CHECK(!name_is_dns_subdomain(""));
	memset(long_name, 'a', sizeof(long_name));
	for (int i = 60; i < 290; i += 61)
		long_name[i] = '.';
	long_name[253] = '\0';
	CHECK(name_is_dns_subdomain(long_name));
	long_name[253] = 'a';
	long_name[254] = '\0';
	CHECK(!name_is_dns_subdomain(long_name));
}

static void test_hostname(void)
{
	CHECK(name_is_hostname("broker.example.org"));
	CHECK(name_is_hostname("Broker-1.Example.ORG"));
	CHECK(name_is_hostname("localhost"));
	CHECK(!name_is_hostname("-broker.example"));
	CHECK(!name_is_hostname("broker-.example"));
	CHECK(!name_is_hostname("a..b"));
	CHECK(!name_is_hostname("a_b"));
	CHECK(!name_is_hostname("a b"));
}

static void test_safe(void)
{
	CHECK(name_is_safe("Node_1.x-y", 10, 10));
	CHECK(!name_is_safe("Node_1.x-y", 10, 9));
	CHECK(!name_is_safe("a\nb", 3, 10));
	CHECK(!name_is_safe("a/b", 3, 10));
	CHECK(!name_is_safe("", 0, 10));
	CHECK(name_is_safe("ab\ncd", 2, 10));	/* only the first len bytes count */
}

/* Owned object names: the owner is the first label, so "prod" and "prod-eu" never collide. */
static void test_owned(void)
{
	char buf[64];

	CHECK_EQ_INT(name_owned(buf, sizeof(buf), "prod", "eu-gw1"), 0);
	CHECK_STR(buf, "prod.eu-gw1");
	CHECK_EQ_INT(name_owned(buf, sizeof(buf), "prod-eu", "gw1"), 0);
	CHECK_STR(buf, "prod-eu.gw1");
	CHECK_EQ_INT(name_owned(buf, sizeof(buf), "c1", "c1-n1.example"), 0);
	CHECK_EQ_INT(name_owned(buf, sizeof(buf), "C1", "n1"), -EINVAL);
	CHECK_EQ_INT(name_owned(buf, sizeof(buf), "a.b", "n1"), -EINVAL);
	CHECK_EQ_INT(name_owned(buf, sizeof(buf), "c1", "N1"), -EINVAL);
	CHECK_EQ_INT(name_owned(buf, sizeof(buf), "c1", ""), -EINVAL);
	CHECK_EQ_INT(name_owned(buf, 6, "c1", "node"), -ENAMETOOLONG);
}

int main(void)
{
	RUN(test_owned);
	RUN(test_dns_label);
	RUN(test_dns_subdomain);
	RUN(test_hostname);
	RUN(test_safe);
	return harness_done();
}
