/* libFuzzer target: the health checker's parser of ICMP packets from the network. */
#include <stddef.h>
#include <stdint.h>

#include "agent/engine/health.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint16_t id, seq;
	uint64_t ts;

	(void)health_parse_reply(data, size, &id, &seq, &ts);
	return 0;
}
