/* What the gateway engine knows of the other clusters, on disk (STATE/endpoints.json): a
 * gateway restarted while the broker is down rebuilds its tunnels from it.
 *   {"origin":{"brokerCA":..,"clusterID":..,"registrationUID":..},
 *    "clusters":[Cluster objects],"endpoints":[Endpoint objects]}
 * A file written for another broker or registration is discarded (broker/creds/origin.h),
 * and what it holds passes the same checks as what the broker sends. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/engine/engine_int.h"
#include "common/log.h"
#include "common/util.h"

#define CACHE_MAX (4 * 1024 * 1024)

static void cache_path(struct engine *e, char *buf, size_t len)
{
	snprintf(buf, len, "%s/endpoints.json", e->c.state_dir);
}

void eng_cache_save(struct engine *e)
{
	cJSON *doc = cJSON_CreateObject(), *cl, *eps;
	char path[PATH_MAX];
	int rc;

	if (!doc || !(cl = cJSON_AddArrayToObject(doc, "clusters")) ||
	    !(eps = cJSON_AddArrayToObject(doc, "endpoints"))) {
		cJSON_Delete(doc);
		return;
	}
	for (unsigned i = 0; i < e->n_clusters; i++)
		cJSON_AddItemToArray(cl, admit_cluster_to_json(&e->clusters[i]));
	for (unsigned i = 0; i < e->n; i++)
		cJSON_AddItemToArray(eps, endpoint_to_json(&e->r[i].ep));
	cache_path(e, path, sizeof(path));
	rc = origin_cache_save(path, &e->origin, doc);
	if (rc)
		pr_warn("write %s: %s\n", path, strerror(-rc));
	cJSON_Delete(doc);
}

void eng_cache_load(struct engine *e)
{
	char path[PATH_MAX];
	const cJSON *it;
	cJSON *doc;
	int n = 0;

	cache_path(e, path, sizeof(path));
	doc = origin_cache_load(path, &e->origin, CACHE_MAX, "the remote clusters");
	if (!doc)
		return;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "clusters"))
		(void)eng_cluster_upsert(e, it);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "endpoints"))
		n += eng_remote_upsert(e, it);
	cJSON_Delete(doc);
	pr_info("cache: %u registered cluster(s), %d remote endpoint(s) from %s\n", e->n_clusters,
		n, path);
}
