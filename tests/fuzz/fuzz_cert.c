/* libFuzzer target: the gateway's parser of the certificate the broker returns (and of
 * cached ones on disk). Whatever parses has a sane validity and identity. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/creds/pki.h"
#include "common/log.h"
#include "common/name.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pki_cert_info ci;
	char err[256];

	log_set_level(LOG_LVL_ERR);
	if (pki_cert_parse((const char *)data, size, &ci, err, sizeof(err))) {
		if (!err[0])
			abort();
		return 0;
	}
	if (ci.not_after <= ci.not_before || strlen(ci.fingerprint) != 64 ||
	    (!ci.is_ca && !name_is_dns_label(ci.id)))
		abort();
	return 0;
}
