/* The globalnet tc programs (bpf/globalnet.bpf.c) attached to real devices: a TUN device
 * (an L3 device like charon's ipsec0), and a veth between two private network namespaces
 * with real TCP, UDP and ICMP traffic through, across a restart that re-uses the pinned
 * maps. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_tun.h>
#include <linux/pkt_cls.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/globalnet.h"
#include "common/log.h"
#include "common/util.h"
#include "globalnet/gn_nat.h"
#include "tests/unit/gn_pkt.h"
#include "tests/unit/gn_prog.h"
#include "tests/unit/harness.h"


/* ---- real traffic: two network namespaces joined by a veth ---- */

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc)
		fprintf(stderr, "  command failed (%d): %s\n", rc, cmd);
	return rc;
}

/* Checksums computed by the stack, not by the device: the receiver then verifies every
 * checksum the programs rewrote (with offload a veth peer trusts CHECKSUM_PARTIAL). */
static int tx_csum_off(const char *ifname)
{
	struct ethtool_value ev = { .cmd = ETHTOOL_STXCSUM, .data = 0 };
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM, 0), rc;

	if (s < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&ev;
	rc = ioctl(s, SIOCETHTOOL, &ifr) ? -errno : 0;
	close(s);
	return rc;
}

static int wait_fd(int fd, short ev)
{
	struct pollfd p = { .fd = fd, .events = ev };

	return poll(&p, 1, 5000) == 1 ? 0 : -ETIMEDOUT;
}

/* Sends msg on a, expects it on b (5 s deadline). */
static int xfer(int a, int b, const char *msg)
{
	char buf[64];
	ssize_t n;

	if (send(a, msg, strlen(msg), 0) != (ssize_t)strlen(msg))
		return -EIO;
	if (wait_fd(b, POLLIN))
		return -ETIMEDOUT;
	n = recv(b, buf, sizeof(buf), 0);
	return n == (ssize_t)strlen(msg) && !memcmp(buf, msg, (size_t)n) ? 0 : -EIO;
}

/* A 3000-byte UDP datagram each way over a 1500-byte MTU: the stack fragments it before
 * tc, the programs translate every fragment, the peer reassembles. Called in netns A. */
static int udp_big(int fa, int fb)
{
	struct sockaddr_in srv = { .sin_family = AF_INET, .sin_port = htons(7001),
				   .sin_addr.s_addr = htonl(IP4(242, 2, 0, 5)) }, from;
	socklen_t fl = sizeof(from);
	static char msg[3000], buf[4000];
	int us = -1, uc = -1, rc = -EIO;
	ssize_t got;

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (char)('a' + i % 26);
	if (setns(fb, CLONE_NEWNET))
		return -errno;
	us = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (us < 0 || bind(us, (struct sockaddr *)&srv, sizeof(srv)))
		goto out;
	if (setns(fa, CLONE_NEWNET))
		goto out;
	uc = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (uc < 0 || sendto(uc, msg, sizeof(msg), 0, (struct sockaddr *)&srv, sizeof(srv)) < 0)
		goto out;
	if (wait_fd(us, POLLIN))
		goto out;
	got = recvfrom(us, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
	if (got != (ssize_t)sizeof(msg) || memcmp(buf, msg, sizeof(msg)) ||
	    ntohl(from.sin_addr.s_addr) != EIP) {
		fprintf(stderr, "  big UDP: got %zd bytes from %08x\n", got, ntohl(from.sin_addr.s_addr));
		goto out;
	}
	if (sendto(us, msg, sizeof(msg), 0, (struct sockaddr *)&from, fl) < 0 || wait_fd(uc, POLLIN))
		goto out;
	got = recv(uc, buf, sizeof(buf), 0);
	rc = got == (ssize_t)sizeof(msg) && !memcmp(buf, msg, sizeof(msg)) ? 0 : -EIO;
out:
	if (us >= 0)
		close(us);
	if (uc >= 0)
		close(uc);
	return setns(fa, CLONE_NEWNET) ? -errno : rc;
}

/* B connects to A's ingress IP; A's listener (the target, 10.0.0.1) sees B's global
 * address and B's socket is connected to the ingress IP. Called in netns A. */
static int dnat_conn(int fa, int fb)
{
	struct sockaddr_in tgt = { .sin_family = AF_INET, .sin_port = htons(7100),
				   .sin_addr.s_addr = htonl(IP4(10, 0, 0, 1)) };
	struct sockaddr_in ing = { .sin_family = AF_INET, .sin_port = htons(7100),
				   .sin_addr.s_addr = htonl(ING) }, peer;
	socklen_t pl = sizeof(peer);
	int ls = -1, cs = -1, as = -1, rc = -EIO;

	ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&tgt, sizeof(tgt)) || listen(ls, 4))
		goto out;
	if (setns(fb, CLONE_NEWNET))
		goto out;
	cs = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (setns(fa, CLONE_NEWNET) || cs < 0)
		goto out;
	if (connect(cs, (struct sockaddr *)&ing, sizeof(ing)) && errno != EINPROGRESS)
		goto out;
	if (wait_fd(ls, POLLIN) || wait_fd(cs, POLLOUT))
		goto out;
	as = accept(ls, (struct sockaddr *)&peer, &pl);
	if (as < 0 || ntohl(peer.sin_addr.s_addr) != IP4(242, 2, 0, 5)) {
		fprintf(stderr, "  DNAT: accept %d, peer %08x\n", as, ntohl(peer.sin_addr.s_addr));
		goto out;
	}
	if (xfer(cs, as, "to the ingress IP") || xfer(as, cs, "from the target"))
		goto out;
	rc = 0;
out:
	if (as >= 0)
		close(as);
	if (cs >= 0)
		close(cs);
	if (ls >= 0)
		close(ls);
	return rc;
}

static struct gn_nat *netns_nat(const char *pin, int ifindex, int keep)
{
	struct gn_nat_opts o = { .pin_dir = pin, .keep_attached = keep };
	struct cidr4 g = { IP4(242, 1, 0, 0), 16 }, r = { IP4(242, 2, 0, 0), 16 };
	uint32_t eip = EIP;
	struct gn_nat *n = gn_nat_open(&o);

	if (!n)
		return NULL;
	if (gn_nat_set_local(n, &g, 1024, 65535) || gn_nat_set_egress_pool(n, &eip, 1) ||
	    gn_nat_add_remote(n, &r, 2) || gn_nat_add_ingress(n, ING, IP4(10, 0, 0, 1)) ||
	    gn_nat_attach(n, ifindex)) {
		gn_nat_close(n);
		return NULL;
	}
	return n;
}

/* The L3 flavour on a real TUN device (what charon's kernel-libipsec uses): a UDP socket
 * sends through the TUN device, the test reads the translated packet from the device and
 * checks it from scratch, then writes a reply into the device that must reach the socket
 * translated back. */
static void test_tun_device_l3(void)
{
	struct sockaddr_in rem = { .sin_family = AF_INET, .sin_port = htons(53),
				   .sin_addr.s_addr = htonl(REM) };
	struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(5000),
				  .sin_addr.s_addr = htonl(IP4(10, 0, 0, 1)) }, from;
	socklen_t fl = sizeof(from);
	struct ifreq ifr = { 0 };
	unsigned char pkt[2048], l4[64], exp[256];
	char ns[32], path[64];
	int orig = -1, fns = -1, tun = -1, us = -1, found = 0;
	struct gn_nat_opts o = { .dev = GN_DEV_L3 };
	struct cidr4 g = { IP4(242, 1, 0, 0), 16 }, r = { IP4(242, 2, 0, 0), 16 };
	uint32_t eip = EIP;
	struct gn_nat *n = NULL;
	uint64_t deadline = util_now_ns() + 5000000000ull;
	size_t l4n, expl;
	ssize_t got;

	if (!need_root())
		SKIP_TEST("needs root for a network namespace");
	if (access("/dev/net/tun", R_OK | W_OK))
		SKIP_TEST("no /dev/net/tun");
	snprintf(ns, sizeof(ns), "sgn-tt%d", (int)getpid());
	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	orig = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	REQUIRE(orig >= 0);
	if (sh("ip netns add %s", ns)) {
		CHECK(!"netns");
		goto out;
	}
	fns = open(path, O_RDONLY | O_CLOEXEC);
	if (fns < 0 || setns(fns, CLONE_NEWNET)) {
		CHECK(!"enter netns");
		goto out;
	}
	tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "sgntun0");
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	if (tun < 0 || ioctl(tun, TUNSETIFF, &ifr)) {
		CHECK(!"TUNSETIFF");
		goto out;
	}
	if (sh("ip -n %s link set lo up && ip -n %s link set sgntun0 up", ns, ns) ||
	    sh("ip -n %s addr add 10.0.0.1/24 dev sgntun0", ns) ||
	    sh("ip -n %s route add 242.2.0.0/16 dev sgntun0", ns)) {
		CHECK(!"tun setup");
		goto out;
	}
	n = gn_nat_open(&o);
	if (!n || gn_nat_set_local(n, &g, 1024, 65535) || gn_nat_set_egress_pool(n, &eip, 1) ||
	    gn_nat_add_remote(n, &r, 2) ||
	    gn_nat_attach(n, (int)if_nametoindex("sgntun0"))) {
		CHECK(!"attach to the TUN device");
		goto out;
	}
	us = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (us < 0 || bind(us, (struct sockaddr *)&me, sizeof(me)) ||
	    sendto(us, "over tun", 8, 0, (struct sockaddr *)&rem, sizeof(rem)) != 8) {
		CHECK(!"send");
		goto out;
	}
	/* Read what the device carries (skipping e.g. IPv6 chatter) until our datagram. */
	l4n = t_udp_l4(l4, 5000, 53, "over tun");
	expl = t_ip(exp, 0, T_UDP, EIP, REM, l4, l4n, 0);
	while (!found && util_now_ns() < deadline) {
		if (wait_fd(tun, POLLIN))
			break;
		got = read(tun, pkt, sizeof(pkt));
		if (got < 20 || pkt[0] >> 4 != 4 || pkt[9] != T_UDP)
			continue;
		found = 1;
		CHECK_EQ_INT(got, expl);
		/* The IPv4 id and TTL come from the stack: compare the rest. */
		CHECK(t_csums_ok(pkt, (size_t)got, 0));
		CHECK_EQ_INT(t_get32(pkt + 12), EIP);
		CHECK_EQ_INT(t_get32(pkt + 16), REM);
		CHECK((size_t)got == expl && memcmp(pkt + 20, exp + 20, expl - 20) == 0);
	}
	CHECK(found);
	/* The answer comes in through the device. */
	l4n = t_udp_l4(l4, 53, 5000, "answer");
	expl = t_ip(pkt, 0, T_UDP, REM, EIP, l4, l4n, 0);
	CHECK(write(tun, pkt, expl) == (ssize_t)expl);
	if (wait_fd(us, POLLIN) == 0) {
		char buf[64];

		got = recvfrom(us, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		CHECK(got == 6 && !memcmp(buf, "answer", 6));
		CHECK_EQ_INT(ntohl(from.sin_addr.s_addr), REM);
	} else {
		CHECK(!"answer received");
	}
	CHECK_EQ_INT(gn_nat_ct_count(n), 2);
out:
	if (us >= 0)
		close(us);
	gn_nat_close(n);
	if (tun >= 0)
		close(tun);
	if (orig >= 0 && setns(orig, CLONE_NEWNET))
		CHECK(!"back to the original netns");
	if (fns >= 0)
		close(fns);
	if (orig >= 0)
		close(orig);
	(void)sh("ip netns del %s 2>/dev/null; true", ns);
}

static void test_netns_veth_restart(void)
{
	char a[32], b[32], pin[64], path[96];
	struct sockaddr_in srv = { .sin_family = AF_INET, .sin_port = htons(7000),
				   .sin_addr.s_addr = htonl(IP4(242, 2, 0, 5)) };
	struct sockaddr_in peer;
	socklen_t plen = sizeof(peer);
	int fa = -1, fb = -1, orig = -1, ls = -1, cs = -1, as = -1, ifindex, cnt;
	struct gn_nat *n = NULL;
	uint64_t st[GN_STAT_MAX];

	if (!need_root())
		SKIP_TEST("needs root for network namespaces");
	snprintf(a, sizeof(a), "sgn-ta%d", (int)getpid());
	snprintf(b, sizeof(b), "sgn-tb%d", (int)getpid());
	snprintf(pin, sizeof(pin), "/sys/fs/bpf/sgn-test-%d", (int)getpid());
	/* A private mount namespace with its own bpffs: pins never reach the host's. */
	REQUIRE(unshare(CLONE_NEWNS) == 0);
	REQUIRE(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
	REQUIRE(mount("bpf", "/sys/fs/bpf", "bpf", 0, NULL) == 0);
	orig = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	REQUIRE(orig >= 0);

	if (sh("ip netns add %s && ip netns add %s", a, b) ||
	    sh("ip -n %s link add a0 type veth peer name b0 netns %s", a, b) ||
	    sh("ip -n %s link set a0 address 02:00:00:00:00:0a", a) ||
	    sh("ip -n %s addr add 10.0.0.1/24 dev a0", a) ||
	    sh("ip -n %s link set lo up && ip -n %s link set a0 up", a, a) ||
	    sh("ip -n %s route add 242.2.0.0/16 dev a0", a) ||
	    sh("ip -n %s addr add 242.2.0.5/16 dev b0", b) ||
	    sh("ip -n %s link set lo up && ip -n %s link set b0 up", b, b) ||
	    sh("ip -n %s route add 242.1.0.0/16 dev b0", b) ||
	    sh("ip -n %s neigh replace 242.1.0.1 lladdr 02:00:00:00:00:0a dev b0 nud permanent", b) ||
	    sh("ip -n %s neigh replace 242.1.0.100 lladdr 02:00:00:00:00:0a dev b0 nud permanent", b)) {
		CHECK(!"netns setup");
		goto out;
	}
	snprintf(path, sizeof(path), "/run/netns/%s", a);
	fa = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/run/netns/%s", b);
	fb = open(path, O_RDONLY | O_CLOEXEC);
	if (fa < 0 || fb < 0 || setns(fb, CLONE_NEWNET)) {
		CHECK(!"open netns");
		goto out;
	}
	CHECK(tx_csum_off("b0") == 0);
	ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&srv, sizeof(srv)) || listen(ls, 4)) {
		CHECK(!"listen in B");
		goto out;
	}
	if (setns(fa, CLONE_NEWNET))
		goto out;
	CHECK(tx_csum_off("a0") == 0);
	ifindex = (int)if_nametoindex("a0");
	n = netns_nat(pin, ifindex, 1);
	if (!n) {
		CHECK(!"globalnet attach in A");
		goto out;
	}
	cs = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (cs < 0 || (connect(cs, (struct sockaddr *)&srv, sizeof(srv)) && errno != EINPROGRESS)) {
		CHECK(!"connect");
		goto out;
	}
	CHECK(wait_fd(cs, POLLOUT) == 0);
	CHECK(wait_fd(ls, POLLIN) == 0);
	as = accept(ls, (struct sockaddr *)&peer, &plen);
	if (as < 0) {
		CHECK(!"accept");
		goto out;
	}
	/* The listener sees the egress IP, not the pod's 10.0.0.1. */
	CHECK_EQ_INT(ntohl(peer.sin_addr.s_addr), EIP);
	CHECK_EQ_INT(xfer(cs, as, "hello from A"), 0);
	CHECK_EQ_INT(xfer(as, cs, "hello from B"), 0);
	CHECK_EQ_INT(sh("ip netns exec %s ping -c 1 -W 3 242.2.0.5 >/dev/null", a), 0);
	CHECK_EQ_INT(udp_big(fa, fb), 0);
	CHECK_EQ_INT(dnat_conn(fa, fb), 0);
	CHECK(gn_nat_read_stats(n, st, GN_STAT_MAX) == 0);
	CHECK(st[GN_STAT_EGRESS_XLATE] >= 8);
	CHECK(st[GN_STAT_INGRESS_XLATE] >= 7);
	CHECK_EQ_INT(st[GN_STAT_NEW_SNAT], 3);	/* TCP connection, ping, big UDP */
	CHECK_EQ_INT(st[GN_STAT_NEW_DNAT], 1);	/* the connection to the ingress IP */
	CHECK_EQ_INT(st[GN_STAT_DROP_FRAGMENT], 0);
	cnt = gn_nat_ct_count(n);
	CHECK_EQ_INT(cnt, 8);

	/* Restart 1, the agent's way: it exits leaving its filters attached (they go on
	 * translating while it is away), the new one loads, re-uses the pinned conntrack
	 * map, fills its configuration and replaces the filters in place. */
	gn_nat_close(n);
	n = NULL;
	CHECK_EQ_INT(xfer(cs, as, "while the agent is away"), 0);
	CHECK_EQ_INT(xfer(as, cs, "still there"), 0);
	n = netns_nat(pin, ifindex, 0);
	if (!n) {
		CHECK(!"re-attach");
		goto out;
	}
	CHECK_EQ_INT(gn_nat_ct_count(n), cnt);
	CHECK_EQ_INT(xfer(cs, as, "after restart 1 A"), 0);
	CHECK_EQ_INT(xfer(as, cs, "after restart 1 B"), 0);

	/* Restart 2: filters removed (no translation in between), then attached again: the
	 * pinned conntrack map alone brings the established connection back. */
	gn_nat_close(n);
	n = netns_nat(pin, ifindex, 0);
	if (!n) {
		CHECK(!"re-attach");
		goto out;
	}
	CHECK_EQ_INT(gn_nat_ct_count(n), cnt);
	CHECK_EQ_INT(xfer(cs, as, "after restart A"), 0);
	CHECK_EQ_INT(xfer(as, cs, "after restart B"), 0);
	CHECK(gn_nat_read_stats(n, st, GN_STAT_MAX) == 0);
	CHECK_EQ_INT(st[GN_STAT_NEW_SNAT], 3);	/* pinned counters, and no new flow */
	CHECK_EQ_INT(gn_nat_ct_count(n), cnt);

out:
	if (cs >= 0)
		close(cs);
	if (as >= 0)
		close(as);
	if (ls >= 0)
		close(ls);
	gn_nat_close(n);
	CHECK(gn_nat_unpin(pin) == 0);
	if (orig >= 0 && setns(orig, CLONE_NEWNET))
		CHECK(!"back to the original netns");
	if (fa >= 0)
		close(fa);
	if (fb >= 0)
		close(fb);
	if (orig >= 0)
		close(orig);
	(void)sh("ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null; true", a, b);
	umount2("/sys/fs/bpf", MNT_DETACH);
}

int main(void)
{
	log_set_level(LOG_LVL_WARN);
	log_route_libbpf();
	RUN(test_tun_device_l3);
	RUN(test_netns_veth_restart);	/* last: it moves the process into a mount namespace */
	return harness_done();
}
