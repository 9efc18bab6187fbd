/* libFuzzer target: the gateway's decoding of Cluster objects (from the broker or its
 * cache: what a remote Endpoint may claim). Whatever decodes re-encodes to the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "agent/engine/admit.h"
#include "common/log.h"
#include "common/name.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct admit_cluster c, back;
	char err[256];
	cJSON *o, *j;

	log_set_level(LOG_LVL_ERR);
	o = cJSON_ParseWithLength((const char *)data, size);
	if (!o)
		return 0;
	if (admit_cluster_from_json(o, &c, err, sizeof(err))) {
		cJSON_Delete(o);
		return 0;
	}
	if (!name_is_dns_label(c.id) || c.n_nets > ADMIT_MAX_NETS || c.n_global > ADMIT_MAX_NETS)
		abort();
	j = admit_cluster_to_json(&c);
	if (j && (admit_cluster_from_json(j, &back, err, sizeof(err)) || !admit_cluster_equal(&c, &back)))
		abort();
	cJSON_Delete(j);
	cJSON_Delete(o);
	return 0;
}
