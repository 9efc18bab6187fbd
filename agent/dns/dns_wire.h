/* DNS wire format through libldns: one query message in, one response message out.
 * Every byte of the query is untrusted (fuzzed by tests/fuzz/fuzz_dns_query.c). */
#ifndef SA_DNS_WIRE_H
#define SA_DNS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "agent/dns/dns_records.h"

#define DNS_UDP_PLAIN	512	/* a response without EDNS */
#define DNS_EDNS_SIZE	1232	/* the UDP size this server offers (DNS flag day 2020) */
#define DNS_TCP_MAX	65535

struct dns_wire_stats {
	uint64_t queries, nxdomain, nodata, notimp, refused, formerr, truncated, dropped;
};

/* Answers the message q (qlen bytes). cap: how large the response may be on this
 * transport (DNS_TCP_MAX for TCP; for UDP the size is chosen here from the query's EDNS,
 * pass DNS_TCP_MAX too and udp = true). ans: scratch space (large; reused by the caller).
 * Returns the response in *out (malloc'd, the caller frees it) and its length, or 0 when
 * the message gets no response (too short, or a response itself). */
size_t dns_wire_answer(struct dns_records *db, const uint8_t *q, size_t qlen, bool udp,
		       struct dns_answer *ans, uint8_t **out, struct dns_wire_stats *st);

#endif
