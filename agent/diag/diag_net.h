/* The path MTU probe of diagnose (diag_net.c), exposed for tests and its fuzz target. */
#ifndef SA_DIAG_NET_H
#define SA_DIAG_NET_H

#include <stddef.h>
#include <stdint.h>

/* The largest packet (IP header included, lo..hi) that reaches dst with DF set and comes
 * back whole as an ICMP echo reply, by bisection. 0 and *found, -EHOSTUNREACH (not even
 * lo comes back), other -errno (raw sockets need CAP_NET_RAW). */
int diag_pmtu(uint32_t dst, int lo, int hi, int timeout_ms, int *found)
	__attribute__((warn_unused_result));
/* Whether pkt (what a raw ICMP socket reads: IPv4 header, ICMP) is the whole echo reply
 * to (id, seq) for a size-byte echo. Reads untrusted bytes. */
int diag_echo_reply_ok(const uint8_t *pkt, size_t n, uint16_t id, uint16_t seq, int size);

#endif
