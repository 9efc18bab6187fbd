/* libFuzzer target: the globalnet tc programs' packet parsing and rewriting, run in the
 * kernel through BPF_PROG_RUN (needs root; without it every input is a no-op). Input byte
 * 0 picks the device kind (L2/L3) and the hook; the rest is the frame. When the frame is a
 * consistent IPv4 packet, its checksums are fixed first so that translations happen; the
 * properties checked: a verdict is OK or SHOT; the length never changes; a rewritten packet
 * still has valid IPv4, L4 and (ICMP errors) quoted IPv4 checksums; a frame that is not
 * IPv4 passes unchanged. Inputs run back to back, so state left by one packet (maps,
 * stack) meets the next: that is how the "non-IPv4 read as parsed" bug was found. */
#include <linux/pkt_cls.h>
#include <stdint.h>
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

static struct gn_nat *nat[2];	/* [0] L2, [1] L3 */

static struct gn_nat *open_one(int l3)
{
	struct gn_nat_opts o = { .dev = l3 ? GN_DEV_L3 : GN_DEV_ETHER, .ct_max = 4096 };
	struct cidr4 g = { IP4(242, 1, 0, 0), 16 }, r = { IP4(242, 2, 0, 0), 16 };
	uint32_t pool[2] = { IP4(242, 1, 0, 1), IP4(242, 1, 0, 2) };
	struct gn_nat *n = gn_nat_open(&o);

	if (n && (gn_nat_set_local(n, &g, 1024, 65535) || gn_nat_set_egress_pool(n, pool, 2) ||
		  gn_nat_add_remote(n, &r, 2) ||
		  gn_nat_add_ingress(n, IP4(242, 1, 0, 100), IP4(10, 96, 0, 10)))) {
		gn_nat_close(n);
		n = NULL;
	}
	return n;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_LVL_ERR);
	log_route_libbpf();
	if (geteuid() == 0) {
		nat[0] = open_one(0);
		nat[1] = open_one(1);
	}
	return 0;
}

/* The IPv4 packet at ip (n bytes) if it is self-consistent: its L4 length, else 0. */
static size_t consistent(const unsigned char *ip, size_t n)
{
	size_t ihl;

	if (n < 20 || ip[0] >> 4 != 4)
		return 0;
	ihl = (ip[0] & 0xf) * 4u;
	if (ihl < 20 || ihl > n || t_get16(ip + 2) != n)
		return 0;
	if (ip[9] == T_TCP && n - ihl < 20)
		return 0;
	if ((ip[9] == T_UDP || ip[9] == T_ICMP) && n - ihl < 8)
		return 0;
	return n - ihl;
}

/* Sets (fix) or checks every checksum of a consistent packet; returns 1 when valid. */
static int sums(unsigned char *ip, size_t n, int fix)
{
	size_t ihl = (ip[0] & 0xf) * 4u, l4n = n - ihl;
	unsigned char *l4 = ip + ihl;
	int ok = 1;

	if (t_get16(ip + 6) & 0x3fff) {
		/* A fragment: its L4 sum covers the whole datagram, only the header counts. */
		if (fix) {
			t_put16(ip + 10, 0);
			t_put16(ip + 10, t_fold(t_sum(ip, ihl, 0)));
		}
		return t_fold(t_sum(ip, ihl, 0)) == 0;
	}
	if (ip[9] == T_ICMP && (l4[0] == 3 || l4[0] == 11 || l4[0] == 12)) {
		/* An ICMP error's quoted IPv4 header, when it is all there. */
		unsigned char *q = l4 + 8;
		size_t qihl = l4n >= 8 + 20 ? (q[0] & 0xf) * 4u : 0;

		if (qihl >= 20 && 8 + qihl <= l4n) {
			if (fix) {
				t_put16(q + 10, 0);
				t_put16(q + 10, t_fold(t_sum(q, qihl, 0)));
			}
			ok &= t_fold(t_sum(q, qihl, 0)) == 0;
		}
	}
	if (fix) {
		int csoff = ip[9] == T_TCP ? 16 : ip[9] == T_UDP ? 6 : ip[9] == T_ICMP ? 2 : -1;

		t_put16(ip + 10, 0);
		t_put16(ip + 10, t_fold(t_sum(ip, ihl, 0)));
		if (csoff >= 0) {
			uint16_t c;

			t_put16(l4 + csoff, 0);
			c = ip[9] == T_ICMP ? t_fold(t_sum(l4, l4n, 0)) :
			    t_l4sum(t_get32(ip + 12), t_get32(ip + 16), ip[9], l4, l4n);
			if (ip[9] == T_UDP && !c)
				c = 0xffff;
			t_put16(l4 + csoff, c);
		}
	}
	ok &= t_fold(t_sum(ip, ihl, 0)) == 0;
	if (ip[9] == T_TCP || (ip[9] == T_UDP && t_get16(l4 + 6)))
		ok &= t_l4sum(t_get32(ip + 12), t_get32(ip + 16), ip[9], l4, l4n) == 0;
	else if (ip[9] == T_ICMP)
		ok &= t_fold(t_sum(l4, l4n, 0)) == 0;
	return ok;
}

/* Says why an input failed, with both packets, then aborts. */
static int sel;

static void fail(const char *why, const unsigned char *in, const unsigned char *out, size_t len,
		 size_t olen)
{
	fprintf(stderr, "fuzz_globalnet_bpf: %s (selector %d)\n in: ", why, sel);
	for (size_t i = 0; i < len; i++)
		fprintf(stderr, "%02x", in[i]);
	fprintf(stderr, "\nout: ");
	for (size_t i = 0; i < olen; i++)
		fprintf(stderr, "%02x", out[i]);
	fprintf(stderr, "\n");
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char in[1600], out[1700];
	int l3, egress, fd;
	size_t len, off, l4n;
	struct gn_nat *n;

	if (size < 1 + 14 || size - 1 > sizeof(in))
		return 0;
	sel = data[0];
	l3 = data[0] & 1;
	egress = data[0] >> 1 & 1;
	n = nat[l3];
	if (!n)
		return 0;
	len = size - 1;
	memcpy(in, data + 1, len);
	off = l3 ? 0 : 14;
	if (!l3) {
		/* BPF_PROG_RUN refuses an IPv4 frame shorter than its IPv4 header. */
		if (t_get16(in + 12) == 0x0800 && len < 14 + 20)
			return 0;
	}
	l4n = consistent(in + off, len - off);
	if (l4n)
		sums(in + off, len - off, 1);
	fd = gn_nat_prog_fd(n, egress);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = sizeof(out));
	memset(out, 0xee, sizeof(out));
	if (bpf_prog_test_run_opts(fd, &o))
		return 0;
	if (o.retval != TC_ACT_OK && o.retval != TC_ACT_SHOT)
		fail("bad verdict", in, out, len, o.data_size_out);
	if (o.retval == TC_ACT_OK && o.data_size_out != len)
		fail("length changed", in, out, len, o.data_size_out);
	if (l4n && o.retval == TC_ACT_OK && memcmp(in, out, len) && !sums(out + off, len - off, 0))
		fail("bad checksum after rewrite", in, out, len, o.data_size_out);
	/* A frame that is not IPv4 is never touched. */
	if (!l3 && t_get16(in + 12) != 0x0800 && (o.retval != TC_ACT_OK || memcmp(in, out, len)))
		fail("non-IPv4 frame changed", in, out, len, o.data_size_out);
	if (l3 && in[0] >> 4 != 4 && (o.retval != TC_ACT_OK || memcmp(in, out, len)))
		fail("non-IPv4 packet changed", in, out, len, o.data_size_out);
	return 0;
}
