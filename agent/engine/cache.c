/* The remote endpoints on disk (STATE/endpoints.json): a gateway restarted while the broker
 * is down rebuilds its tunnels from them. */
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
	cJSON *arr = cJSON_CreateArray();
	char path[PATH_MAX], *s;
	int rc;

	if (!arr)
		return;
	for (unsigned i = 0; i < e->n; i++)
		cJSON_AddItemToArray(arr, endpoint_to_json(&e->r[i].ep));
	s = cJSON_Print(arr);
	cJSON_Delete(arr);
	if (!s)
		return;
	cache_path(e, path, sizeof(path));
	rc = util_write_file(path, s, strlen(s), 0600);
	if (rc)
		pr_warn("write %s: %s\n", path, strerror(-rc));
	free(s);
}

void eng_cache_load(struct engine *e)
{
	char path[PATH_MAX], *s;
	const cJSON *it;
	cJSON *arr;
	int n = 0;

	cache_path(e, path, sizeof(path));
	s = util_read_file(path, CACHE_MAX, NULL);
	if (!s)
		return;
	arr = cJSON_Parse(s);
	free(s);
	if (!cJSON_IsArray(arr)) {
		pr_warn("ignore %s: not a JSON array\n", path);
		cJSON_Delete(arr);
		return;
	}
	cJSON_ArrayForEach(it, arr)
		n += eng_remote_upsert(e, it);
	cJSON_Delete(arr);
	pr_info("cache: %d remote endpoint(s) from %s\n", n, path);
}
