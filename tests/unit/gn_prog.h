/* Running the globalnet tc programs on crafted packets (BPF_PROG_RUN) for the unit tests:
 * a NAT set up with fixed addresses, the run itself, counters, conntrack entries, and a
 * byte-for-byte comparison with checksums checked. Include after harness.h and gn_pkt.h. */
#ifndef SA_TESTS_GN_PROG_H
#define SA_TESTS_GN_PROG_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>

#include "bpf/globalnet.h"
#include "globalnet/gn_nat.h"

#define POD1	IP4(10, 0, 0, 5)
#define POD2	IP4(10, 0, 0, 6)
#define POD3	IP4(10, 0, 0, 7)
#define SVC	IP4(10, 96, 0, 10)
#define REM	IP4(242, 2, 0, 9)
#define ROUTER	IP4(242, 2, 0, 1)
#define EIP	IP4(242, 1, 0, 1)
#define ING	IP4(242, 1, 0, 100)
#define PODEIP	IP4(242, 1, 0, 50)

struct t {
	struct gn_nat *n;
	int l2, eg, in;
};

/* dev: enum gn_dev_kind (0: Ethernet, 1: L3, 2: XFRM interface). t->l2 says whether the
 * packets checked next carry an Ethernet header (on XFRM it depends on the direction). */
static inline int t_open(struct t *t, int dev, uint32_t ct_max)
{
	struct gn_nat_opts o = { .dev = (enum gn_dev_kind)dev, .ct_max = ct_max };
	struct cidr4 g = { IP4(242, 1, 0, 0), 16 }, r = { IP4(242, 2, 0, 0), 16 };
	uint32_t eip = EIP;

	t->n = gn_nat_open(&o);
	if (!t->n)
		return -errno;
	t->l2 = dev == GN_DEV_ETHER;
	t->eg = gn_nat_prog_fd(t->n, 1);
	t->in = gn_nat_prog_fd(t->n, 0);
	if (gn_nat_set_local(t->n, &g, 1024, 65535) || gn_nat_set_egress_pool(t->n, &eip, 1) ||
	    gn_nat_add_remote(t->n, &r, 2) || gn_nat_add_ingress(t->n, ING, SVC))
		return -EIO;
	return 0;
}

static inline int run(int fd, const unsigned char *in, size_t len, unsigned char *out, size_t *olen)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = 512);

	if (bpf_prog_test_run_opts(fd, &o))
		return -1000;
	*olen = o.data_size_out;
	return (int)o.retval;
}

static inline uint64_t stat(struct t *t, unsigned int idx)
{
	uint64_t s[GN_STAT_MAX];

	if (gn_nat_read_stats(t->n, s, GN_STAT_MAX))
		return ~0ull;
	return s[idx];
}

static inline int diff_at(const unsigned char *a, const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return (int)i;
	return -1;
}

/* Runs prog on in and expects exp (byte for byte) and valid checksums. */
#define XLATE(t, fd, in, inlen, exp, explen) do { \
	unsigned char _o[512]; size_t _ol = 0; \
	int _rv = run(fd, in, inlen, _o, &_ol); \
	CHECK_EQ_INT(_rv, TC_ACT_OK); \
	CHECK_EQ_INT(_ol, explen); \
	if (_ol == (explen)) { \
		int _d = diff_at(_o, exp, explen); \
		if (_d >= 0) \
			fprintf(stderr, "  first difference at byte %d: %02x, expected %02x\n", \
				_d, _o[_d], (exp)[_d]); \
		CHECK_EQ_INT(_d, -1); \
	} \
	CHECK(t_csums_ok(_o, _ol, (t)->l2)); \
} while (0)

static inline int ct_get(struct t *t, int dir, uint8_t proto, uint32_t s, uint32_t d, uint16_t sp,
		  uint16_t dp, struct gn_ct_entry *e)
{
	struct gn_ct_key k = { .saddr = htonl(s), .daddr = htonl(d), .sport = htons(sp),
			       .dport = htons(dp), .proto = proto, .dir = (uint8_t)dir };

	return bpf_map_lookup_elem(gn_nat_ct_fd(t->n), &k, e);
}

static inline int need_root(void)
{
	return geteuid() == 0;
}

#define OPEN_OR_SKIP(t, dev, max) do { \
	if (!need_root()) \
		SKIP_TEST("needs root to load BPF"); \
	REQUIRE(t_open(t, dev, max) == 0); \
} while (0)

#endif
