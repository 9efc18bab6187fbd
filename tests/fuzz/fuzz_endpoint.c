/* libFuzzer target: remote Endpoint objects from the broker (untrusted JSON). What decodes
 * must encode and decode again to an equal endpoint. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/client/endpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sa_endpoint ep, ep2;
	char err[256];
	cJSON *o = cJSON_ParseWithLength((const char *)data, size);

	if (!o)
		return 0;
	if (endpoint_from_json(o, &ep, err, sizeof(err)) == 0) {
		cJSON *o2 = endpoint_to_json(&ep);

		if (!o2 || endpoint_from_json(o2, &ep2, err, sizeof(err)) != 0 ||
		    !endpoint_equal(&ep, &ep2))
			abort();
		cJSON_Delete(o2);
	}
	cJSON_Delete(o);
	return 0;
}
