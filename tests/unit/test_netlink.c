/* agent/routing/netlink.c against the real kernel, in a private network namespace; the results are
 * read back with iproute2, the way an operator would check them. */
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <unistd.h>

#include "agent/routing/netlink.h"
#include "tests/unit/harness.h"

static int sh_contains(const char *cmd, const char *needle)
{
	char buf[8192];
	FILE *f = popen(cmd, "r");
	size_t n;

	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	pclose(f);
	if (!strstr(buf, needle))
		fprintf(stderr, "  '%s' has no '%s':\n%s", cmd, needle, buf);
	return strstr(buf, needle) != NULL;
}

static void test_vxlan_routes_neigh_rules(void)
{
	const uint8_t mac[6] = { 0x02, 0x5a, 0, 0, 0, 1 }, rmac[6] = { 0x02, 0x5a, 0, 0, 0, 2 };
	struct netlink *nl;
	struct netlink_vxlan vx = { .name = "vx-test", .vni = 42, .local = 0xc0000201,
				    .port = 4790, .mtu = 1400, .mac = mac };
	struct netlink_route r = { .gw = 0xa9fe0001, .dev = "vx-test", .src = 0xc0000201,
				   .table = 100, .onlink = 1, .advmss = 1300 };
	uint8_t got[6];
	uint32_t src = 0, a = 0;
	char ifname[IFNAMSIZ];
	struct cidr4 c;

	if (geteuid())
		SKIP_TEST("needs root");
	REQUIRE(unshare(CLONE_NEWNET) == 0);
	REQUIRE(system("ip link set lo up && ip addr add 192.0.2.1/32 dev lo") == 0);
	nl = netlink_open();
	REQUIRE(nl != NULL);

	CHECK_EQ_INT(netlink_vxlan_ensure(nl, &vx), 0);
	CHECK_EQ_INT(netlink_vxlan_ensure(nl, &vx), 0);	/* idempotent */
	CHECK(sh_contains("ip -d link show vx-test", "vxlan id 42"));
	CHECK(sh_contains("ip -d link show vx-test", "dstport 4790"));
	CHECK(sh_contains("ip -d link show vx-test", "nolearning"));
	CHECK_EQ_INT(netlink_link_mtu("vx-test"), 1400);
	CHECK(netlink_link_mac("vx-test", got) == 0 && memcmp(got, mac, 6) == 0);

	CHECK_EQ_INT(netlink_addr_replace(nl, "vx-test", 0xa9fe0002, 32), 0);
	CHECK_EQ_INT(netlink_addr_replace(nl, "vx-test", 0xa9fe0002, 32), 0);
	REQUIRE(cidr4_parse("10.9.0.0/16", &r.dst) == 0);
	CHECK_EQ_INT(netlink_route_replace(nl, &r), 0);
	CHECK_EQ_INT(netlink_route_replace(nl, &r), 0);
	CHECK(sh_contains("ip route show table 100",
			  "10.9.0.0/16 via 169.254.0.1 dev vx-test proto static src 192.0.2.1 onlink advmss 1300"));
	CHECK_EQ_INT(netlink_neigh_replace(nl, "vx-test", 0xa9fe0001, rmac), 0);
	CHECK(sh_contains("ip neigh show dev vx-test", "169.254.0.1 lladdr 02:5a:00:00:00:02 PERMANENT"));
	CHECK_EQ_INT(netlink_fdb_replace(nl, "vx-test", rmac, 0xc6120201), 0);
	CHECK(sh_contains("bridge fdb show dev vx-test", "02:5a:00:00:00:02 dst 198.18.2.1 self permanent"));
	CHECK_EQ_INT(netlink_rule_ensure(nl, 100, 100), 0);
	CHECK_EQ_INT(netlink_rule_ensure(nl, 100, 100), 0);
	CHECK(sh_contains("ip rule | grep -c 'lookup 100'", "1\n"));

	CHECK_EQ_INT(netlink_source_for(0x0b000001, &src), -ENETUNREACH);
	CHECK(netlink_source_for(0x0a090101, &src) == 0 && src == 0xc0000201);
	REQUIRE(cidr4_parse("192.0.2.0/24", &c) == 0);
	CHECK(netlink_local_addr_in(&c, &a, ifname) == 0 && a == 0xc0000201 && !strcmp(ifname, "lo"));
	REQUIRE(cidr4_parse("10.0.0.0/8", &c) == 0);
	CHECK(netlink_local_addr_in(&c, &a, NULL) == -ENOENT);

	CHECK_EQ_INT(netlink_route_del(nl, &r), 0);
	CHECK_EQ_INT(netlink_route_del(nl, &r), -ESRCH);
	CHECK_EQ_INT(netlink_neigh_del(nl, "vx-test", 0xa9fe0001), 0);
	CHECK_EQ_INT(netlink_fdb_del(nl, "vx-test", rmac, 0xc6120201), 0);
	CHECK_EQ_INT(netlink_rule_del(nl, 100, 100), 0);
	CHECK_EQ_INT(netlink_link_del(nl, "vx-test"), 0);
	CHECK_EQ_INT(netlink_link_del(nl, "vx-test"), -ENODEV);
	CHECK(netlink_ifindex("vx-test") == -ENODEV);
	netlink_close(nl);
}

static void test_mac(void)
{
	uint8_t m[6];
	char s[18];

	CHECK(netlink_parse_mac("02:aa:bb:cc:dd:ee", m) == 0);
	netlink_format_mac(m, s);
	CHECK_STR(s, "02:aa:bb:cc:dd:ee");
	CHECK(netlink_parse_mac("02:aa:bb:cc:dd", m) == -EINVAL);
	CHECK(netlink_parse_mac("02:aa:bb:cc:dd:ee:ff", m) == -EINVAL);
	CHECK(netlink_parse_mac("zz:aa:bb:cc:dd:ee", m) == -EINVAL);
}

int main(void)
{
	RUN(test_mac);
	RUN(test_vxlan_routes_neigh_rules);
	return harness_done();
}
