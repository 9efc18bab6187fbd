/* The DNS records cache: ServiceImports, this cluster's gateway status, GlobalIngressIPs
 * (dns_records.h). Every object comes from the broker and is checked before use. */
#include "agent/dns/dns_records_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cidr.h"
#include "common/json.h"
#include "common/log.h"
#include "common/name.h"

bool dns_zone_ok(const char *zone)
{
	return zone && strlen(zone) <= DNS_NAME_MAX - 2 * (SVC_LABEL_MAX + 1) &&
	       name_is_dns_subdomain(zone);
}

struct dns_records *dns_records_new(const char *local_cluster, bool globalnet, uint32_t ttl,
				    const char *const *zones, unsigned n_zones)
{
	struct dns_records *db;

	if (!name_is_dns_label(local_cluster) || !n_zones || n_zones > DNS_ZONE_MAX) {
		errno = EINVAL;
		return NULL;
	}
	for (unsigned i = 0; i < n_zones; i++) {
		if (!dns_zone_ok(zones[i])) {
			errno = EINVAL;
			return NULL;
		}
	}
	db = calloc(1, sizeof(*db));
	if (!db)
		return NULL;
	strcpy(db->local, local_cluster);
	db->globalnet = globalnet;
	db->ttl = ttl;
	db->serial = 1;
	for (unsigned i = 0; i < n_zones; i++)
		strcpy(db->zones[db->n_zones++], zones[i]);
	return db;
}

static void svc_free(struct dns_svc *s)
{
	svc_import_free(&s->im);
	free(s->cw);
	free(s);
}

void dns_records_free(struct dns_records *db)
{
	if (!db)
		return;
	for (unsigned b = 0; b < DNS_BUCKETS; b++) {
		for (struct dns_svc *s = db->buckets[b], *n; s; s = n) {
			n = s->next;
			svc_free(s);
		}
	}
	for (unsigned i = 0; i < db->n_gws; i++)
		free(db->gws[i].conns);
	free(db->gws);
	free(db->gips);
	free(db);
}

uint32_t dns_records_serial(const struct dns_records *db)
{
	return db->serial;
}

uint32_t dns_records_ttl(const struct dns_records *db)
{
	return db->ttl;
}

unsigned dns_records_services(const struct dns_records *db)
{
	return db->n_svcs;
}

/* ---- services ---- */

/* FNV-1a over "name.ns" */
static unsigned bucket(const char *name, size_t nlen, const char *ns, size_t nslen)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < nlen; i++)
		h = (h ^ (uint8_t)name[i]) * 16777619u;
	h = (h ^ '.') * 16777619u;
	for (size_t i = 0; i < nslen; i++)
		h = (h ^ (uint8_t)ns[i]) * 16777619u;
	return h % DNS_BUCKETS;
}

struct dns_svc *dns_svc_find(const struct dns_records *db, const char *name, size_t nlen,
			     const char *ns, size_t nslen)
{
	for (struct dns_svc *s = db->buckets[bucket(name, nlen, ns, nslen)]; s; s = s->next)
		if (strlen(s->im.name) == nlen && !memcmp(s->im.name, name, nlen) &&
		    strlen(s->im.ns) == nslen && !memcmp(s->im.ns, ns, nslen))
			return s;
	return NULL;
}

bool dns_ns_exists(const struct dns_records *db, const char *ns, size_t nslen)
{
	for (unsigned b = 0; b < DNS_BUCKETS; b++)
		for (struct dns_svc *s = db->buckets[b]; s; s = s->next)
			if (strlen(s->im.ns) == nslen && !memcmp(s->im.ns, ns, nslen))
				return true;
	return false;
}

static void unlink_svc(struct dns_records *db, const char *name, const char *ns)
{
	struct dns_svc **pp = &db->buckets[bucket(name, strlen(name), ns, strlen(ns))];

	for (; *pp; pp = &(*pp)->next) {
		if (!strcmp((*pp)->im.name, name) && !strcmp((*pp)->im.ns, ns)) {
			struct dns_svc *s = *pp;

			*pp = s->next;
			svc_free(s);
			db->n_svcs--;
			return;
		}
	}
}

int dns_records_import(struct dns_records *db, const cJSON *obj, bool deleted, char *err, size_t len)
{
	struct dns_svc *s;
	unsigned b;
	int rc;

	if (deleted) {
		const char *name = json_str(obj, "spec.name", ""), *ns = json_str(obj, "spec.namespace", "");

		if (dns_svc_find(db, name, strlen(name), ns, strlen(ns))) {
			unlink_svc(db, name, ns);
			db->serial++;
		}
		return 0;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	rc = svc_import_from_json(obj, &s->im, err, len);
	if (rc) {
		svc_free(s);
		return rc;
	}
	if (s->im.n_clusters && !(s->cw = calloc(s->im.n_clusters, sizeof(*s->cw)))) {
		svc_free(s);
		return -ENOMEM;
	}
	(void)!svc_import_name(s->key, sizeof(s->key), s->im.name, s->im.ns);
	unlink_svc(db, s->im.name, s->im.ns);
	b = bucket(s->im.name, strlen(s->im.name), s->im.ns, strlen(s->im.ns));
	s->next = db->buckets[b];
	db->buckets[b] = s;
	db->n_svcs++;
	db->serial++;
	return 0;
}

/* ---- this cluster's gateways ---- */

/* Drops the gateway called name; returns whether it was there. */
static bool gw_drop(struct dns_records *db, const char *name)
{
	for (unsigned i = 0; i < db->n_gws; i++) {
		if (!strcmp(db->gws[i].name, name)) {
			free(db->gws[i].conns);
			db->gws[i] = db->gws[--db->n_gws];
			return true;
		}
	}
	return false;
}

/* What answers depend on: role, epoch, connections (not the report's time). */
static bool gw_same(const struct dns_gw *a, const struct dns_gw *b)
{
	if (a->active != b->active || a->epoch != b->epoch || a->n_conns != b->n_conns)
		return false;
	for (unsigned i = 0; i < a->n_conns; i++)
		if (strcmp(a->conns[i].cluster, b->conns[i].cluster) ||
		    a->conns[i].connected != b->conns[i].connected)
			return false;
	return true;
}

static const struct dns_gw *gw_find(const struct dns_records *db, const char *name)
{
	for (unsigned i = 0; i < db->n_gws; i++)
		if (!strcmp(db->gws[i].name, name))
			return &db->gws[i];
	return NULL;
}

void dns_records_gateway(struct dns_records *db, const cJSON *obj, bool deleted)
{
	const char *name = json_str(obj, "metadata.name", NULL);
	const cJSON *conns = json_at(obj, "spec.connections"), *c, *v;
	struct dns_gw g = { 0 }, *ng;
	int n;

	if (!name || strlen(name) >= sizeof(g.name) || strcmp(json_str(obj, "spec.clusterID", ""), db->local))
		return;
	if (deleted) {
		if (gw_drop(db, name))
			db->serial++;
		return;
	}
	strcpy(g.name, name);
	g.active = !strcmp(json_str(obj, "spec.haStatus", ""), "active");
	v = json_at(obj, "spec.epoch");
	g.epoch = cJSON_IsNumber(v) && v->valuedouble >= 0 ? (uint64_t)v->valuedouble : 0;
	v = json_at(obj, "spec.updatedUnix");
	g.updated = cJSON_IsNumber(v) ? v->valuedouble : 0;
	n = cJSON_IsArray(conns) ? cJSON_GetArraySize(conns) : 0;
	if (n > SVC_MAX_CLUSTERS)
		n = SVC_MAX_CLUSTERS;
	if (n && !(g.conns = calloc((size_t)n, sizeof(*g.conns))))
		return;
	cJSON_ArrayForEach(c, conns) {
		const char *cl = json_str(c, "cluster", NULL);

		if ((int)g.n_conns == n)
			break;
		if (!name_is_dns_label(cl))
			continue;
		strcpy(g.conns[g.n_conns].cluster, cl);
		g.conns[g.n_conns++].connected = !strcmp(json_str(c, "status", ""), "connected");
	}
	/* a report that changes nothing the answers use does not change the serial (the
	 * gateways report every few seconds; the serial also decides cache file writes) */
	if (!gw_find(db, name) || !gw_same(gw_find(db, name), &g))
		db->serial++;
	gw_drop(db, name);
	ng = realloc(db->gws, (db->n_gws + 1) * sizeof(*ng));
	if (!ng) {
		free(g.conns);
		return;
	}
	db->gws = ng;
	db->gws[db->n_gws++] = g;
}

/* The active gateway's view: the one with the highest epoch, then the latest report. */
static const struct dns_gw *active_gw(const struct dns_records *db)
{
	const struct dns_gw *best = NULL;

	for (unsigned i = 0; i < db->n_gws; i++) {
		const struct dns_gw *g = &db->gws[i];

		if (g->active && (!best || g->epoch > best->epoch ||
				  (g->epoch == best->epoch && g->updated > best->updated)))
			best = g;
	}
	return best;
}

bool dns_records_cluster_up(const struct dns_records *db, const char *cluster)
{
	const struct dns_gw *g;

	if (!strcmp(cluster, db->local))
		return true;
	g = active_gw(db);
	if (!g)
		return true;	/* nothing known yet: do not hide anything */
	for (unsigned i = 0; i < g->n_conns; i++)
		if (!strcmp(g->conns[i].cluster, cluster))
			return g->conns[i].connected;
	return false;
}

/* ---- global IPs ---- */

static int gip_cmp(const void *a, const void *b)
{
	const struct dns_gip *x = a, *y = b;
	int c = strcmp(x->cluster, y->cluster);

	if (c)
		return c;
	return x->target < y->target ? -1 : x->target > y->target;
}

void dns_records_global_ip(struct dns_records *db, const cJSON *obj, bool deleted)
{
	const char *name = json_str(obj, "metadata.name", NULL), *cl = json_str(obj, "spec.clusterID", NULL);
	const char *t = json_str(obj, "spec.service", NULL), *g = json_str(obj, "status.globalIP", NULL);
	struct dns_gip e = { 0 }, *n;
	size_t i;

	if (!name || strlen(name) >= sizeof(e.name))
		return;
	for (i = 0; i < db->n_gips && strcmp(db->gips[i].name, name); i++)
		;
	if (i < db->n_gips) {
		memmove(&db->gips[i], &db->gips[i + 1], (db->n_gips - i - 1) * sizeof(*db->gips));
		db->n_gips--;
		db->serial++;
	}
	if (!t)
		t = json_str(obj, "spec.pod", NULL);
	if (deleted || !name_is_dns_label(cl) || !t || !g || ip4_parse(t, &e.target) ||
	    ip4_parse(g, &e.global))
		return;
	strcpy(e.name, name);
	strcpy(e.cluster, cl);
	n = realloc(db->gips, (db->n_gips + 1) * sizeof(*n));
	if (!n)
		return;
	db->gips = n;
	db->gips[db->n_gips++] = e;
	qsort(db->gips, db->n_gips, sizeof(*db->gips), gip_cmp);
	db->serial++;
}

uint32_t dns_xlate(const struct dns_records *db, const char *cluster, uint32_t ip)
{
	struct dns_gip key = { .target = ip }, *f;

	if (!db->globalnet || !strcmp(cluster, db->local))
		return ip;
	if (!db->n_gips)
		return 0;
	snprintf(key.cluster, sizeof(key.cluster), "%s", cluster);
	f = bsearch(&key, db->gips, db->n_gips, sizeof(*db->gips), gip_cmp);
	return f ? f->global : 0;
}
