/* Runs the globalnet tc programs (bpf/globalnet.bpf.c) in the kernel through BPF_PROG_RUN
 * on crafted packets and compares every output byte with a packet built independently
 * (tests/unit/gn_pkt.h, checksums from scratch); checks conntrack map state and counters.
 * test_globalnet_attach.c attaches them to real devices. */
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


static void t_tcp(struct t *t, int l3)
{
	unsigned char l4[128], in[256], exp[256];
	size_t n, inl, expl;
	struct gn_ct_entry e;

	OPEN_OR_SKIP(t, l3, 0);
	/* SYN with an odd-length payload out: source becomes the egress IP, port kept. */
	n = t_tcp_l4(l4, 40000, 80, 0x02, "abc");
	inl = t_ip(in, t->l2, T_TCP, POD1, REM, l4, n, 0);
	expl = t_ip(exp, t->l2, T_TCP, EIP, REM, l4, n, 0);
	XLATE(t, t->eg, in, inl, exp, expl);
	REQUIRE(ct_get(t, GN_DIR_EGRESS, T_TCP, POD1, REM, 40000, 80, &e) == 0);
	CHECK_EQ_INT(ntohl(e.addr), EIP);
	CHECK_EQ_INT(ntohs(e.port), 40000);
	CHECK_EQ_INT(e.kind, GN_CT_SNAT);
	CHECK_EQ_INT(e.orig, 1);
	REQUIRE(ct_get(t, GN_DIR_INGRESS, T_TCP, REM, EIP, 80, 40000, &e) == 0);
	CHECK_EQ_INT(ntohl(e.addr), POD1);
	CHECK_EQ_INT(e.seen, 0);

	/* SYN-ACK back: destination restored. */
	n = t_tcp_l4(l4, 80, 40000, 0x12, "hello!");
	inl = t_ip(in, t->l2, T_TCP, REM, EIP, l4, n, 0);
	expl = t_ip(exp, t->l2, T_TCP, REM, POD1, l4, n, 0);
	XLATE(t, t->in, in, inl, exp, expl);
	REQUIRE(ct_get(t, GN_DIR_INGRESS, T_TCP, REM, EIP, 80, 40000, &e) == 0);
	CHECK_EQ_INT(e.seen, 1);
	CHECK(e.last_seen_ns > 0);
	CHECK_EQ_INT(gn_nat_ct_count(t->n), 2);
	CHECK_EQ_INT(stat(t, GN_STAT_EGRESS_XLATE), 1);
	CHECK_EQ_INT(stat(t, GN_STAT_INGRESS_XLATE), 1);
	CHECK_EQ_INT(stat(t, GN_STAT_NEW_SNAT), 1);

	/* FIN marks the entry closing. */
	n = t_tcp_l4(l4, 40000, 80, 0x11, NULL);
	inl = t_ip(in, t->l2, T_TCP, POD1, REM, l4, n, 0);
	expl = t_ip(exp, t->l2, T_TCP, EIP, REM, l4, n, 0);
	XLATE(t, t->eg, in, inl, exp, expl);
	REQUIRE(ct_get(t, GN_DIR_EGRESS, T_TCP, POD1, REM, 40000, 80, &e) == 0);
	CHECK_EQ_INT(e.fin, 1);
	CHECK_EQ_INT(gn_nat_ct_count(t->n), 2);
	gn_nat_close(t->n);
}

static void test_tcp_snat_reply(void)
{
	struct t t;

	t_tcp(&t, 0);
}

static void test_l3_mode_tcp(void)
{
	struct t t;

	t_tcp(&t, 1);
}

static void test_udp(void)
{
	unsigned char l4[128], in[256], exp[256];
	size_t n, inl, expl;
	struct t t;

	OPEN_OR_SKIP(&t, 0, 0);
	n = t_udp_l4(l4, 5353, 53, "query");
	inl = t_ip(in, 1, T_UDP, POD1, REM, l4, n, 0);
	expl = t_ip(exp, 1, T_UDP, EIP, REM, l4, n, 0);
	XLATE(&t, t.eg, in, inl, exp, expl);
	n = t_udp_l4(l4, 53, 5353, "answer");
	inl = t_ip(in, 1, T_UDP, REM, EIP, l4, n, 0);
	expl = t_ip(exp, 1, T_UDP, REM, POD1, l4, n, 0);
	XLATE(&t, t.in, in, inl, exp, expl);

	/* A UDP datagram without checksum keeps none. */
	n = t_udp_l4(l4, 5354, 53, "q2");
	inl = t_ip(in, 1, T_UDP, POD1, REM, l4, n, T_F_NOCSUM);
	expl = t_ip(exp, 1, T_UDP, EIP, REM, l4, n, T_F_NOCSUM);
	XLATE(&t, t.eg, in, inl, exp, expl);
	CHECK_EQ_INT(gn_nat_ct_count(t.n), 4);
	gn_nat_close(t.n);
}

static void test_l3_mode_udp(void)
{
	unsigned char l4[128], in[256], exp[256];
	size_t n, inl, expl;
	struct t t;

	OPEN_OR_SKIP(&t, 1, 0);
	n = t_udp_l4(l4, 7000, 7001, "bare ip");
	inl = t_ip(in, 0, T_UDP, POD1, REM, l4, n, 0);
	expl = t_ip(exp, 0, T_UDP, EIP, REM, l4, n, 0);
	XLATE(&t, t.eg, in, inl, exp, expl);
	n = t_udp_l4(l4, 7001, 7000, "reply");
	inl = t_ip(in, 0, T_UDP, REM, EIP, l4, n, 0);
	expl = t_ip(exp, 0, T_UDP, REM, POD1, l4, n, 0);
	XLATE(&t, t.in, in, inl, exp, expl);
	gn_nat_close(t.n);
}

/* An XFRM interface (the kernel data path's tunnel device): what is sent through it
 * starts at the IP header, what it received after decapsulation carries the underlay's
 * Ethernet header in front. */
static void test_xfrm_mode(void)
{
	unsigned char l4[128], in[256], exp[256], out[512];
	size_t n, inl, expl, outl;
	struct t t;

	OPEN_OR_SKIP(&t, GN_DEV_XFRM, 0);
	n = t_tcp_l4(l4, 41000, 443, 0x02, "syn");
	t.l2 = 0;
	inl = t_ip(in, 0, T_TCP, POD1, REM, l4, n, 0);
	expl = t_ip(exp, 0, T_TCP, EIP, REM, l4, n, 0);
	XLATE(&t, t.eg, in, inl, exp, expl);
	n = t_tcp_l4(l4, 443, 41000, 0x12, "syn-ack");
	t.l2 = 1;
	inl = t_ip(in, 1, T_TCP, REM, EIP, l4, n, 0);
	expl = t_ip(exp, 1, T_TCP, REM, POD1, l4, n, 0);
	XLATE(&t, t.in, in, inl, exp, expl);
	/* a global ingress IP, UDP */
	n = t_udp_l4(l4, 5000, 8080, "to the service");
	inl = t_ip(in, 1, T_UDP, REM, ING, l4, n, 0);
	expl = t_ip(exp, 1, T_UDP, REM, SVC, l4, n, 0);
	XLATE(&t, t.in, in, inl, exp, expl);
	/* the same packet without the Ethernet header is not what ingress sees there: it is
	 * left alone (its first bytes do not read as an IPv4 ethertype) */
	inl = t_ip(in, 0, T_UDP, REM, ING, l4, n, 0);
	CHECK_EQ_INT(run(t.in, in, inl, out, &outl), TC_ACT_OK);
	CHECK_EQ_INT(outl, inl);
	CHECK_EQ_INT(diff_at(out, in, inl), -1);
	CHECK_EQ_INT(stat(&t, GN_STAT_INGRESS_XLATE), 2);
	gn_nat_close(t.n);
}

static void test_icmp_echo(void)
{
	unsigned char l4[128], in[256], exp[256];
	size_t n, inl, expl;
	struct gn_ct_entry e;
	struct t t;

	OPEN_OR_SKIP(&t, 0, 0);
	n = t_echo_l4(l4, 8, 0x1234, 1, "ping-data");
	inl = t_ip(in, 1, T_ICMP, POD1, REM, l4, n, 0);
	expl = t_ip(exp, 1, T_ICMP, EIP, REM, l4, n, 0);
	XLATE(&t, t.eg, in, inl, exp, expl);
	REQUIRE(ct_get(&t, GN_DIR_INGRESS, T_ICMP, REM, EIP, 0, 0x1234, &e) == 0);
	n = t_echo_l4(l4, 0, 0x1234, 1, "ping-data");
	inl = t_ip(in, 1, T_ICMP, REM, EIP, l4, n, 0);
	expl = t_ip(exp, 1, T_ICMP, REM, POD1, l4, n, 0);
	XLATE(&t, t.in, in, inl, exp, expl);

	/* A second pinger with the same identifier gets another one; its reply maps back. */
	n = t_echo_l4(l4, 8, 0x1234, 7, "x");
	inl = t_ip(in, 1, T_ICMP, POD2, REM, l4, n, 0);
	{
		unsigned char o[512];
		size_t ol;
		uint16_t id2;

		REQUIRE(run(t.eg, in, inl, o, &ol) == TC_ACT_OK);
		CHECK(t_csums_ok(o, ol, 1));
		id2 = t_get16(o + 14 + 20 + 4);
		CHECK(id2 != 0x1234);
		CHECK_EQ_INT(t_get32(o + 14 + 12), EIP);
		n = t_echo_l4(l4, 0, id2, 7, "x");
		inl = t_ip(in, 1, T_ICMP, REM, EIP, l4, n, 0);
		n = t_echo_l4(l4, 0, 0x1234, 7, "x");
		expl = t_ip(exp, 1, T_ICMP, REM, POD2, l4, n, 0);
		XLATE(&t, t.in, in, inl, exp, expl);

		/* Time exceeded quoting the second request: the quoted identifier and the
		 * quoted ICMP checksum go back to the pod's. */
		{
			unsigned char q[128], q2[128];
			size_t ql;

			n = t_echo_l4(l4, 8, id2, 7, "x");
			ql = t_ip(q, 0, T_ICMP, EIP, REM, l4, n, 0);
			n = t_echo_l4(l4, 8, 0x1234, 7, "x");
			(void)t_ip(q2, 0, T_ICMP, POD2, REM, l4, n, 0);
			n = t_err_l4(l4, 11, 0, 0, q, ql);
			inl = t_ip(in, 1, T_ICMP, ROUTER, EIP, l4, n, 0);
			n = t_err_l4(l4, 11, 0, 0, q2, ql);
			expl = t_ip(exp, 1, T_ICMP, ROUTER, POD2, l4, n, 0);
			XLATE(&t, t.in, in, inl, exp, expl);
		}
	}
	/* An echo reply nobody asked for is dropped. */
	n = t_echo_l4(l4, 0, 0x4321, 1, NULL);
	inl = t_ip(in, 1, T_ICMP, REM, EIP, l4, n, 0);
	{
		unsigned char o[512];
		size_t ol;

		CHECK_EQ_INT(run(t.in, in, inl, o, &ol), TC_ACT_SHOT);
		CHECK_EQ_INT(stat(&t, GN_STAT_DROP_NO_FLOW), 1);
	}
	gn_nat_close(t.n);
}

/* ICMP fragmentation-needed coming back for an egress UDP flow: outer destination and the
 * quoted source become the pod's again, the MTU field stays, every checksum is right. */
static void test_icmp_frag_needed(void)
{
	unsigned char l4[128], in[256], exp[256], q[128], q2[128];
	size_t n, ql, inl, expl;
	struct t t;

	OPEN_OR_SKIP(&t, 0, 0);
	n = t_udp_l4(l4, 5000, 53, "a datagram that is too big");
	inl = t_ip(in, 1, T_UDP, POD1, REM, l4, n, 0);
	expl = t_ip(exp, 1, T_UDP, EIP, REM, l4, n, 0);
	XLATE(&t, t.eg, in, inl, exp, expl);

	/* The quote is the translated datagram as it left; the expected one the original. */
	ql = t_ip(q, 0, T_UDP, EIP, REM, l4, n, 0);
	(void)t_ip(q2, 0, T_UDP, POD1, REM, l4, n, 0);
	n = t_err_l4(l4, 3, 4, 1400, q, ql);
	inl = t_ip(in, 1, T_ICMP, ROUTER, EIP, l4, n, 0);
	n = t_err_l4(l4, 3, 4, 1400, q2, ql);
	expl = t_ip(exp, 1, T_ICMP, ROUTER, POD1, l4, n, 0);
	XLATE(&t, t.in, in, inl, exp, expl);
	CHECK_EQ_INT(t_get16(exp + 14 + 20 + 6), 1400);
	CHECK_EQ_INT(stat(&t, GN_STAT_ICMP_ERR_XLATE), 1);

	/* Time exceeded for a TCP flow quoting only 8 bytes of TCP (checksum not quoted). */
	n = t_tcp_l4(l4, 41000, 443, 0x02, NULL);
	inl = t_ip(in, 1, T_TCP, POD1, REM, l4, n, 0);
	expl = t_ip(exp, 1, T_TCP, EIP, REM, l4, n, 0);
	XLATE(&t, t.eg, in, inl, exp, expl);
	ql = t_ip(q, 0, T_TCP, EIP, REM, l4, n, 0);
	(void)t_ip(q2, 0, T_TCP, POD1, REM, l4, n, 0);
	/* The quoted IP header still says 40 bytes: a quote is cut, not re-headed. */
	n = t_err_l4(l4, 11, 0, 0, q, 28);
	inl = t_ip(in, 1, T_ICMP, ROUTER, EIP, l4, n, 0);
	n = t_err_l4(l4, 11, 0, 0, q2, 28);
	expl = t_ip(exp, 1, T_ICMP, ROUTER, POD1, l4, n, 0);
	XLATE(&t, t.in, in, inl, exp, expl);
	(void)ql;

	/* An error quoting a flow nobody has is dropped. */
	n = t_udp_l4(q + 20, 1, 2, NULL);
	ql = t_ip(q, 0, T_UDP, EIP, REM, q + 20, 8, 0);
	n = t_err_l4(l4, 3, 3, 0, q, ql);
	inl = t_ip(in, 1, T_ICMP, ROUTER, EIP, l4, n, 0);
	{
		unsigned char o[512];
		size_t ol;

		CHECK_EQ_INT(run(t.in, in, inl, o, &ol), TC_ACT_SHOT);
	}
	gn_nat_close(t.n);
}

/* Ingress IP -> service VIP (1:1 DNAT); the reply leaves with the ingress IP; an ICMP
 * port unreachable from the target quotes the translated packet and leaves translated. */
static void test_ingress_dnat(void)
{
	unsigned char l4[128], in[256], exp[256], q[128], q2[128];
	size_t n, ql, inl, expl;
	struct gn_ct_entry e;
	struct t t;

	OPEN_OR_SKIP(&t, 0, 0);
	n = t_tcp_l4(l4, 33000, 443, 0x02, NULL);
	inl = t_ip(in, 1, T_TCP, REM, ING, l4, n, 0);
	expl = t_ip(exp, 1, T_TCP, REM, SVC, l4, n, 0);
	XLATE(&t, t.in, in, inl, exp, expl);
	REQUIRE(ct_get(&t, GN_DIR_EGRESS, T_TCP, SVC, REM, 443, 33000, &e) == 0);
	CHECK_EQ_INT(ntohl(e.addr), ING);
	CHECK_EQ_INT(e.kind, GN_CT_DNAT);
	n = t_tcp_l4(l4, 443, 33000, 0x12, "ok");
	inl = t_ip(in, 1, T_TCP, SVC, REM, l4, n, 0);
	expl = t_ip(exp, 1, T_TCP, ING, REM, l4, n, 0);
	XLATE(&t, t.eg, in, inl, exp, expl);
	CHECK_EQ_INT(stat(&t, GN_STAT_NEW_DNAT), 1);
	CHECK_EQ_INT(stat(&t, GN_STAT_NEW_SNAT), 0);

	/* UDP to the ingress IP, then the target's port unreachable about it. */
	n = t_udp_l4(l4, 6000, 9999, "knock");
	inl = t_ip(in, 1, T_UDP, REM, ING, l4, n, 0);
	expl = t_ip(exp, 1, T_UDP, REM, SVC, l4, n, 0);
	XLATE(&t, t.in, in, inl, exp, expl);
	ql = t_ip(q, 0, T_UDP, REM, SVC, l4, n, 0);
	(void)t_ip(q2, 0, T_UDP, REM, ING, l4, n, 0);
	n = t_err_l4(l4, 3, 3, 0, q, ql);
	inl = t_ip(in, 1, T_ICMP, SVC, REM, l4, n, 0);
	n = t_err_l4(l4, 3, 3, 0, q2, ql);
	expl = t_ip(exp, 1, T_ICMP, ING, REM, l4, n, 0);
	XLATE(&t, t.eg, in, inl, exp, expl);

	/* Ping to the ingress IP and its reply. */
	n = t_echo_l4(l4, 8, 77, 1, "p");
	inl = t_ip(in, 1, T_ICMP, REM, ING, l4, n, 0);
	expl = t_ip(exp, 1, T_ICMP, REM, SVC, l4, n, 0);
	XLATE(&t, t.in, in, inl, exp, expl);
	n = t_echo_l4(l4, 0, 77, 1, "p");
	inl = t_ip(in, 1, T_ICMP, SVC, REM, l4, n, 0);
	expl = t_ip(exp, 1, T_ICMP, ING, REM, l4, n, 0);
	XLATE(&t, t.eg, in, inl, exp, expl);

	/* A global IP of ours that maps to nothing: dropped, counted. */
	n = t_tcp_l4(l4, 33000, 443, 0x02, NULL);
	inl = t_ip(in, 1, T_TCP, REM, IP4(242, 1, 0, 99), l4, n, 0);
	{
		unsigned char o[512];
		size_t ol;

		CHECK_EQ_INT(run(t.in, in, inl, o, &ol), TC_ACT_SHOT);
		CHECK_EQ_INT(stat(&t, GN_STAT_DROP_NO_FLOW), 1);
	}
	gn_nat_close(t.n);
}

/* Two pods use the same source port to the same destination through one egress IP: the
 * second gets another port, both replies (and an ICMP error) map back. */
static void test_port_collision(void)
{
	unsigned char l4[128], in[256], exp[256], o[512], q[128], q2[128];
	size_t n, ql, inl, expl, ol;
	uint16_t p2;
	struct t t;

	OPEN_OR_SKIP(&t, 0, 0);
	n = t_udp_l4(l4, 40000, 80, "one");
	inl = t_ip(in, 1, T_UDP, POD1, REM, l4, n, 0);
	expl = t_ip(exp, 1, T_UDP, EIP, REM, l4, n, 0);
	XLATE(&t, t.eg, in, inl, exp, expl);

	n = t_udp_l4(l4, 40000, 80, "two");
	inl = t_ip(in, 1, T_UDP, POD2, REM, l4, n, 0);
	REQUIRE(run(t.eg, in, inl, o, &ol) == TC_ACT_OK);
	p2 = t_get16(o + 14 + 20);
	CHECK(p2 != 40000);
	CHECK(p2 >= 1024);
	n = t_udp_l4(l4, p2, 80, "two");
	expl = t_ip(exp, 1, T_UDP, EIP, REM, l4, n, 0);
	CHECK_EQ_INT(ol, expl);
	CHECK(memcmp(o, exp, expl) == 0);
	CHECK(t_csums_ok(o, ol, 1));

	n = t_udp_l4(l4, 80, 40000, "r1");
	inl = t_ip(in, 1, T_UDP, REM, EIP, l4, n, 0);
	expl = t_ip(exp, 1, T_UDP, REM, POD1, l4, n, 0);
	XLATE(&t, t.in, in, inl, exp, expl);
	n = t_udp_l4(l4, 80, p2, "r2");
	inl = t_ip(in, 1, T_UDP, REM, EIP, l4, n, 0);
	n = t_udp_l4(l4, 80, 40000, "r2");
	expl = t_ip(exp, 1, T_UDP, REM, POD2, l4, n, 0);
	XLATE(&t, t.in, in, inl, exp, expl);

	/* Port unreachable about the second flow: the quoted port goes back to 40000. */
	n = t_udp_l4(l4, p2, 80, "two");
	ql = t_ip(q, 0, T_UDP, EIP, REM, l4, n, 0);
	n = t_udp_l4(l4, 40000, 80, "two");
	(void)t_ip(q2, 0, T_UDP, POD2, REM, l4, n, 0);
	n = t_err_l4(l4, 3, 3, 0, q, ql);
	inl = t_ip(in, 1, T_ICMP, REM, EIP, l4, n, 0);
	n = t_err_l4(l4, 3, 3, 0, q2, ql);
	expl = t_ip(exp, 1, T_ICMP, REM, POD2, l4, n, 0);
	XLATE(&t, t.in, in, inl, exp, expl);
	CHECK_EQ_INT(gn_nat_ct_count(t.n), 4);
	gn_nat_close(t.n);
}

/* A table of 4 entries holds 2 flows: a third is refused and counted, the first two keep
 * being translated. */
static void test_table_full(void)
{
	unsigned char l4[128], in[256], exp[256], o[512];
	size_t n, inl, expl, ol;
	struct t t;

	OPEN_OR_SKIP(&t, 0, 4);
	for (uint16_t p = 1; p <= 2; p++) {
		n = t_udp_l4(l4, 2000 + p, 80, "x");
		inl = t_ip(in, 1, T_UDP, POD1, REM, l4, n, 0);
		expl = t_ip(exp, 1, T_UDP, EIP, REM, l4, n, 0);
		XLATE(&t, t.eg, in, inl, exp, expl);
	}
	CHECK_EQ_INT(gn_nat_ct_count(t.n), 4);
	n = t_udp_l4(l4, 2003, 80, "x");
	inl = t_ip(in, 1, T_UDP, POD1, REM, l4, n, 0);
	CHECK_EQ_INT(run(t.eg, in, inl, o, &ol), TC_ACT_SHOT);
	CHECK_EQ_INT(stat(&t, GN_STAT_DROP_TABLE_FULL), 1);
	/* Nor may an ingress flow squeeze in. */
	n = t_udp_l4(l4, 2003, 80, "x");
	inl = t_ip(in, 1, T_UDP, REM, ING, l4, n, 0);
	CHECK_EQ_INT(run(t.in, in, inl, o, &ol), TC_ACT_SHOT);
	CHECK_EQ_INT(stat(&t, GN_STAT_DROP_TABLE_FULL), 2);
	CHECK_EQ_INT(gn_nat_ct_count(t.n), 4);

	n = t_udp_l4(l4, 2001, 80, "still");
	inl = t_ip(in, 1, T_UDP, POD1, REM, l4, n, 0);
	expl = t_ip(exp, 1, T_UDP, EIP, REM, l4, n, 0);
	XLATE(&t, t.eg, in, inl, exp, expl);
	n = t_udp_l4(l4, 80, 2002, "back");
	inl = t_ip(in, 1, T_UDP, REM, EIP, l4, n, 0);
	expl = t_ip(exp, 1, T_UDP, REM, POD1, l4, n, 0);
	XLATE(&t, t.in, in, inl, exp, expl);
	gn_nat_close(t.n);
}

/* Everything that is not for globalnet leaves exactly as it came. */
static void test_non_matching(void)
{
	unsigned char l4[128], in[256], o[512];
	size_t n, inl, ol;
	struct t t;

	OPEN_OR_SKIP(&t, 0, 0);
	n = t_udp_l4(l4, 1000, 2000, "local");
	inl = t_ip(in, 1, T_UDP, POD1, IP4(10, 1, 0, 1), l4, n, 0);	/* not a remote */
	XLATE(&t, t.eg, in, inl, in, inl);
	inl = t_ip(in, 1, T_UDP, EIP, REM, l4, n, 0);		/* already global */
	XLATE(&t, t.eg, in, inl, in, inl);
	inl = t_ip(in, 1, T_UDP, REM, IP4(10, 0, 0, 5), l4, n, 0);	/* not our global */
	XLATE(&t, t.in, in, inl, in, inl);
	/* An ARP frame. */
	memset(in, 0, 60);
	t_put16(in + 12, 0x0806);
	CHECK_EQ_INT(run(t.eg, in, 60, o, &ol), TC_ACT_OK);
	CHECK(ol == 60 && memcmp(in, o, 60) == 0);
	CHECK_EQ_INT(stat(&t, GN_STAT_PASS), 4);
	CHECK_EQ_INT(gn_nat_ct_count(t.n), 0);

	/* Disabled (no config yet): nothing is touched even for a remote. */
	gn_nat_close(t.n);
	t.n = gn_nat_open(NULL);
	REQUIRE(t.n);
	inl = t_ip(in, 1, T_UDP, POD1, REM, l4, n, 0);
	XLATE(&t, gn_nat_prog_fd(t.n, 1), in, inl, in, inl);
	gn_nat_close(t.n);
}

/* Regression (found by fuzz_globalnet_bpf): a non-IPv4 frame right after a translated one
 * was read as "parsed" (GN_STAT_PASS is 0) and rewritten from the previous packet's stale
 * stack. Alternates the two many times: the non-IPv4 frame must always pass unchanged. */
static void t_non_ip_after_xlate(int l3)
{
	unsigned char l4[128], in[256], other[256], o[512];
	size_t n, inl, ol, otherl = 60;
	int changed = 0;
	struct t t;

	OPEN_OR_SKIP(&t, l3, 0);
	n = t_echo_l4(l4, 8, 0x4242, 1, "ping");
	inl = t_ip(in, !l3, T_ICMP, POD1, REM, l4, n, 0);
	memcpy(other, in, inl);
	if (l3) {
		other[0] = 0x60;	/* an IPv6 packet on a TUN device */
	} else {
		t_put16(other + 12, 0x0806);	/* an ARP frame */
		otherl = inl;
	}
	for (int i = 0; i < 3000; i++) {
		REQUIRE(run(t.eg, in, inl, o, &ol) == TC_ACT_OK);
		REQUIRE(run(t.eg, other, otherl, o, &ol) == TC_ACT_OK);
		if (ol != otherl || memcmp(o, other, otherl))
			changed++;
	}
	CHECK_EQ_INT(changed, 0);
	CHECK_EQ_INT(stat(&t, GN_STAT_PASS), 3000);
	CHECK_EQ_INT(stat(&t, GN_STAT_EGRESS_XLATE), 3000);
	gn_nat_close(t.n);
}

static void test_non_ip_after_xlate_l2(void)
{
	t_non_ip_after_xlate(0);
}

static void test_non_ip_after_xlate_l3(void)
{
	t_non_ip_after_xlate(1);
}

static void expect_verdict(struct t *t, int fd, unsigned char *in, size_t inl, int verdict,
			   unsigned int stat_idx, uint64_t count)
{
	unsigned char o[512];
	size_t ol;

	CHECK_EQ_INT(run(fd, in, inl, o, &ol), verdict);
	CHECK_EQ_INT(stat(t, stat_idx), count);
}

static void test_malformed(void)
{
	unsigned char l4[128], in[256], q[128];
	size_t n, inl;
	struct t t;

	/* A packet cut inside the IPv4 header: untouched, counted. On an L2 device
	 * BPF_PROG_RUN refuses such frames itself, so this runs the L3 flavour. */
	OPEN_OR_SKIP(&t, 1, 0);
	n = t_udp_l4(l4, 1, 2, NULL);
	inl = t_ip(in, 0, T_UDP, POD1, REM, l4, n, 0);
	expect_verdict(&t, t.eg, in, 14, TC_ACT_OK, GN_STAT_MALFORMED_PASS, 1);
	expect_verdict(&t, t.in, in, 19, TC_ACT_OK, GN_STAT_MALFORMED_PASS, 2);
	gn_nat_close(t.n);

	REQUIRE(t_open(&t, 0, 0) == 0);
	n = t_udp_l4(l4, 1, 2, NULL);
	inl = t_ip(in, 1, T_UDP, POD1, REM, l4, n, 0);
	expect_verdict(&t, t.eg, in, inl, TC_ACT_OK, GN_STAT_NEW_SNAT, 1);	/* intact: works */
	/* ihl 3. */
	in[14] = 0x43;
	expect_verdict(&t, t.eg, in, inl, TC_ACT_OK, GN_STAT_MALFORMED_PASS, 1);
	/* Total length beyond the frame. */
	inl = t_ip(in, 1, T_UDP, POD1, REM, l4, n, 0);
	t_put16(in + 14 + 2, 400);
	expect_verdict(&t, t.eg, in, inl, TC_ACT_OK, GN_STAT_MALFORMED_PASS, 2);
	/* TCP for a remote with only 8 bytes of TCP header. */
	n = t_tcp_l4(l4, 1, 2, 0x02, NULL);
	inl = t_ip(in, 1, T_TCP, POD1, REM, l4, 8, 0);
	expect_verdict(&t, t.eg, in, inl, TC_ACT_SHOT, GN_STAT_DROP_MALFORMED, 1);
	/* UDP with 4 bytes of header, on ingress. */
	inl = t_ip(in, 1, T_UDP, REM, EIP, l4, 4, 0);
	expect_verdict(&t, t.in, in, inl, TC_ACT_SHOT, GN_STAT_DROP_MALFORMED, 2);
	/* A later fragment whose first one never came: dropped. */
	n = t_udp_l4(l4, 1, 2, "fragment");
	(void)t_ip(q, 0, T_UDP, POD1, REM, l4, n, 0);
	inl = t_frag(in, 1, q, 8, 8, 0);
	expect_verdict(&t, t.eg, in, inl, TC_ACT_SHOT, GN_STAT_DROP_FRAGMENT, 1);
	/* An ICMP error whose quote is cut inside the quoted IPv4 header. */
	n = t_udp_l4(l4, 1, 2, NULL);
	(void)t_ip(q, 0, T_UDP, EIP, REM, l4, n, 0);
	n = t_err_l4(l4, 3, 4, 1400, q, 12);
	inl = t_ip(in, 1, T_ICMP, ROUTER, EIP, l4, n, 0);
	expect_verdict(&t, t.in, in, inl, TC_ACT_SHOT, GN_STAT_DROP_MALFORMED, 3);
	/* ... or inside the quoted UDP header. */
	n = t_err_l4(l4, 3, 4, 1400, q, 24);
	inl = t_ip(in, 1, T_ICMP, ROUTER, EIP, l4, n, 0);
	expect_verdict(&t, t.in, in, inl, TC_ACT_SHOT, GN_STAT_DROP_MALFORMED, 4);
	/* Unsupported protocol (GRE) and ICMP type (timestamp) for globalnet. */
	inl = t_ip(in, 1, 47, POD1, REM, l4, 8, 0);
	expect_verdict(&t, t.eg, in, inl, TC_ACT_SHOT, GN_STAT_DROP_UNSUPPORTED, 1);
	n = t_echo_l4(l4, 13, 1, 1, NULL);
	inl = t_ip(in, 1, T_ICMP, POD1, REM, l4, n, 0);
	expect_verdict(&t, t.eg, in, inl, TC_ACT_SHOT, GN_STAT_DROP_UNSUPPORTED, 2);
	/* Every cut of a frame (BPF_PROG_RUN needs the IPv4 header): no crash, nothing
	 * translated by accident. */
	n = t_tcp_l4(l4, 1234, 80, 0x02, "payload");
	inl = t_ip(in, 1, T_TCP, POD1, REM, l4, n, 0);
	for (size_t len = 34; len < inl; len++) {
		unsigned char o[512];
		size_t ol;
		int rv = run(t.eg, in, len, o, &ol);

		CHECK(rv == TC_ACT_OK || rv == TC_ACT_SHOT);
	}
	CHECK_EQ_INT(stat(&t, GN_STAT_NEW_SNAT), 1);
	CHECK_EQ_INT(stat(&t, GN_STAT_EGRESS_XLATE), 1);
	gn_nat_close(t.n);
}

/* A fragmented UDP datagram out and a fragmented reply back: the first fragment goes
 * through conntrack (ports, L4 checksum over the whole datagram), the later ones get the
 * same address. Each fragment is compared with the same cut of the expected datagram. */
static void test_fragments(void)
{
	static const char pay[] = "0123456789abcdef0123456789abcdef0123456789";
	unsigned char l4[128], in[256], exp[256], whole[256], xwhole[256];
	size_t n, inl, expl;
	struct t t;

	OPEN_OR_SKIP(&t, 0, 0);
	n = t_udp_l4(l4, 6000, 53, pay);	/* 8 + 42 bytes: fragments of 24 and 26 */
	(void)t_ip(whole, 0, T_UDP, POD1, REM, l4, n, 0);
	(void)t_ip(xwhole, 0, T_UDP, EIP, REM, l4, n, 0);
	inl = t_frag(in, 1, whole, 0, 24, 1);
	expl = t_frag(exp, 1, xwhole, 0, 24, 1);
	XLATE(&t, t.eg, in, inl, exp, expl);
	inl = t_frag(in, 1, whole, 24, n - 24, 0);
	expl = t_frag(exp, 1, xwhole, 24, n - 24, 0);
	XLATE(&t, t.eg, in, inl, exp, expl);
	/* The datagram reassembled from the translated fragments has a valid UDP sum. */
	CHECK(t_l4sum(EIP, REM, T_UDP, xwhole + 20, n) == 0);
	CHECK_EQ_INT(stat(&t, GN_STAT_EGRESS_XLATE), 2);

	n = t_udp_l4(l4, 53, 6000, pay);
	(void)t_ip(whole, 0, T_UDP, REM, EIP, l4, n, 0);
	(void)t_ip(xwhole, 0, T_UDP, REM, POD1, l4, n, 0);
	inl = t_frag(in, 1, whole, 0, 16, 1);
	expl = t_frag(exp, 1, xwhole, 0, 16, 1);
	XLATE(&t, t.in, in, inl, exp, expl);
	inl = t_frag(in, 1, whole, 16, 16, 1);
	expl = t_frag(exp, 1, xwhole, 16, 16, 1);
	XLATE(&t, t.in, in, inl, exp, expl);
	inl = t_frag(in, 1, whole, 32, n - 32, 0);
	expl = t_frag(exp, 1, xwhole, 32, n - 32, 0);
	XLATE(&t, t.in, in, inl, exp, expl);
	CHECK_EQ_INT(stat(&t, GN_STAT_INGRESS_XLATE), 3);
	CHECK_EQ_INT(stat(&t, GN_STAT_DROP_FRAGMENT), 0);
	gn_nat_close(t.n);
}

/* Own egress IPs for a pod (/32) and a CIDR of pods; the pool spreads the others. */
static void test_src_egress_and_pool(void)
{
	struct cidr4 one = { POD3, 32 }, many = { IP4(10, 0, 1, 0), 24 };
	unsigned char l4[128], in[256], exp[256], o[512];
	uint32_t pool[8], seen_ips[8] = { 0 };
	size_t n, inl, expl, ol;
	unsigned int distinct = 0;
	struct t t;

	OPEN_OR_SKIP(&t, 0, 0);
	REQUIRE(gn_nat_add_src_egress(t.n, &one, PODEIP) == 0);
	REQUIRE(gn_nat_add_src_egress(t.n, &many, PODEIP + 1) == 0);
	n = t_udp_l4(l4, 1111, 80, "pod");
	inl = t_ip(in, 1, T_UDP, POD3, REM, l4, n, 0);
	expl = t_ip(exp, 1, T_UDP, PODEIP, REM, l4, n, 0);
	XLATE(&t, t.eg, in, inl, exp, expl);
	inl = t_ip(in, 1, T_UDP, IP4(10, 0, 1, 77), REM, l4, n, 0);
	expl = t_ip(exp, 1, T_UDP, PODEIP + 1, REM, l4, n, 0);
	XLATE(&t, t.eg, in, inl, exp, expl);

	for (int i = 0; i < 8; i++)
		pool[i] = EIP + 10 + (uint32_t)i;
	REQUIRE(gn_nat_set_egress_pool(t.n, pool, 8) == 0);
	for (uint32_t s = 1; s <= 64; s++) {
		uint32_t ip;

		inl = t_ip(in, 1, T_UDP, IP4(10, 0, 2, s), REM, l4, n, 0);
		REQUIRE(run(t.eg, in, inl, o, &ol) == TC_ACT_OK);
		ip = t_get32(o + 14 + 12);
		CHECK(ip >= pool[0] && ip <= pool[7]);
		if (ip >= pool[0] && ip <= pool[7] && !seen_ips[ip - pool[0]]++)
			distinct++;
		/* The same source always leaves by the same IP. */
		t_put16(in + 14 + 20, 2222);
		t_put16(in + 14 + 20 + 6, 0);	/* zero UDP checksum: still valid */
		REQUIRE(run(t.eg, in, inl, o, &ol) == TC_ACT_OK);
		CHECK_EQ_INT(t_get32(o + 14 + 12), ip);
	}
	CHECK(distinct >= 4);
	gn_nat_close(t.n);
}

static void test_gc(void)
{
	unsigned char l4[128], in[256], exp[256];
	size_t n, inl, expl;
	struct gn_timeouts to = { 0 };
	uint64_t now = util_now_ns();
	struct t t;

	OPEN_OR_SKIP(&t, 0, 0);
	/* An established TCP flow, a closing one, an unreplied UDP one. */
	for (uint16_t p = 1; p <= 2; p++) {
		n = t_tcp_l4(l4, 3000 + p, 80, 0x02, NULL);
		inl = t_ip(in, 1, T_TCP, POD1, REM, l4, n, 0);
		expl = t_ip(exp, 1, T_TCP, EIP, REM, l4, n, 0);
		XLATE(&t, t.eg, in, inl, exp, expl);
		n = t_tcp_l4(l4, 80, 3000 + p, p == 2 ? 0x14 : 0x12, NULL);	/* RST / SYN-ACK */
		inl = t_ip(in, 1, T_TCP, REM, EIP, l4, n, 0);
		expl = t_ip(exp, 1, T_TCP, REM, POD1, l4, n, 0);
		XLATE(&t, t.in, in, inl, exp, expl);
	}
	n = t_udp_l4(l4, 4000, 53, "q");
	inl = t_ip(in, 1, T_UDP, POD1, REM, l4, n, 0);
	expl = t_ip(exp, 1, T_UDP, EIP, REM, l4, n, 0);
	XLATE(&t, t.eg, in, inl, exp, expl);
	/* A half-closed TCP flow: FIN from the pod only. */
	n = t_tcp_l4(l4, 3003, 80, 0x02, NULL);
	inl = t_ip(in, 1, T_TCP, POD1, REM, l4, n, 0);
	expl = t_ip(exp, 1, T_TCP, EIP, REM, l4, n, 0);
	XLATE(&t, t.eg, in, inl, exp, expl);
	n = t_tcp_l4(l4, 3003, 80, 0x11, NULL);
	inl = t_ip(in, 1, T_TCP, POD1, REM, l4, n, 0);
	expl = t_ip(exp, 1, T_TCP, EIP, REM, l4, n, 0);
	XLATE(&t, t.eg, in, inl, exp, expl);
	CHECK_EQ_INT(gn_nat_ct_count(t.n), 8);

	CHECK_EQ_INT(gn_nat_gc(t.n, 0, NULL), 0);
	CHECK_EQ_INT(gn_nat_gc(t.n, now + 5000000000ull, NULL), 0);
	CHECK_EQ_INT(gn_nat_gc(t.n, now + 11000000000ull, NULL), 1);	/* the RST one */
	CHECK_EQ_INT(gn_nat_ct_count(t.n), 6);
	CHECK_EQ_INT(gn_nat_gc(t.n, now + 31000000000ull, NULL), 1);	/* unreplied UDP */
	CHECK_EQ_INT(gn_nat_ct_count(t.n), 4);
	CHECK_EQ_INT(gn_nat_gc(t.n, now + 99000000000ull, NULL), 0);
	CHECK_EQ_INT(gn_nat_gc(t.n, now + 121000000000ull, NULL), 1);	/* half-closed */
	CHECK_EQ_INT(gn_nat_ct_count(t.n), 2);
	CHECK_STR(gn_nat_stat_name(GN_STAT_DROP_TABLE_FULL), "drop_table_full");
	CHECK(gn_nat_stat_name(GN_STAT_MAX) == NULL);
	for (unsigned int i = 0; i < GN_STAT_MAX; i++)
		CHECK(gn_nat_stat_name(i) != NULL);
	to.tcp_est = 100;
	CHECK_EQ_INT(gn_nat_gc(t.n, now + 99000000000ull, &to), 0);
	CHECK_EQ_INT(gn_nat_gc(t.n, now + 102000000000ull, &to), 1);
	CHECK_EQ_INT(gn_nat_ct_count(t.n), 0);
	gn_nat_close(t.n);
}

int main(void)
{
	log_set_level(LOG_LVL_WARN);
	log_route_libbpf();
	RUN(test_tcp_snat_reply);
	RUN(test_udp);
	RUN(test_icmp_echo);
	RUN(test_icmp_frag_needed);
	RUN(test_ingress_dnat);
	RUN(test_port_collision);
	RUN(test_table_full);
	RUN(test_non_matching);
	RUN(test_non_ip_after_xlate_l2);
	RUN(test_non_ip_after_xlate_l3);
	RUN(test_malformed);
	RUN(test_fragments);
	RUN(test_l3_mode_tcp);
	RUN(test_l3_mode_udp);
	RUN(test_xfrm_mode);
	RUN(test_src_egress_and_pool);
	RUN(test_gc);
	return harness_done();
}
