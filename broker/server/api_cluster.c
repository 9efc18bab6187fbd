/* Cluster registration, update and delete. These touch more than one key (the cluster,
 * its token hash) and must see every other cluster (CIDR overlap, global CIDR
 * allocation), so each runs as check-then-transaction guarded by the lock key
 * x/lock/clusters: the transaction also rewrites that key on the condition that it did
 * not change since the checks read it. Two replicas on one etcd are then serialized the
 * same way as two threads on SQLite; a loser retries with fresh data. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/server/api_cluster.h"
#include "broker/server/auth.h"
#include "broker/server/objects.h"
#include "broker/server/reply.h"
#include "broker/server/svc_import.h"
#include "broker/server/update.h"
#include "broker/server/validate.h"
#include "broker/store/store.h"
#include "common/cidr.h"
#include "common/json.h"
#include "common/log.h"
#include "common/name.h"
#include "common/util.h"

#define LOCK_KEY	"x/lock/clusters"
#define MAX_NET		128
#define MAX_TRIES	10

struct cl {
	char id[64];
	struct cidr4 nets[MAX_NET];	/* clusterCIDRs + serviceCIDRs */
	int nnets;
	struct cidr4 g[MAX_NET];	/* globalCIDRs */
	int ng;
};

struct cl_list {
	struct cl *v;
	size_t n, cap;
};

static void parse_cidrs(const cJSON *spec, const char *field, struct cidr4 *out, int *n)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(spec, field)) {
		if (*n < MAX_NET && cJSON_IsString(e) && !cidr4_parse(e->valuestring, &out[*n]))
			(*n)++;
	}
}

static void cl_from_spec(struct cl *c, const cJSON *spec)
{
	const char *id = json_str(spec, "clusterID", NULL);

	memset(c, 0, sizeof(*c));
	snprintf(c->id, sizeof(c->id), "%s", id ? id : "?");
	parse_cidrs(spec, "clusterCIDRs", c->nets, &c->nnets);
	parse_cidrs(spec, "serviceCIDRs", c->nets, &c->nnets);
	parse_cidrs(spec, "globalCIDRs", c->g, &c->ng);
}

static int collect_one(const char *key, const char *value, uint64_t mod_rev, void *ctx)
{
	struct cl_list *l = ctx;
	cJSON *o = cJSON_Parse(value);

	if (!o)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct cl *nv = realloc(l->v, cap * sizeof(*nv));

		if (!nv) {
			cJSON_Delete(o);
			return -ENOMEM;
		}
		l->v = nv;
		l->cap = cap;
	}
	cl_from_spec(&l->v[l->n++], cJSON_GetObjectItemCaseSensitive(o, "spec"));
	cJSON_Delete(o);
	return 0;
}

static bool overlaps(const struct cidr4 *a, int na, const struct cidr4 *b, int nb, int *ia, int *ib)
{
	for (int i = 0; i < na; i++)
		for (int j = 0; j < nb; j++)
			if (cidr4_overlap(&a[i], &b[j])) {
				*ia = i;
				*ib = j;
				return true;
			}
	return false;
}

static int set_global(cJSON *spec, const struct cidr4 *g)
{
	char buf[CIDR4_STRLEN];
	cJSON *arr = cJSON_CreateArray(), *s;

	cidr4_format(g, buf);
	s = cJSON_CreateString(buf);
	if (!arr || !s || !cJSON_AddItemToArray(arr, s)) {
		cJSON_Delete(arr);
		cJSON_Delete(s);
		return -ENOMEM;
	}
	if (cJSON_GetObjectItemCaseSensitive(spec, "globalCIDRs"))
		cJSON_ReplaceItemInObjectCaseSensitive(spec, "globalCIDRs", arr);
	else
		cJSON_AddItemToObject(spec, "globalCIDRs", arr);
	return 0;
}

static bool same_globals(const struct cl *a, const struct cl *b)
{
	if (a->ng != b->ng)
		return false;
	for (int i = 0; i < a->ng; i++)
		if (a->g[i].addr != b->g[i].addr || a->g[i].len != b->g[i].len)
			return false;
	return true;
}

/* A cluster may hold at most globalnet.maxClusterSize addresses of the global range (one
 * cluster must not take the range from the others); what it already holds stays. */
static int check_global_cap(const struct srv_config *cfg, const struct cl *me,
			    const struct cl *prev, struct srv_reply *rp)
{
	uint64_t total = 0;

	if (prev && same_globals(me, prev))
		return 0;
	for (int i = 0; i < me->ng; i++)
		total += cidr4_size(&me->g[i]);
	if (total > cfg->gn_max_cluster) {
		srv_reply_status(rp, 422, "spec.globalCIDRs: %" PRIu64 " addresses asked, a cluster may"
				 " hold at most %" PRIu64 " (globalnet.maxClusterSize)", total,
				 cfg->gn_max_cluster);
		return -EINVAL;
	}
	return 0;
}

/* The overlap rules and global CIDR allocation; 0, or -EINVAL with rp filled (422).
 * prev: the cluster's stored spec on an update, NULL on a registration. */
static int check_cluster(struct srv_server *srv, cJSON *spec, const struct cl_list *all,
			 const struct cl *prev, struct srv_reply *rp)
{
	const struct srv_config *cfg = &srv->cfg;
	struct cl me;
	char a[CIDR4_STRLEN], b[CIDR4_STRLEN];
	int i, j;

	cl_from_spec(&me, spec);
	for (i = 0; i < me.nnets; i++)
		for (j = i + 1; j < me.nnets; j++)
			if (cidr4_overlap(&me.nets[i], &me.nets[j])) {
				cidr4_format(&me.nets[i], a);
				cidr4_format(&me.nets[j], b);
				srv_reply_status(rp, 422, "cluster %s: its own CIDRs %s and %s overlap", me.id, a, b);
				return -EINVAL;
			}
	if (!cfg->gn_enabled) {
		if (me.ng) {
			srv_reply_status(rp, 422, "spec.globalCIDRs: globalnet is disabled on this broker");
			return -EINVAL;
		}
		for (size_t k = 0; k < all->n; k++) {
			if (!strcmp(all->v[k].id, me.id))
				continue;
			if (overlaps(me.nets, me.nnets, all->v[k].nets, all->v[k].nnets, &i, &j)) {
				cidr4_format(&me.nets[i], a);
				cidr4_format(&all->v[k].nets[j], b);
				srv_reply_status(rp, 422, "CIDR %s of cluster %s overlaps %s of cluster %s;"
					     " use other CIDRs or enable globalnet", a, me.id, b,
					     all->v[k].id);
				return -EINVAL;
			}
		}
		return 0;
	}
	/* globalnet: honour asked-for global CIDRs if free, else allocate one block */
	if (check_global_cap(cfg, &me, prev, rp))
		return -EINVAL;
	for (i = 0; i < me.ng; i++) {
		cidr4_format(&me.g[i], a);
		if (me.g[i].len < cfg->gn_range.len || !cidr4_contains(&cfg->gn_range, me.g[i].addr)) {
			cidr4_format(&cfg->gn_range, b);
			srv_reply_status(rp, 422, "spec.globalCIDRs: %s is outside the global range %s", a, b);
			return -EINVAL;
		}
		for (size_t k = 0; k < all->n; k++) {
			int x, y;

			if (strcmp(all->v[k].id, me.id) &&
			    overlaps(&me.g[i], 1, all->v[k].g, all->v[k].ng, &x, &y)) {
				srv_reply_status(rp, 422, "spec.globalCIDRs: %s is taken by cluster %s", a,
					     all->v[k].id);
				return -EINVAL;
			}
		}
	}
	if (me.ng)
		return 0;
	{
		uint64_t blocks = 1ull << (cfg->gn_prefix - cfg->gn_range.len);
		uint64_t step = 1ull << (32 - cfg->gn_prefix);

		for (uint64_t n = 0; n < blocks && n < (1u << 20); n++) {
			struct cidr4 c = { .addr = cfg->gn_range.addr + (uint32_t)(n * step),
					   .len = cfg->gn_prefix };
			bool taken = false;

			for (size_t k = 0; k < all->n && !taken; k++)
				taken = strcmp(all->v[k].id, me.id) &&
					overlaps(&c, 1, all->v[k].g, all->v[k].ng, &i, &j);
			if (!taken) {
				if (set_global(spec, &c)) {
					srv_reply_status(rp, 500, "out of memory");
					return -ENOMEM;
				}
				return 0;
			}
		}
	}
	cidr4_format(&cfg->gn_range, a);
	srv_reply_status(rp, 422, "the global range %s is exhausted", a);
	return -EINVAL;
}

/* Reads the lock's revision and every cluster; 0 or a store error (rp filled). */
static int snapshot(struct srv_server *srv, uint64_t *lock_rev, struct cl_list *all,
		    struct srv_reply *rp)
{
	int err = srv->store->ops->get(srv->store, LOCK_KEY, NULL, lock_rev);

	if (err == -ENOENT) {
		*lock_rev = 0;
		err = 0;
	}
	all->n = 0;
	if (!err)
		err = srv->store->ops->range(srv->store, "r/clusters/", collect_one, all, NULL);
	if (err)
		srv_reply_store_error(rp, "list clusters", err);
	return err;
}

static struct store_txn_op lock_op(uint64_t lock_rev)
{
	return (struct store_txn_op){ .key = LOCK_KEY, .value = "1",
				    .cond = lock_rev ? STORE_IF_REV : STORE_IF_ABSENT, .rev = lock_rev };
}

void srv_api_cluster_create(struct srv_server *srv, const struct srv_ident *id, cJSON *in,
			struct srv_reply *rp)
{
	const char *name = json_str(in, "metadata.name", NULL);
	cJSON *spec = cJSON_GetObjectItemCaseSensitive(in, "spec"), *obj = NULL, *cred;
	char key[STORE_KEY_MAX], tkey[96], ckey[96], token[65] = "", hash[65];
	struct cl_list all = { 0 };
	char *val = NULL;
	uint64_t lock_rev, rev;
	size_t failed = 0;
	int err = 0;

	if (id->kind == SRV_ID_CLUSTER) {
		srv_reply_status(rp, 403, "a cluster token may not register clusters");
		return;
	}
	if (srv_object_key(key, sizeof(key), &srv_resources[0], name)) {
		srv_reply_status(rp, 422, "name too long");
		return;
	}
	if (util_random_hex(token, 32) || srv_token_hash(token, hash)) {
		srv_reply_status(rp, 500, "cannot make a token");
		goto out;
	}
	snprintf(tkey, sizeof(tkey), "x/token/%s", hash);
	snprintf(ckey, sizeof(ckey), "x/clustertoken/%s", name);
	for (int tries = 0; tries < MAX_TRIES; tries++) {
		struct store_txn_op ops[4];

		if (snapshot(srv, &lock_rev, &all, rp))
			goto out;
		for (size_t k = 0; k < all.n; k++)
			if (!strcmp(all.v[k].id, name)) {
				srv_reply_status(rp, 409, "cluster ID %s is taken (re-join with the cluster's"
					     " own token)", name);
				srv_reply_reason(rp, "AlreadyExists");
				goto out;
			}
		if (check_cluster(srv, spec, &all, NULL, rp))
			goto out;
		cJSON_Delete(obj);
		free(val);
		obj = srv_object_build(&srv_resources[0], in, NULL);
		val = obj ? cJSON_PrintUnformatted(obj) : NULL;
		if (!val) {
			srv_reply_status(rp, 500, "out of memory");
			goto out;
		}
		ops[0] = lock_op(lock_rev);
		ops[1] = (struct store_txn_op){ .key = key, .value = val, .cond = STORE_IF_ABSENT };
		ops[2] = (struct store_txn_op){ .key = tkey, .value = name };
		ops[3] = (struct store_txn_op){ .key = ckey, .value = hash };
		err = srv->store->ops->txn(srv->store, ops, 4, &rev, &failed);
		if (err != -ECANCELED || failed != 0)
			break;
	}
	if (err == -ECANCELED) {
		srv_reply_status(rp, failed == 1 ? 409 : 503, "cluster %s: %s", name,
			     failed == 1 ? "ID is taken" : "too much contention; try again");
		goto out;
	}
	if (err) {
		srv_reply_store_error(rp, "register", err);
		goto out;
	}
	srv_reply_value(rp, 201, val, rev);
	cred = cJSON_AddObjectToObject(rp->json, "credential");
	if (!cred || !cJSON_AddStringToObject(cred, "token", token))
		srv_reply_status(rp, 500, "out of memory");
	else
		pr_info("register cluster %s: revision %" PRIu64 "\n", name, rev);
out:
	explicit_bzero(token, sizeof(token));
	cJSON_Delete(obj);
	free(val);
	free(all.v);
}

void srv_api_cluster_update(struct srv_server *srv, const struct srv_ident *id, const char *name,
			cJSON *in, struct srv_reply *rp)
{
	cJSON *spec = cJSON_GetObjectItemCaseSensitive(in, "spec"), *old = NULL, *obj = NULL;
	struct cl_list all = { 0 };
	struct cl prev;
	char key[STORE_KEY_MAX];
	char *val = NULL;
	uint64_t want, lock_rev, rev;
	size_t failed = 0;
	int err = 0;

	old = srv_update_check(srv, id, &srv_resources[0], name, in, &want, rp);
	if (!old)
		return;
	cl_from_spec(&prev, cJSON_GetObjectItemCaseSensitive(old, "spec"));
	if (srv_object_key(key, sizeof(key), &srv_resources[0], name)) {
		srv_reply_status(rp, 422, "name too long");
		goto out;
	}
	/* An update that leaves globalCIDRs out keeps the allocated ones. */
	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spec, "globalCIDRs")) == 0) {
		cJSON *og = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(old, "spec"),
							     "globalCIDRs");

		if (cJSON_GetArraySize(og) > 0) {
			cJSON *d = cJSON_Duplicate(og, 1);

			if (!d) {
				srv_reply_status(rp, 500, "out of memory");
				goto out;
			}
			cJSON_DeleteItemFromObjectCaseSensitive(spec, "globalCIDRs");
			cJSON_AddItemToObject(spec, "globalCIDRs", d);
		}
	}
	for (int tries = 0; tries < MAX_TRIES; tries++) {
		struct store_txn_op ops[2];

		if (snapshot(srv, &lock_rev, &all, rp))
			goto out;
		if (check_cluster(srv, spec, &all, &prev, rp))
			goto out;
		cJSON_Delete(obj);
		free(val);
		obj = srv_object_build(&srv_resources[0], in, old);
		val = obj ? cJSON_PrintUnformatted(obj) : NULL;
		if (!val) {
			srv_reply_status(rp, 500, "out of memory");
			goto out;
		}
		ops[0] = lock_op(lock_rev);
		ops[1] = (struct store_txn_op){ .key = key, .value = val, .cond = STORE_IF_REV, .rev = want };
		err = srv->store->ops->txn(srv->store, ops, 2, &rev, &failed);
		if (err != -ECANCELED || failed != 0)
			break;
	}
	if (err == -ECANCELED)
		srv_reply_status(rp, 409, "Operation cannot be fulfilled on clusters \"%s\": the object has"
			     " been modified; read it and try again", name);
	else if (err)
		srv_reply_store_error(rp, "update", err);
	else
		srv_reply_value(rp, 200, val, rev);
out:
	cJSON_Delete(old);
	cJSON_Delete(obj);
	free(val);
	free(all.v);
}

struct dep_ctx {
	const char *cid;
	char **keys;
	uint64_t *revs;
	size_t n, cap;
	int err;
};

static int collect_dep(const char *key, const char *value, uint64_t mod_rev, void *ctx)
{
	struct dep_ctx *d = ctx;
	cJSON *o = cJSON_Parse(value);
	const char *cid = json_str(o, "spec.clusterID", NULL);
	bool mine = cid && !strcmp(cid, d->cid);

	cJSON_Delete(o);
	if (!mine)
		return 0;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		char **nk = realloc(d->keys, cap * sizeof(*nk));
		uint64_t *nr;

		if (!nk)
			return -ENOMEM;
		d->keys = nk;
		nr = realloc(d->revs, cap * sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		d->revs = nr;
		d->cap = cap;
	}
	d->keys[d->n] = strdup(key);
	if (!d->keys[d->n])
		return -ENOMEM;
	d->revs[d->n++] = mod_rev;
	return 0;
}

/* Deletes every object owned by cluster cid, one change per object (so each gets its
 * own revision and watch event). */
static int delete_dependents(struct srv_server *srv, const char *cid)
{
	int err = 0;

	for (unsigned i = 0; i < srv_n_resources && !err; i++) {
		struct dep_ctx d = { .cid = cid };
		char prefix[64];

		if (srv_resources[i].is_cluster)
			continue;
		snprintf(prefix, sizeof(prefix), "r/%s/", srv_resources[i].name);
		err = srv->store->ops->range(srv->store, prefix, collect_dep, &d, NULL);
		for (size_t k = 0; k < d.n; k++) {
			struct store_txn_op op = { .del = true, .key = d.keys[k] };

			if (!err)
				err = srv->store->ops->txn(srv->store, &op, 1, NULL, NULL);
			free(d.keys[k]);
		}
		free(d.keys);
		free(d.revs);
	}
	return err;
}

void srv_api_cluster_delete(struct srv_server *srv, const struct srv_ident *id, const char *name,
			struct srv_reply *rp)
{
	char key[STORE_KEY_MAX], tkey[96], ckey[96], *val = NULL, *hash = NULL;
	struct store_txn_op ops[3];
	uint64_t cur;
	size_t nops;
	int err;

	if (!(id->kind == SRV_ID_ADMIN || (id->kind == SRV_ID_CLUSTER && !strcmp(id->cluster, name)))) {
		srv_reply_status(rp, 403, "only the admin or cluster %s itself may delete it", name);
		return;
	}
	if (srv_object_key(key, sizeof(key), &srv_resources[0], name) || !name_is_dns_label(name)) {
		srv_reply_status(rp, 404, "clusters \"%.64s\" not found", name);
		return;
	}
	err = srv->store->ops->get(srv->store, key, &val, &cur);
	if (err == -ENOENT) {
		srv_reply_status(rp, 404, "clusters \"%s\" not found", name);
		return;
	}
	if (err)
		goto store_err;
	err = delete_dependents(srv, name);
	if (err)
		goto store_err;
	snprintf(ckey, sizeof(ckey), "x/clustertoken/%s", name);
	err = srv->store->ops->get(srv->store, ckey, &hash, NULL);
	if (err && err != -ENOENT)
		goto store_err;
	nops = 0;
	ops[nops++] = (struct store_txn_op){ .del = true, .key = key };
	ops[nops++] = (struct store_txn_op){ .del = true, .key = ckey };
	if (hash && strlen(hash) == 64) {
		snprintf(tkey, sizeof(tkey), "x/token/%s", hash);
		ops[nops++] = (struct store_txn_op){ .del = true, .key = tkey };
	}
	err = srv->store->ops->txn(srv->store, ops, nops, NULL, NULL);
	if (err)
		goto store_err;
	/* objects its agents wrote while we were deleting */
	err = delete_dependents(srv, name);
	if (err)
		pr_warn("delete cluster %s: dependents left: %s\n", name, strerror(-err));
	pr_info("delete cluster %s: token revoked\n", name);
	/* its ServiceExports are gone: the imports it was part of change */
	err = srv_svc_resync(srv);
	if (err)
		pr_warn("delete cluster %s: serviceimports: %s\n", name, strerror(-err));
	srv_reply_value(rp, 200, val, cur);
	free(val);
	free(hash);
	return;
store_err:
	srv_reply_store_error(rp, "delete cluster", err);
	free(val);
	free(hash);
}
