/* Unit tests for agent/routing/guard.c: routes that would take the broker, a peer's
 * underlay or the node's own networks are refused; the node's networks are read from a
 * private network namespace with addresses the test puts there. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/routing/guard.h"
#include "agent/routing/routes.h"
#include "common/util.h"
#include "tests/unit/harness.h"

static struct cidr4 C(const char *s)
{
	struct cidr4 c = { 0 };

	if (cidr4_parse(s, &c))
		abort();
	return c;
}

static void test_lists(void)
{
	struct guard_addr addrs[2] = { { .what = "the broker" }, { .what = "gateway x" } };
	struct guard_net nets[1] = { { .dev = "eth0" } };
	struct cidr4 d;
	char why[200] = "";

	(void)!ip4_parse("198.18.0.10", &addrs[0].addr);
	(void)!ip4_parse("198.18.2.1", &addrs[1].addr);
	nets[0].net = C("172.20.1.0/24");
	d = C("10.2.0.0/16");
	CHECK(route_guard_check_lists(&d, addrs, 2, nets, 1, why, sizeof(why)) == 0);
	d = C("0.0.0.0/0");
	CHECK(route_guard_check_lists(&d, addrs, 2, nets, 1, why, sizeof(why)) == -EPERM);
	d = C("0.0.0.0/1");	/* holds none of them: admit.h refuses it, not the guard */
	CHECK(route_guard_check_lists(&d, addrs, 2, nets, 1, why, sizeof(why)) == 0);
	d = C("128.0.0.0/1");
	CHECK(route_guard_check_lists(&d, addrs, 2, nets, 1, why, sizeof(why)) == -EPERM);
	CHECK(strstr(why, "198.18.0.10 (the broker)") != NULL);
	d = C("198.18.2.0/24");
	CHECK(route_guard_check_lists(&d, addrs, 2, nets, 1, why, sizeof(why)) == -EPERM);
	CHECK(strstr(why, "gateway x") != NULL);
	/* the node's network, wider or narrower */
	d = C("172.20.0.0/16");
	CHECK(route_guard_check_lists(&d, addrs, 2, nets, 1, why, sizeof(why)) == -EPERM);
	d = C("172.20.1.128/25");
	CHECK(route_guard_check_lists(&d, addrs, 2, nets, 1, why, sizeof(why)) == -EPERM);
	CHECK(strstr(why, "172.20.1.0/24 on eth0") != NULL);
}

static int sh(const char *cmd)
{
	int rc = system(cmd);

	return rc == 0 ? 0 : -1;
}

/* In a private netns: an address on a veth, loopback, and the agent's own devices
 * (ignored); then what the guard refuses, and routes_add() refusing the same. */
static void test_local_and_routes(void)
{
	struct guard_net nets[64];
	struct cidr4 d;
	char why[200];
	uint32_t b;
	int n;
	bool eth = false, lo = false, agent = false;

	if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0)
		SKIP_TEST("needs root and a private network namespace");
	REQUIRE(sh("ip link set lo up && ip link add gtest0 type veth peer name gtest1 && "
		   "ip addr add 172.31.7.5/24 dev gtest0 && ip link set gtest0 up && "
		   "ip link add sa-vxtest type veth peer name sa-vxtest1 && "
		   "ip addr add 10.99.0.1/16 dev sa-vxtest") == 0);
	n = route_guard_local_nets(nets, 64);
	REQUIRE(n > 0);
	for (int i = 0; i < n; i++) {
		char buf[CIDR4_STRLEN];

		cidr4_format(&nets[i].net, buf);
		eth |= !strcmp(buf, "172.31.7.0/24") && !strcmp(nets[i].dev, "gtest0");
		lo |= !strcmp(buf, "127.0.0.0/8");
		agent |= !strcmp(nets[i].dev, "sa-vxtest");
	}
	CHECK(eth && lo && !agent);
	d = C("172.31.0.0/16");
	CHECK(route_guard_check(&d, NULL, 0, why, sizeof(why)) == -EPERM);
	d = C("127.0.0.0/16");
	CHECK(route_guard_check(&d, NULL, 0, why, sizeof(why)) == -EPERM);
	d = C("10.99.0.0/16");
	CHECK(route_guard_check(&d, NULL, 0, why, sizeof(why)) == 0);
	(void)!ip4_parse("198.18.0.10", &b);
	route_guard_set_brokers(&b, 1);
	d = C("198.18.0.0/16");
	CHECK(route_guard_check(&d, NULL, 0, why, sizeof(why)) == -EPERM);
	CHECK(strstr(why, "the broker") != NULL);
	{
		struct guard_addr x = { .what = "its own gateway" };

		(void)!ip4_parse("203.0.113.9", &x.addr);
		d = C("203.0.113.0/24");
		CHECK(route_guard_check(&d, &x, 1, why, sizeof(why)) == -EPERM);
		CHECK(route_guard_check(&d, NULL, 0, why, sizeof(why)) == 0);
	}
	/* routes_add() asks the guard: the route is not installed */
	{
		struct netlink *nl = netlink_open();

		REQUIRE(nl);
		REQUIRE(routes_init(nl) == 0);
		d = C("0.0.0.0/1");
		CHECK(routes_add(nl, &d, 0, "gtest0", 0, 0) == -EPERM);
		CHECK(sh("! ip route show table 150 2>/dev/null | grep -q 0.0.0.0/1") == 0);
		d = C("10.55.0.0/16");
		CHECK(routes_add(nl, &d, 0, "gtest0", 0, 0) == 0);
		CHECK(sh("ip route show table 150 | grep -q 10.55.0.0/16") == 0);
		routes_fini(nl);
		netlink_close(nl);
	}
	route_guard_set_brokers(NULL, 0);
}

int main(void)
{
	RUN(test_lists);
	RUN(test_local_and_routes);
	return harness_done();
}
