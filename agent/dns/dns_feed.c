/* The DNS server's feed from the broker, and its cache file (dns_feed.h). */
#include "agent/dns/dns_feed.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/client/client.h"
#include "broker/client/queue.h"
#include "broker/client/service.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"

#define CACHE_MAX (64 * 1024 * 1024)

enum { SRC_IMPORTS, SRC_GATEWAYS, SRC_GLOBAL_IPS, N_SRC };
static const char *const resources[N_SRC] = { SVC_RES_IMPORTS, "gatewaystatuses", "globalingressips" };

struct dns_feed {
	struct dns_records *db;
	struct brk_queue *q;
	struct brk_informer *inf[N_SRC];
	bool used[N_SRC], synced[N_SRC];
	cJSON *cached[N_SRC];	/* what the cache file held, until the broker lists */
	char *cache_path, *broker, *cluster;
};

static void apply(struct dns_feed *f, int src, const cJSON *obj, bool deleted)
{
	char err[SVC_ERR_MAX];
	int rc;

	switch (src) {
	case SRC_IMPORTS:
		rc = dns_records_import(f->db, obj, deleted, err, sizeof(err));
		if (rc)
			pr_warn("serviceimport %s: %s; ignored\n", json_str(obj, "metadata.name", "?"),
				rc == -EINVAL ? err : strerror(-rc));
		break;
	case SRC_GATEWAYS:
		dns_records_gateway(f->db, obj, deleted);
		break;
	case SRC_GLOBAL_IPS:
		dns_records_global_ip(f->db, obj, deleted);
		break;
	}
}

/* The first list of a source: what the cache held and the broker no longer has goes. */
static void first_sync(struct dns_feed *f, int src)
{
	const cJSON *o;
	unsigned gone = 0;

	cJSON_ArrayForEach(o, f->cached[src]) {
		const char *name = json_str(o, "metadata.name", NULL);
		cJSON *cur = name ? brk_informer_get(f->inf[src], name) : NULL;

		if (!cur) {
			apply(f, src, o, true);
			gone++;
		}
		cJSON_Delete(cur);
	}
	cJSON_Delete(f->cached[src]);
	f->cached[src] = NULL;
	pr_info("%s listed from the broker%s\n", resources[src], gone ? " (cached objects it no longer has dropped)" : "");
}

static bool all_synced(const struct dns_feed *f)
{
	for (int i = 0; i < N_SRC; i++)
		if (f->used[i] && !f->synced[i])
			return false;
	return true;
}

bool dns_feed_synced(const struct dns_feed *f)
{
	return all_synced(f);
}

static void write_cache(struct dns_feed *f)
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;
	int err;

	if (!o || !cJSON_AddStringToObject(o, "broker", f->broker) ||
	    !cJSON_AddStringToObject(o, "cluster", f->cluster) ||
	    !cJSON_AddNumberToObject(o, "writtenUnix", (double)time(NULL)))
		goto out;
	for (int i = 0; i < N_SRC; i++) {
		cJSON *l = f->used[i] ? brk_informer_list(f->inf[i]) : NULL;

		if (l && !cJSON_AddItemToObject(o, resources[i], l))
			cJSON_Delete(l);
	}
	s = cJSON_PrintUnformatted(o);
	if (!s)
		goto out;
	err = util_write_file(f->cache_path, s, strlen(s), 0600);
	if (err)
		pr_warn("write %s: %s\n", f->cache_path, strerror(-err));
out:
	free(s);
	cJSON_Delete(o);
}

static void load_cache(struct dns_feed *f)
{
	size_t len;
	char *s = util_read_file(f->cache_path, CACHE_MAX, &len);
	cJSON *o;
	unsigned n = 0;

	if (!s) {
		if (errno != ENOENT)
			pr_warn("read %s: %s\n", f->cache_path, strerror(errno));
		return;
	}
	o = cJSON_ParseWithLength(s, len);
	free(s);
	if (!o || strcmp(json_str(o, "broker", ""), f->broker) || strcmp(json_str(o, "cluster", ""), f->cluster)) {
		pr_warn("%s: not a cache of this cluster and broker; ignored\n", f->cache_path);
		cJSON_Delete(o);
		return;
	}
	for (int i = 0; i < N_SRC; i++) {
		cJSON *l = cJSON_DetachItemFromObjectCaseSensitive(o, resources[i]);
		const cJSON *it;

		if (!f->used[i] || !cJSON_IsArray(l)) {
			cJSON_Delete(l);
			continue;
		}
		cJSON_ArrayForEach(it, l) {
			apply(f, i, it, false);
			n++;
		}
		f->cached[i] = l;
	}
	pr_info("%u objects from the cache %s (until the broker answers)\n", n, f->cache_path);
	cJSON_Delete(o);
}

void dns_feed_drain(struct dns_feed *f)
{
	uint32_t serial = dns_records_serial(f->db);
	bool changed = false;

	for (struct brk_qev *e = brk_queue_take(f->q); e; e = brk_qev_free(e)) {
		switch (e->type) {
		case BRK_QEV_UPSERT:
		case BRK_QEV_DELETE:
			apply(f, e->source, e->obj, e->type == BRK_QEV_DELETE);
			break;
		case BRK_QEV_SYNCED:
			if (!f->synced[e->source]) {
				f->synced[e->source] = true;
				first_sync(f, e->source);
				changed = true;
			}
			break;
		}
	}
	/* only a complete picture replaces the file, and only when the records changed */
	changed |= dns_records_serial(f->db) != serial;
	if (changed && f->cache_path && all_synced(f))
		write_cache(f);
}

int dns_feed_fd(const struct dns_feed *f)
{
	return brk_queue_fd(f->q);
}

void dns_feed_stop(struct dns_feed *f)
{
	if (!f)
		return;
	for (int i = 0; i < N_SRC; i++)
		brk_informer_cancel(f->inf[i]);
	for (int i = 0; i < N_SRC; i++)
		brk_informer_stop(f->inf[i]);
	brk_queue_free(f->q);
	for (int i = 0; i < N_SRC; i++)
		cJSON_Delete(f->cached[i]);
	free(f->cache_path);
	free(f->broker);
	free(f->cluster);
	free(f);
}

struct dns_feed *dns_feed_start(struct brk_client *c, struct dns_records *db, bool globalnet,
				const char *cache_path, const char *broker, const char *cluster)
{
	struct dns_feed *f = calloc(1, sizeof(*f));
	int err = ENOMEM;

	if (!f)
		return NULL;
	f->db = db;
	f->used[SRC_IMPORTS] = f->used[SRC_GATEWAYS] = true;
	f->used[SRC_GLOBAL_IPS] = globalnet;
	f->broker = strdup(broker ? broker : "");
	f->cluster = strdup(cluster ? cluster : "");
	f->q = brk_queue_new();
	if (!f->broker || !f->cluster || !f->q || (cache_path && !(f->cache_path = strdup(cache_path))))
		goto err;
	if (f->cache_path)
		load_cache(f);
	for (int i = 0; i < N_SRC; i++) {
		if (!f->used[i])
			continue;
		f->inf[i] = brk_queue_watch(f->q, c, resources[i], i);
		if (!f->inf[i]) {
			err = errno;
			goto err;
		}
	}
	return f;
err:
	dns_feed_stop(f);
	errno = err;
	return NULL;
}
