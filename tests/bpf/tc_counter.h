/* The ABI of tests/bpf/tc_counter.bpf.c (a test-only program) shared with its test. */
#ifndef SA_TESTS_BPF_TC_COUNTER_H
#define SA_TESTS_BPF_TC_COUNTER_H

#include <linux/types.h>

/* tc_counter: packet/byte counters per class, a per-CPU array indexed by SA_CNT_*. */
enum {
	SA_CNT_OTHER = 0,	/* not IPv4 */
	SA_CNT_TCP,
	SA_CNT_UDP,
	SA_CNT_ICMP,
	SA_CNT_IP_OTHER,
	SA_CNT_MALFORMED,	/* too short to hold the headers it claims */
	SA_CNT_MAX,
};

struct sa_counter {
	__u64 packets;
	__u64 bytes;
};

_Static_assert(sizeof(struct sa_counter) == 16, "sa_counter ABI");

#endif
