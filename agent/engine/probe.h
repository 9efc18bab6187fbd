/* Probes used by `subagent verify`: one ICMP echo, TCP or UDP exchange with a remote
 * address, with a deadline, checking that what comes back is what was sent. And the
 * responder the gateway agent runs for them: TCP and UDP echo on its health-check IP. */
#ifndef SA_PROBE_H
#define SA_PROBE_H

#include <stddef.h>
#include <stdint.h>

#define PROBE_PORT 4800

/* Each returns 0 and the round-trip time, or -errno (-ETIMEDOUT, -ECONNREFUSED, -EBADMSG
 * when the answer differs from the payload). dst in host byte order. */
int probe_icmp(uint32_t dst, size_t payload, int timeout_ms, uint64_t *rtt_ns)
	__attribute__((warn_unused_result));
int probe_tcp(uint32_t dst, uint16_t port, size_t payload, int timeout_ms, uint64_t *rtt_ns)
	__attribute__((warn_unused_result));
int probe_udp(uint32_t dst, uint16_t port, size_t payload, int timeout_ms, uint64_t *rtt_ns)
	__attribute__((warn_unused_result));

struct responder;
/* TCP and UDP echo on addr:port, served by a thread. NULL + errno. */
struct responder *responder_start(uint32_t addr, uint16_t port);
void responder_stop(struct responder *r);

#endif
