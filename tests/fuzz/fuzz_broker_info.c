/* libFuzzer target: broker-info.subm decoding. Whatever decodes must re-encode and decode
 * again to the same values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/creds/broker_info.h"
#include "common/log.h"
#include "common/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct broker_info bi, again;
	char err[BRK_ERR_MAX];
	char *enc;

	log_set_level(LOG_LVL_ERR);
	if (broker_info_decode((const char *)data, size, &bi, err))
		return 0;
	enc = broker_info_encode(&bi, err);
	if (!enc)
		abort();
	if (broker_info_decode(enc, strlen(enc), &again, err))
		abort();
	if (again.n_urls != bi.n_urls || strcmp(again.ca_pem, bi.ca_pem) ||
	    strcmp(again.join_token, bi.join_token) || (!again.psk != !bi.psk) || (bi.psk && strcmp(again.psk, bi.psk)) ||
	    again.ike.natt_port != bi.ike.natt_port ||
	    again.globalnet.cluster_size != bi.globalnet.cluster_size ||
	    again.globalnet.enabled != bi.globalnet.enabled)
		abort();
	for (size_t i = 0; i < bi.n_urls; i++)
		if (strcmp(again.urls[i], bi.urls[i]))
			abort();
	util_free_secret(enc);
	broker_info_free(&again);
	broker_info_free(&bi);
	return 0;
}
