/* Unit tests for common/cidr.c */
#include "common/cidr.h"
#include "tests/unit/harness.h"

static void test_ip4_parse(void)
{
	uint32_t a;

	CHECK(ip4_parse("10.1.2.3", &a) == 0 && a == 0x0a010203);
	CHECK(ip4_parse("255.255.255.255", &a) == 0 && a == 0xffffffff);
	CHECK(ip4_parse("0.0.0.0", &a) == 0 && a == 0);
	CHECK(ip4_parse("256.1.1.1", &a) < 0);
	CHECK(ip4_parse("1.2.3", &a) < 0);
	CHECK(ip4_parse("1.2.3.4.5", &a) < 0);
	CHECK(ip4_parse("01.2.3.4", &a) < 0);
	CHECK(ip4_parse("1.2.3.4 ", &a) < 0);
	CHECK(ip4_parse("", &a) < 0);
	CHECK(ip4_parse("a.b.c.d", &a) < 0);
}

static void test_cidr_parse_format(void)
{
	struct cidr4 c;
	char buf[CIDR4_STRLEN];

	REQUIRE(cidr4_parse("10.1.0.0/16", &c) == 0);
	CHECK_EQ_INT(c.len, 16);
	cidr4_format(&c, buf);
	CHECK_STR(buf, "10.1.0.0/16");
	CHECK(cidr4_parse("0.0.0.0/0", &c) == 0 && c.len == 0);
	CHECK(cidr4_parse("10.1.0.1/16", &c) < 0);	/* host bits */
	CHECK(cidr4_parse("10.1.0.0/33", &c) < 0);
	CHECK(cidr4_parse("10.1.0.0/", &c) < 0);
	CHECK(cidr4_parse("10.1.0.0", &c) < 0);
	CHECK(cidr4_parse("10.1.0.0/016", &c) < 0);
	CHECK(cidr4_parse("/16", &c) < 0);
}

static void test_cidr_overlap(void)
{
	struct cidr4 a, b, d;

	REQUIRE(cidr4_parse("10.0.0.0/8", &a) == 0);
	REQUIRE(cidr4_parse("10.1.0.0/16", &b) == 0);
	REQUIRE(cidr4_parse("11.0.0.0/16", &d) == 0);
	CHECK(cidr4_overlap(&a, &b));
	CHECK(cidr4_overlap(&b, &a));
	CHECK(!cidr4_overlap(&a, &d));
	CHECK(cidr4_contains(&b, 0x0a01ff01));
	CHECK(!cidr4_contains(&b, 0x0a02ff01));
	CHECK(cidr4_size(&b) == 65536);
}

int main(void)
{
	RUN(test_ip4_parse);
	RUN(test_cidr_parse_format);
	RUN(test_cidr_overlap);
	return harness_done();
}
