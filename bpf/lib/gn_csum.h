/* Internet checksum arithmetic (RFC 1071/1624) for fields the kernel helpers cannot reach
 * cleanly: the headers embedded in an ICMP error. The sums work on 16-bit words as they lie
 * in memory, so they are independent of the host byte order. */
#ifndef SA_BPF_GN_CSUM_H
#define SA_BPF_GN_CSUM_H

#include <linux/types.h>

static __always_inline __u16 gn_csum_fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). */
static __always_inline __u16 gn_csum_replace2(__u16 csum, __u16 from, __u16 to)
{
	__u32 s = (__u16)~csum + (__u32)(__u16)~from + to;

	return (__u16)~gn_csum_fold(s);
}

static __always_inline __u16 gn_csum_replace4(__u16 csum, __u32 from, __u32 to)
{
	__u32 s = (__u16)~csum;

	s += (~from & 0xffff) + (~from >> 16);
	s += (to & 0xffff) + (to >> 16);
	return (__u16)~gn_csum_fold(s);
}

#endif
