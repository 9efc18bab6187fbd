/* agent/routing/podcidr.c against the real kernel: each test builds one CNI's shape with
 * iproute2 in a fresh private network namespace and asks for the node's pod CIDR slice. */
#include <sched.h>
#include <stdio.h>
#include <unistd.h>

#include "agent/routing/podcidr.h"
#include "tests/unit/harness.h"

/* A fresh namespace with lo and a node network (eth0, 192.0.2.13/24, default route).
 * 1: skip (not root), -1: failed. Devices are veths, bridges: this kernel has no dummy. */
static int fresh_node(void)
{
	if (geteuid())
		return 1;
	if (unshare(CLONE_NEWNET))
		return -1;
	return system("ip link set lo up && ip link add eth0 type veth peer name eth0-p &&"
		      " ip link set eth0 up && ip link set eth0-p up &&"
		      " ip addr add 192.0.2.13/24 dev eth0 && ip route add default via 192.0.2.1") ? -1 : 0;
}

static int sh(const char *cmd)
{
	int rc = system(cmd);

	if (rc)
		fprintf(stderr, "  '%s' failed\n", cmd);
	return rc;
}

/* Detects with cluster CIDR 10.1.0.0/16; "" on failure, the slice otherwise. */
static const char *detect(int *rc, char *how)
{
	static char buf[CIDR4_STRLEN];
	struct cidr4 cl, out;

	if (cidr4_parse("10.1.0.0/16", &cl))
		return "";
	buf[0] = '\0';
	*rc = podcidr_detect(&cl, 1, &out, how);
	if (!*rc)
		cidr4_format(&out, buf);
	fprintf(stderr, "  detect: rc %d, %s (%s)\n", *rc, buf, how);
	return buf;
}

#define NODE_OR_SKIP() do { \
	int _r = fresh_node(); \
	if (_r > 0) \
		SKIP_TEST("needs root"); \
	REQUIRE(_r == 0); \
} while (0)

/* flannel, kubenet, the bridge plugin: cni0 holds the slice's first address. */
static void test_bridge(void)
{
	char how[PODCIDR_HOW_MAX];
	int rc;

	NODE_OR_SKIP();
	REQUIRE(!sh("ip link add cni0 type bridge && ip addr add 10.1.3.1/24 dev cni0 &&"
		    " ip link add veth1 type veth peer name veth1p && ip link set veth1 master cni0 &&"
		    " ip link set veth1 up && ip link set veth1p up && ip link set cni0 up &&"
		    " ip route add 10.1.1.0/24 via 192.0.2.11 && ip route add 10.1.2.0/24 via 192.0.2.12"));
	CHECK_STR(detect(&rc, how), "10.1.3.0/24");
	CHECK(strstr(how, "cni0") != NULL);
}

/* The lab (and any CNI that routes /32s to veths): the node's 10.1.3.1/32 on each veth,
 * a /32 per pod, the other nodes' /24s through them. */
static void test_veth_32s(void)
{
	char how[PODCIDR_HOW_MAX];
	int rc;

	NODE_OR_SKIP();
	REQUIRE(!sh("for k in 1 2; do ip link add p$k type veth peer name e$k &&"
		    " ip addr add 10.1.3.1/32 dev p$k && ip link set p$k up && ip link set e$k up &&"
		    " ip route add 10.1.3.1$k/32 dev p$k || exit 1; done &&"
		    " ip route add 10.1.1.0/24 via 192.0.2.11 && ip route add 10.1.2.0/24 via 192.0.2.12"));
	CHECK_STR(detect(&rc, how), "10.1.3.0/24");
	CHECK(strstr(how, "/24 as the other nodes'") != NULL);
}

/* The same on a cluster of one node: nothing tells the slice's size; the pods it has. */
static void test_veth_32s_alone(void)
{
	char how[PODCIDR_HOW_MAX];
	int rc;

	NODE_OR_SKIP();
	REQUIRE(!sh("ip link add p1 type veth peer name e1 && ip addr add 10.1.3.1/32 dev p1 &&"
		    " ip link set p1 up && ip link set e1 up && ip route add 10.1.3.11/32 dev p1"));
	CHECK_STR(detect(&rc, how), "10.1.3.0/28");
	CHECK(strstr(how, "smallest prefix") != NULL);
}

/* Calico: no address on the veths, a blackhole for the node's block, pods' /32s, other
 * blocks through the other nodes. */
static void test_calico_blackhole(void)
{
	char how[PODCIDR_HOW_MAX];
	int rc;

	NODE_OR_SKIP();
	REQUIRE(!sh("ip route add blackhole 10.1.3.64/26 proto 12 &&"
		    " ip link add cali1 type veth peer name e1 && ip link set cali1 up && ip link set e1 up &&"
		    " ip route add 10.1.3.70/32 dev cali1 scope link &&"
		    " ip route add 10.1.3.0/26 via 192.0.2.11 proto 12 &&"
		    " ip route add 10.1.9.128/26 via 192.0.2.12 proto 12"));
	CHECK_STR(detect(&rc, how), "10.1.3.64/26");
	CHECK(strstr(how, "blackhole") != NULL);
}

/* Cilium: cilium_host holds a /32; every slice, its own too, is routed through it. */
static void test_cilium_host(void)
{
	char how[PODCIDR_HOW_MAX];
	int rc;

	NODE_OR_SKIP();
	REQUIRE(!sh("ip link add cilium_host type veth peer name cilium_host-p &&"
		    " ip link set cilium_host up && ip link set cilium_host-p up &&"
		    " ip addr add 10.1.3.197/32 dev cilium_host &&"
		    " ip route add 10.1.3.0/24 via 10.1.3.197 dev cilium_host src 10.1.3.197 &&"
		    " ip route add 10.1.1.0/24 via 10.1.3.197 dev cilium_host src 10.1.3.197 mtu 1450"));
	CHECK_STR(detect(&rc, how), "10.1.3.0/24");
	CHECK(strstr(how, "cilium_host") != NULL);
}

/* flannel before the node's first pod: no cni0 yet, flannel.1 holds the slice's network
 * address, the other slices go through it. */
static void test_flannel_no_pod_yet(void)
{
	char how[PODCIDR_HOW_MAX];
	int rc;

	NODE_OR_SKIP();
	REQUIRE(!sh("ip link add flannel.1 type veth peer name flannel.1-p &&"
		    " ip link set flannel.1 up && ip link set flannel.1-p up &&"
		    " ip addr add 10.1.3.0/32 dev flannel.1 &&"
		    " ip route add 10.1.1.0/24 via 10.1.1.0 dev flannel.1 onlink &&"
		    " ip route add 10.1.2.0/24 via 10.1.2.0 dev flannel.1 onlink"));
	CHECK_STR(detect(&rc, how), "10.1.3.0/24");
}

/* Nothing of the CNI yet: not found, and what is not the CNI's (an address on lo, the
 * whole cluster CIDR on one device, only the node's own address) makes no slice. */
static void test_not_found(void)
{
	char how[PODCIDR_HOW_MAX];
	int rc;

	NODE_OR_SKIP();
	CHECK_STR(detect(&rc, how), "");
	CHECK_EQ_INT(rc, -ENOENT);
	/* the ipsec driver's anchor on lo */
	REQUIRE(!sh("ip addr add 10.1.0.0/32 dev lo"));
	CHECK_STR(detect(&rc, how), "");
	CHECK_EQ_INT(rc, -ENOENT);
	/* one L2 network for the whole cluster (weave): no per-node slice */
	REQUIRE(!sh("ip link add weave type veth peer name weave-p &&"
		    " ip link set weave up && ip link set weave-p up &&"
		    " ip addr add 10.1.0.5/16 dev weave"));
	CHECK_STR(detect(&rc, how), "");
	CHECK_EQ_INT(rc, -EAGAIN);
	/* routes outside the cluster CIDR are not looked at */
	CHECK(!sh("ip route add 10.2.3.0/24 dev weave && ip route add 10.2.4.9/32 dev weave"));
	CHECK_STR(detect(&rc, how), "");
	CHECK_EQ_INT(rc, -EAGAIN);
}

/* Another node's slice inside what would be ours: no slice that covers it. */
static void test_never_covers_another_node(void)
{
	char how[PODCIDR_HOW_MAX];
	int rc;

	NODE_OR_SKIP();
	/* a bridge /23 that holds another node's /24: not taken; the /24 of the others is */
	REQUIRE(!sh("ip link add cni0 type veth peer name cni0-p &&"
		    " ip link set cni0 up && ip link set cni0-p up &&"
		    " ip addr add 10.1.2.1/23 dev cni0 && ip route add 10.1.3.0/24 via 192.0.2.11 &&"
		    " ip route add 10.1.2.7/32 dev cni0"));
	CHECK_STR(detect(&rc, how), "10.1.2.0/24");
	/* pods on both sides of another node's slice: nothing that holds them all is ours */
	REQUIRE(!sh("ip route add 10.1.4.9/32 dev cni0"));
	CHECK_STR(detect(&rc, how), "");
	CHECK_EQ_INT(rc, -EAGAIN);
	CHECK(strstr(how, "other nodes") != NULL);
}

/* Two cluster CIDRs: the slice comes from the one the node's pods are in. */
static void test_second_cluster_cidr(void)
{
	char how[PODCIDR_HOW_MAX], buf[CIDR4_STRLEN];
	struct cidr4 cl[2], out;

	NODE_OR_SKIP();
	REQUIRE(!cidr4_parse("10.1.0.0/16", &cl[0]) && !cidr4_parse("172.31.0.0/16", &cl[1]));
	REQUIRE(!sh("ip link add cni0 type veth peer name cni0-p &&"
		    " ip link set cni0 up && ip link set cni0-p up &&"
		    " ip addr add 172.31.7.1/24 dev cni0"));
	REQUIRE(podcidr_detect(cl, 2, &out, how) == 0);
	cidr4_format(&out, buf);
	CHECK_STR(buf, "172.31.7.0/24");
}

int main(void)
{
	RUN(test_bridge);
	RUN(test_veth_32s);
	RUN(test_veth_32s_alone);
	RUN(test_calico_blackhole);
	RUN(test_cilium_host);
	RUN(test_flannel_no_pod_yet);
	RUN(test_not_found);
	RUN(test_never_covers_another_node);
	RUN(test_second_cluster_cidr);
	return harness_done();
}
