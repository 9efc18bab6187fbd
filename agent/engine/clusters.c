/* The registered clusters as the gateway engine knows them (from the broker's clusters
 * informer, or from the cache while the broker is down): what each remote Endpoint is
 * checked against (admit.h). A cluster deleted at the broker takes its remote with it at
 * once: its tunnel is torn down and its identity is no longer accepted over IKE. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/engine/engine_int.h"
#include "broker/client/client.h"
#include "broker/creds/cluster_config.h"
#include "common/log.h"

const struct admit_cluster *eng_cluster_find(const struct engine *e, const char *id)
{
	for (unsigned i = 0; i < e->n_clusters; i++)
		if (!strcmp(e->clusters[i].id, id))
			return &e->clusters[i];
	return NULL;
}

/* The cluster is gone: so is its remote. */
static void forget(struct engine *e, unsigned i, const char *why)
{
	char msg[160];

	pr_info("cluster %s %s\n", e->clusters[i].id, why);
	for (unsigned r = 0; r < e->n; r++) {
		if (!strcmp(e->r[r].ep.cluster_id, e->clusters[i].id)) {
			snprintf(msg, sizeof(msg), "cluster %s %s", e->clusters[i].id, why);
			eng_remote_drop(e, &e->r[r], msg);
			break;
		}
	}
	e->clusters[i] = e->clusters[--e->n_clusters];
}

int eng_cluster_upsert(struct engine *e, const cJSON *obj)
{
	struct admit_cluster c;
	struct admit_cluster *slot = NULL;
	char err[160];

	if (admit_cluster_from_json(obj, &c, err, sizeof(err))) {
		const char *name = brk_obj_name(obj);

		pr_warn("ignore cluster %.64s: %s\n", name ? name : "(no name)", err);
		return 0;
	}
	for (unsigned i = 0; i < e->n_clusters && !slot; i++)
		if (!strcmp(e->clusters[i].id, c.id))
			slot = &e->clusters[i];
	if (slot && admit_cluster_equal(slot, &c))
		return 0;
	if (!slot) {
		struct admit_cluster *n;

		if (e->n_clusters == ENGINE_MAX_CLUSTERS) {
			pr_err("ignore cluster %s: already %d clusters\n", c.id, ENGINE_MAX_CLUSTERS);
			return 0;
		}
		n = realloc(e->clusters, (e->n_clusters + 1) * sizeof(*n));
		if (!n)
			return 0;
		e->clusters = n;
		slot = &e->clusters[e->n_clusters++];
	}
	*slot = c;
	return 1;
}

int eng_cluster_delete(struct engine *e, const cJSON *obj)
{
	const char *name = brk_obj_name(obj);

	for (unsigned i = 0; name && i < e->n_clusters; i++) {
		if (!strcmp(e->clusters[i].id, name)) {
			forget(e, i, "was deleted at the broker");
			return 1;
		}
	}
	return 0;
}

int eng_cluster_reconcile(struct engine *e)
{
	int changed = 0;

	for (unsigned i = 0; i < e->n_clusters;) {
		cJSON *o = brk_informer_get(e->inf_clusters, e->clusters[i].id);

		if (o) {
			cJSON_Delete(o);
			i++;
			continue;
		}
		forget(e, i, "is no longer registered at the broker");
		changed = 1;
	}
	return changed;
}

void eng_clusters_free(struct engine *e)
{
	free(e->clusters);
	e->clusters = NULL;
	e->n_clusters = 0;
}
