/* libFuzzer target: the broker's parser of certificate requests (untrusted: any cluster
 * token holder sends them). Whatever parses names a cluster ID and a key size it accepts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/creds/pki.h"
#include "common/log.h"
#include "common/name.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pki_csr_info ri;
	char err[256];

	log_set_level(LOG_LVL_ERR);
	if (pki_csr_parse((const char *)data, size, &ri, err, sizeof(err))) {
		if (!err[0])
			abort();	/* a refusal always says why */
		return 0;
	}
	if (!name_is_dns_label(ri.id) || (ri.key_bits != 256 && ri.key_bits != 384))
		abort();
	return 0;
}
