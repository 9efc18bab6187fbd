/* Benchmark: ns per packet of the globalnet tc programs through BPF_PROG_RUN (the kernel
 * times the program runs alone). Every figure is the median of RUNS runs. Needs root.
 *
 * BPF_PROG_RUN's `repeat` runs the program again on the same, already rewritten, packet.
 * To time a real hit path every time, each hit case gets a second conntrack entry that
 * translates the rewritten packet back (P->E, then E->P, ...), so every run does a full
 * lookup and rewrite with checksum updates. The new-flow paths run each fresh tuple once
 * (repeat 1), which adds the timer's own cost: the "pass, timed per packet" row shows it. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/pkt_cls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/globalnet.h"
#include "common/log.h"
#include "globalnet/gn_nat.h"
#include "tests/unit/gn_pkt.h"

#define RUNS	7
#define REPEAT	200000
#define NEWFLOWS 2000

#define POD	IP4(10, 0, 0, 5)
#define REM	IP4(242, 2, 0, 9)
/* Egress hit cases: the egress IP outside the local global CIDR, so the P<->E ping-pong
 * never meets the "source already global" shortcut. Ingress cases: both inside it. */
#define EIP	IP4(10, 200, 0, 1)

static struct gn_nat *open_nat(int l3, int ingress)
{
	struct gn_nat_opts o = { .dev = l3 ? GN_DEV_L3 : GN_DEV_ETHER };
	struct cidr4 g = { IP4(242, 1, 0, 0), 16 }, r = { IP4(242, 2, 0, 0), 16 };
	struct cidr4 gi = { IP4(10, 0, 0, 0), 8 };
	uint32_t pool[8];
	struct gn_nat *n = gn_nat_open(&o);

	for (int i = 0; i < 8; i++)
		pool[i] = EIP + (uint32_t)i;
	if (!n)
		return NULL;
	if (gn_nat_set_local(n, ingress ? &gi : &g, 1024, 65535) || gn_nat_set_egress_pool(n, pool, 1) ||
	    gn_nat_add_remote(n, &r, 2)) {
		gn_nat_close(n);
		return NULL;
	}
	return n;
}

/* Average ns of one program run over `repeat` runs of one packet; -1 on error. */
static double run_ns(int fd, const unsigned char *pkt, size_t len, int repeat, int *verdict)
{
	unsigned char out[512];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = repeat);

	if (bpf_prog_test_run_opts(fd, &o))
		return -1;
	if (verdict)
		*verdict = (int)o.retval;
	return o.duration;
}

/* Adds the entry that maps the translated packet back (see the top comment). */
static int back_entry(struct gn_nat *n, int dir, uint8_t proto, uint32_t s, uint32_t d,
		      uint16_t sp, uint16_t dp, uint32_t to, uint16_t to_port)
{
	struct gn_ct_key k = { .saddr = htonl(s), .daddr = htonl(d), .sport = htons(sp),
			       .dport = htons(dp), .proto = proto, .dir = (uint8_t)dir };
	struct gn_ct_entry e = { .addr = htonl(to), .port = htons(to_port), .kind = GN_CT_SNAT,
				 .seen = 1 };

	return bpf_map_update_elem(gn_nat_ct_fd(n), &k, &e, BPF_ANY) ? -errno : 0;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v)
{
	qsort(v, RUNS, sizeof(*v), cmp_d);
	return v[RUNS / 2];
}

static void row(const char *name, double ns)
{
	printf("| %-44s | %9.1f |\n", name, ns);
}

static uint64_t stat(struct gn_nat *n, unsigned int idx)
{
	uint64_t s[GN_STAT_MAX];

	return gn_nat_read_stats(n, s, GN_STAT_MAX) ? 0 : s[idx];
}

/* Median over RUNS of the hit path for pkt on fd (primed once first). Checks that every
 * run was counted under stat_idx, i.e. really took that path. */
static double hit(struct gn_nat *n, int fd, const unsigned char *pkt, size_t len,
		  unsigned int stat_idx)
{
	uint64_t before = stat(n, stat_idx);
	double v[RUNS];
	int verdict = -1;

	if (run_ns(fd, pkt, len, 1, &verdict) < 0 || verdict != TC_ACT_OK)
		return -1;
	for (int r = 0; r < RUNS; r++)
		v[r] = run_ns(fd, pkt, len, REPEAT, NULL);
	if (stat(n, stat_idx) - before != (uint64_t)RUNS * REPEAT + 1) {
		fprintf(stderr, "bench: a run left the measured path\n");
		return -1;
	}
	return median(v);
}

int main(void)
{
	unsigned char l4[128], pkt[256], q[128];
	struct gn_nat *n, *ni, *n3;
	double v[RUNS];
	size_t len, ql, l4n;
	int eg, in;

	log_set_level(LOG_LVL_WARN);
	log_route_libbpf();
	if (geteuid() != 0) {
		fprintf(stderr, "bench_globalnet_bpf: needs root\n");
		return 77;
	}
	n = open_nat(0, 0);
	ni = open_nat(0, 1);
	n3 = open_nat(1, 0);
	if (!n || !ni || !n3) {
		fprintf(stderr, "bench_globalnet_bpf: load: %s\n", strerror(errno));
		return 1;
	}
	eg = gn_nat_prog_fd(n, 1);
	in = gn_nat_prog_fd(ni, 0);

	printf("globalnet tc BPF, BPF_PROG_RUN, ns/packet (median of %d runs; hit paths x%d)\n\n",
	       RUNS, REPEAT);
	printf("| %-44s | %9s |\n", "path", "ns/packet");
	printf("|%s|%s|\n", "----------------------------------------------", "-----------");

	/* Egress TCP: the first run makes the flow P:40000 -> E:40000. */
	l4n = t_tcp_l4(l4, 40000, 80, 0x10, "0123456789abcdef0123456789abcdef");
	len = t_ip(pkt, 1, T_TCP, POD, REM, l4, l4n, 0);
	if (back_entry(n, GN_DIR_EGRESS, T_TCP, EIP, REM, 40000, 80, POD, 40000))
		return 1;
	row("egress, established TCP flow (SNAT)", hit(n, eg, pkt, len, GN_STAT_EGRESS_XLATE));
	l4n = t_udp_l4(l4, 5353, 53, "0123456789abcdef");
	len = t_ip(pkt, 1, T_UDP, POD, REM, l4, l4n, 0);
	if (back_entry(n, GN_DIR_EGRESS, T_UDP, EIP, REM, 5353, 53, POD, 5353))
		return 1;
	row("egress, established UDP flow (SNAT)", hit(n, eg, pkt, len, GN_STAT_EGRESS_XLATE));
	len = t_ip(pkt, 0, T_UDP, POD, REM, l4, l4n, 0);
	if (back_entry(n3, GN_DIR_EGRESS, T_UDP, EIP, REM, 5353, 53, POD, 5353) ||
	    back_entry(n3, GN_DIR_EGRESS, T_UDP, POD, REM, 5353, 53, EIP, 5353))
		return 1;
	row("egress, established UDP flow, L3 device", hit(n3, gn_nat_prog_fd(n3, 1), pkt, len, GN_STAT_EGRESS_XLATE));

	/* Ingress: R -> E becomes R -> P and back (both inside 10.0.0.0/8 here). */
	l4n = t_tcp_l4(l4, 80, 40000, 0x10, "0123456789abcdef0123456789abcdef");
	len = t_ip(pkt, 1, T_TCP, REM, EIP, l4, l4n, 0);
	if (back_entry(ni, GN_DIR_INGRESS, T_TCP, REM, EIP, 80, 40000, POD, 40000) ||
	    back_entry(ni, GN_DIR_INGRESS, T_TCP, REM, POD, 80, 40000, EIP, 40000))
		return 1;
	row("ingress, established TCP flow (un-SNAT)", hit(ni, in, pkt, len, GN_STAT_INGRESS_XLATE));
	/* An ICMP frag-needed quoting E:5353 -> R:53 (quote's reversed tuple is the key). */
	l4n = t_udp_l4(l4, 5353, 53, "0123456789abcdef");
	if (back_entry(ni, GN_DIR_INGRESS, T_UDP, REM, EIP, 53, 5353, POD, 5353) ||
	    back_entry(ni, GN_DIR_INGRESS, T_UDP, REM, POD, 53, 5353, EIP, 5353))
		return 1;
	ql = t_ip(q, 0, T_UDP, EIP, REM, l4, l4n, 0);
	l4n = t_err_l4(l4, 3, 4, 1400, q, ql);
	len = t_ip(pkt, 1, T_ICMP, IP4(242, 2, 0, 1), EIP, l4, l4n, 0);
	row("ingress, ICMP frag-needed (outer + quote)", hit(ni, in, pkt, len, GN_STAT_ICMP_ERR_XLATE));

	l4n = t_udp_l4(l4, 5353, 53, "0123456789abcdef");
	len = t_ip(pkt, 1, T_UDP, POD, IP4(10, 1, 0, 1), l4, l4n, 0);
	row("egress, not for globalnet (pass)", hit(n, eg, pkt, len, GN_STAT_PASS));
	len = t_ip(pkt, 1, T_UDP, REM, IP4(172, 16, 0, 9), l4, l4n, 0);
	row("ingress, not for globalnet (pass)", hit(ni, in, pkt, len, GN_STAT_PASS));
	for (int r = 0; r < RUNS; r++) {
		double sum = 0;

		for (int i = 0; i < NEWFLOWS; i++)
			sum += run_ns(eg, pkt, len, 1, NULL);
		v[r] = sum / NEWFLOWS;
	}
	row("egress, pass, timed per packet (timer cost)", median(v));

	/* New flows: each packet a fresh source port, run once. */
	for (int r = 0; r < RUNS; r++) {
		double sum = 0;

		for (int i = 0; i < NEWFLOWS; i++) {
			uint16_t sp = (uint16_t)(2000 + r * NEWFLOWS + i);
			int verdict = -1;

			l4n = t_tcp_l4(l4, sp, 443, 0x02, NULL);
			len = t_ip(pkt, 1, T_TCP, POD, REM, l4, l4n, 0);
			sum += run_ns(eg, pkt, len, 1, &verdict);
			if (verdict != TC_ACT_OK) {
				fprintf(stderr, "new flow refused\n");
				return 1;
			}
		}
		v[r] = sum / NEWFLOWS;
	}
	row("egress, new TCP flow (port kept)", median(v));
	/* New flows whose port is taken: other pods, same source port and peer. */
	for (int r = 0; r < RUNS; r++) {
		double sum = 0;
		int m = 200;

		for (int i = 0; i < m; i++) {
			l4n = t_tcp_l4(l4, 33333, (uint16_t)(8000 + r), 0x02, NULL);
			len = t_ip(pkt, 1, T_TCP, IP4(10, 0, 3, 0) + (uint32_t)i, REM, l4, l4n, 0);
			sum += run_ns(eg, pkt, len, 1, NULL);
		}
		v[r] = sum / m;
	}
	row("egress, new TCP flow (port taken, search)", median(v));
	printf("\nconntrack entries after the run: %d\n", gn_nat_ct_count(n));
	gn_nat_close(n3);
	gn_nat_close(ni);
	gn_nat_close(n);
	return 0;
}
