/* ServiceImports aggregated from ServiceExports (svc_import.h). */
#include "broker/server/svc_import.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/client/service.h"
#include "broker/server/objects.h"
#include "broker/server/server.h"
#include "broker/store/store.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"

#define MAX_TRIES 16
#define EXPORT_PREFIX "r/" SVC_RES_EXPORTS "/"
#define IMPORT_PREFIX "r/" SVC_RES_IMPORTS "/"

struct ex {
	struct svc_record r;
	const char *ts;		/* metadata.creationTimestamp (RFC 3339: sorts as text) */
};

static int by_age(const void *a, const void *b)
{
	const struct ex *x = a, *y = b;
	int c = strcmp(x->ts, y->ts);

	return c ? c : strcmp(x->r.cluster, y->r.cluster);
}

static int by_cluster(const void *a, const void *b)
{
	const struct ex *const *x = a, *const *y = b;

	return strcmp((*x)->r.cluster, (*y)->r.cluster);
}

static bool same_port(const struct svc_port *a, const struct svc_port *b)
{
	if (a->proto != b->proto)
		return false;
	return *a->name || *b->name ? !strcmp(a->name, b->name) : a->port == b->port;
}

static void add_condition(cJSON *conds, const char *reason, const char *msg)
{
	cJSON *c = cJSON_CreateObject();

	if (!c || !cJSON_AddItemToArray(conds, c)) {
		cJSON_Delete(c);
		return;
	}
	cJSON_AddStringToObject(c, "type", "Conflict");
	cJSON_AddStringToObject(c, "status", "True");
	cJSON_AddStringToObject(c, "reason", reason);
	cJSON_AddStringToObject(c, "message", msg);
}

/* The union of the included clusters' ports, oldest first; conflicts become conditions. */
static int port_union(struct ex *v, size_t m, enum svc_type type, struct svc_port *u,
		      unsigned *nu, cJSON *conds)
{
	char msg[256];

	*nu = 0;
	for (size_t i = 0; i < m; i++) {
		if (v[i].r.type != type)
			continue;
		for (unsigned p = 0; p < v[i].r.n_ports; p++) {
			const struct svc_port *sp = &v[i].r.ports[p];
			unsigned k;

			for (k = 0; k < *nu && !same_port(&u[k], sp); k++)
				;
			if (k < *nu) {
				if (u[k].port != sp->port) {
					snprintf(msg, sizeof(msg), "cluster %s exports port %s/%s as %u; the "
						 "import keeps %u (the oldest export's)", v[i].r.cluster,
						 *sp->name ? sp->name : "-", svc_proto_name(sp->proto),
						 sp->port, u[k].port);
					add_condition(conds, "PortConflict", msg);
				}
				continue;
			}
			if (*nu == SVC_MAX_PORTS) {
				snprintf(msg, sizeof(msg), "more than %d distinct ports: cluster %s's %u/%s "
					 "left out", SVC_MAX_PORTS, v[i].r.cluster, sp->port,
					 svc_proto_name(sp->proto));
				add_condition(conds, "TooManyPorts", msg);
				continue;
			}
			u[(*nu)++] = *sp;
		}
	}
	return 0;
}

static cJSON *build(const char *name, const char *ns, struct ex *v, size_t m)
{
	enum svc_type type = v[0].r.type;
	struct svc_port u[SVC_MAX_PORTS];
	struct ex **inc = calloc(m, sizeof(*inc));
	cJSON *o = cJSON_CreateObject(), *spec, *status, *clusters, *conds, *ports;
	char iname[SVC_KEY_MAX], msg[256];
	unsigned nu;
	size_t ni = 0;

	if (!inc || !o || svc_import_name(iname, sizeof(iname), name, ns))
		goto err;
	if (!cJSON_AddStringToObject(o, "apiVersion", SRV_API_GROUP) ||
	    !cJSON_AddStringToObject(o, "kind", "ServiceImport") ||
	    !cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "metadata"), "name", iname) ||
	    !(spec = cJSON_AddObjectToObject(o, "spec")) ||
	    !(status = cJSON_AddObjectToObject(o, "status")) ||
	    !(clusters = cJSON_AddArrayToObject(status, "clusters")) ||
	    !(conds = cJSON_AddArrayToObject(status, "conditions")))
		goto err;
	for (size_t i = 0; i < m; i++) {
		if (v[i].r.type == type) {
			inc[ni++] = &v[i];
			continue;
		}
		snprintf(msg, sizeof(msg), "cluster %s exports it as %s; the import is %s as the oldest "
			 "export (cluster %s) says; %s is left out", v[i].r.cluster,
			 svc_type_name(v[i].r.type), svc_type_name(type), v[0].r.cluster, v[i].r.cluster);
		add_condition(conds, "TypeConflict", msg);
	}
	port_union(v, m, type, u, &nu, conds);
	if (!cJSON_AddStringToObject(spec, "name", name) ||
	    !cJSON_AddStringToObject(spec, "namespace", ns) ||
	    !cJSON_AddStringToObject(spec, "type", svc_type_name(type)) ||
	    !(ports = cJSON_AddArrayToObject(spec, "ports")))
		goto err;
	for (unsigned i = 0; i < nu; i++) {
		cJSON *p = cJSON_CreateObject();

		if (p && !cJSON_AddItemToArray(ports, p)) {
			cJSON_Delete(p);
			p = NULL;
		}
		if (!p || (*u[i].name && !cJSON_AddStringToObject(p, "name", u[i].name)) ||
		    !cJSON_AddStringToObject(p, "protocol", svc_proto_name(u[i].proto)) ||
		    !cJSON_AddNumberToObject(p, "port", u[i].port))
			goto err;
	}
	/* clusters in ID order: the same exports always give the same import */
	qsort(inc, ni, sizeof(*inc), by_cluster);
	for (size_t i = 0; i < ni; i++) {
		cJSON *e = svc_record_to_json(&inc[i]->r, true);

		if (!e || !cJSON_AddItemToArray(clusters, e)) {
			cJSON_Delete(e);
			goto err;
		}
	}
	free(inc);
	return o;
err:
	free(inc);
	cJSON_Delete(o);
	errno = ENOMEM;
	return NULL;
}

cJSON *srv_svc_aggregate(const char *name, const char *ns, cJSON *const *exports, size_t n)
{
	struct ex *v = n ? calloc(n, sizeof(*v)) : NULL;
	size_t m = 0;
	cJSON *o = NULL;

	errno = 0;
	if (n && !v) {
		errno = ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		char err[SVC_ERR_MAX];
		const cJSON *spec = cJSON_GetObjectItemCaseSensitive(exports[i], "spec");

		if (svc_export_spec_from_json(spec, &v[m].r, err, sizeof(err))) {
			pr_warn("serviceexport %s: %s; left out of the import\n",
				json_str(exports[i], "metadata.name", "?"), err);
			svc_record_free(&v[m].r);
			continue;
		}
		if (strcmp(v[m].r.name, name) || strcmp(v[m].r.ns, ns)) {
			svc_record_free(&v[m].r);
			continue;
		}
		v[m++].ts = json_str(exports[i], "metadata.creationTimestamp", "");
	}
	if (m) {
		qsort(v, m, sizeof(*v), by_age);
		o = build(name, ns, v, m);
	}
	for (size_t i = 0; i < m; i++)
		svc_record_free(&v[i].r);
	free(v);
	return o;
}

/* ---- the store side ---- */

struct exports {
	const char *name, *ns;	/* NULL: every export (resync) */
	cJSON **v;
	size_t n, cap;
};

static int collect(const char *key, const char *value, uint64_t mod_rev, void *ctx)
{
	struct exports *e = ctx;
	cJSON *o = cJSON_Parse(value);

	(void)mod_rev;
	if (!o) {
		pr_warn("%s: stored object does not parse; skipped\n", key);
		return 0;
	}
	if (e->name && (strcmp(json_str(o, "spec.name", ""), e->name) ||
			strcmp(json_str(o, "spec.namespace", ""), e->ns))) {
		cJSON_Delete(o);
		return 0;
	}
	if (e->n == e->cap) {
		size_t cap = e->cap ? 2 * e->cap : 16;
		cJSON **nv = realloc(e->v, cap * sizeof(*nv));

		if (!nv) {
			cJSON_Delete(o);
			return -ENOMEM;
		}
		e->v = nv;
		e->cap = cap;
	}
	e->v[e->n++] = o;
	return 0;
}

static void exports_free(struct exports *e)
{
	for (size_t i = 0; i < e->n; i++)
		cJSON_Delete(e->v[i]);
	free(e->v);
	e->v = NULL;
	e->n = e->cap = 0;
}

/* Same spec and status: nothing to write. */
static bool unchanged(const cJSON *old, const cJSON *new)
{
	static const char *const parts[] = { "spec", "status" };

	for (unsigned i = 0; i < ARRAY_SIZE(parts); i++)
		if (!cJSON_Compare(cJSON_GetObjectItemCaseSensitive(old, parts[i]),
				   cJSON_GetObjectItemCaseSensitive(new, parts[i]), 1))
			return false;
	return true;
}

static const struct srv_resource *imports_resource(void)
{
	return srv_resource_find(SVC_RES_IMPORTS, strlen(SVC_RES_IMPORTS));
}

/* One attempt: -ECANCELED when someone else wrote the import in between. */
static int reconcile_once(struct srv_server *srv, const char *name, const char *ns)
{
	const struct srv_resource *r = imports_resource();
	struct exports ex = { .name = name, .ns = ns };
	char key[STORE_KEY_MAX], iname[SVC_KEY_MAX], *val = NULL, *nval = NULL;
	struct store_txn_op op;
	cJSON *old = NULL, *agg = NULL, *obj = NULL;
	uint64_t rev = 0;
	int err;

	if (!r || svc_import_name(iname, sizeof(iname), name, ns) ||
	    srv_object_key(key, sizeof(key), r, iname))
		return -ENAMETOOLONG;
	/* the import first, then the exports (see svc_import.h) */
	err = srv->store->ops->get(srv->store, key, &val, &rev);
	if (err && err != -ENOENT)
		return err;
	if (!err && !(old = cJSON_Parse(val)))
		pr_warn("%s: stored import does not parse; rewriting it\n", key);
	err = srv->store->ops->range(srv->store, EXPORT_PREFIX, collect, &ex, NULL);
	if (err)
		goto out;
	agg = srv_svc_aggregate(name, ns, ex.v, ex.n);
	if (!agg && errno) {
		err = -errno;
		goto out;
	}
	if (!agg) {
		if (!val)
			goto out;	/* no exports, no import */
		op = (struct store_txn_op){ .del = true, .key = key, .cond = STORE_IF_REV, .rev = rev };
	} else {
		if (old && unchanged(old, agg))
			goto out;
		obj = srv_object_build(r, agg, old);
		nval = obj ? cJSON_PrintUnformatted(obj) : NULL;
		if (!nval) {
			err = -ENOMEM;
			goto out;
		}
		op = (struct store_txn_op){ .key = key, .value = nval,
					    .cond = val ? STORE_IF_REV : STORE_IF_ABSENT, .rev = rev };
	}
	err = srv->store->ops->txn(srv->store, &op, 1, NULL, NULL);
	if (!err)
		pr_info("serviceimport %s %s (%d cluster(s))\n", iname, agg ? "written" : "deleted",
			agg ? cJSON_GetArraySize(json_at(agg, "status.clusters")) : 0);
out:
	exports_free(&ex);
	cJSON_Delete(old);
	cJSON_Delete(agg);
	cJSON_Delete(obj);
	free(val);
	free(nval);
	return err;
}

int srv_svc_reconcile(struct srv_server *srv, const char *name, const char *ns)
{
	int err = -ECANCELED;

	for (int i = 0; i < MAX_TRIES && err == -ECANCELED; i++)
		err = reconcile_once(srv, name, ns);
	return err;
}

void srv_svc_export_changed(struct srv_server *srv, const cJSON *obj)
{
	const char *name = json_str(obj, "spec.name", NULL), *ns = json_str(obj, "spec.namespace", NULL);
	int err;

	if (!name || !ns)
		return;
	err = srv_svc_reconcile(srv, name, ns);
	if (err)	/* the periodic resync repairs it */
		pr_warn("serviceimport %s.%s: %s\n", name, ns, strerror(-err));
}

/* The (name, namespace) pairs of every import and every export. */
struct pairs {
	char (*v)[2][SVC_LABEL_MAX + 1];
	size_t n, cap;
};

static int add_pair(struct pairs *p, const char *name, const char *ns)
{
	if (!name || !ns || strlen(name) > SVC_LABEL_MAX || strlen(ns) > SVC_LABEL_MAX)
		return 0;
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->v[i][0], name) && !strcmp(p->v[i][1], ns))
			return 0;
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 16;
		void *nv = realloc(p->v, cap * sizeof(*p->v));

		if (!nv)
			return -ENOMEM;
		p->v = nv;
		p->cap = cap;
	}
	strcpy(p->v[p->n][0], name);
	strcpy(p->v[p->n][1], ns);
	p->n++;
	return 0;
}

int srv_svc_resync(struct srv_server *srv)
{
	struct exports ex = { 0 }, im = { 0 };
	struct pairs p = { 0 };
	int err, first = 0;

	err = srv->store->ops->range(srv->store, EXPORT_PREFIX, collect, &ex, NULL);
	if (!err)
		err = srv->store->ops->range(srv->store, IMPORT_PREFIX, collect, &im, NULL);
	for (size_t i = 0; !err && i < ex.n; i++)
		err = add_pair(&p, json_str(ex.v[i], "spec.name", NULL), json_str(ex.v[i], "spec.namespace", NULL));
	for (size_t i = 0; !err && i < im.n; i++)
		err = add_pair(&p, json_str(im.v[i], "spec.name", NULL), json_str(im.v[i], "spec.namespace", NULL));
	for (size_t i = 0; !err && i < p.n; i++) {
		int e = srv_svc_reconcile(srv, p.v[i][0], p.v[i][1]);

		if (e && !first)
			first = e;
	}
	exports_free(&ex);
	exports_free(&im);
	free(p.v);
	return err ? err : first;
}

/* ---- the periodic resync ---- */

struct srv_svc_sync {
	struct srv_server *srv;
	unsigned period_s;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
};

static void *sync_main(void *arg)
{
	struct srv_svc_sync *s = arg;

	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		struct timespec until;
		int err;

		pthread_mutex_unlock(&s->lock);
		err = srv_svc_resync(s->srv);
		if (err)
			pr_warn("serviceimports resync: %s\n", strerror(-err));
		pthread_mutex_lock(&s->lock);
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += s->period_s;
		while (!s->stop && pthread_cond_timedwait(&s->cond, &s->lock, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

struct srv_svc_sync *srv_svc_sync_start(struct srv_server *srv, unsigned period_s)
{
	struct srv_svc_sync *s = calloc(1, sizeof(*s));
	pthread_condattr_t ca;
	int err;

	if (!s)
		return NULL;
	s->srv = srv;
	s->period_s = period_s ? period_s : 1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	err = pthread_create(&s->thread, NULL, sync_main, s);
	if (err) {
		pthread_cond_destroy(&s->cond);
		pthread_mutex_destroy(&s->lock);
		free(s);
		errno = err;
		return NULL;
	}
	return s;
}

void srv_svc_sync_stop(struct srv_svc_sync *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
