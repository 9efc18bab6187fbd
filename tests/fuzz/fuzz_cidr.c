/* libFuzzer target: CIDR and IPv4 parsing of untrusted strings (join flags, broker objects). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/cidr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[64];
	struct cidr4 c;
	uint32_t a;

	if (size >= sizeof(buf))
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	if (cidr4_parse(buf, &c) == 0) {
		char out[CIDR4_STRLEN];
		struct cidr4 c2;

		cidr4_format(&c, out);
		/* What parses must print back to something that parses to the same CIDR. */
		if (cidr4_parse(out, &c2) != 0 || c2.addr != c.addr || c2.len != c.len)
			abort();
	}
	(void)ip4_parse(buf, &a);
	return 0;
}
