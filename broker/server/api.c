/* Request handling: routing, authentication, authorization, and the generic list / get /
 * watch / create / update / delete of API objects. Cluster writes live in api_cluster.c. */
#include "broker/server/api_int.h"
#include "common/name.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "broker/store/store.h"
#include "broker/server/validate.h"
#include "broker/server/watch.h"
#include "common/log.h"

void reply_status(struct brk_reply *rp, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rp->code = code;
	cJSON_Delete(rp->json);
	rp->json = brk_status(code, NULL, "%s", msg);
}

void reply_reason(struct brk_reply *rp, const char *reason)
{
	cJSON *s = cJSON_CreateString(reason);

	if (s && !cJSON_ReplaceItemInObjectCaseSensitive(rp->json, "reason", s))
		cJSON_Delete(s);
}

void reply_value(struct brk_reply *rp, int code, const char *value, uint64_t rev)
{
	cJSON *o = brk_object_load(value, rev);

	if (!o) {
		reply_status(rp, 500, "stored object does not parse");
		return;
	}
	cJSON_Delete(rp->json);
	rp->code = code;
	rp->json = o;
}

void reply_store_error(struct brk_reply *rp, const char *what, int err)
{
	pr_warn("store %s: %s\n", what, strerror(-err));
	reply_status(rp, err == -ENOMEM ? 500 : 503, "store unavailable (%s): %s", what,
		     strerror(-err));
}

int api_key(char *buf, size_t len, const struct brk_resource *r, const char *name)
{
	if (snprintf(buf, len, "r/%s/%s", r->name, name) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

int api_token_hash(const char *token, char out[65])
{
	unsigned char d[32];

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, token, strlen(token), d) < 0)
		return -EIO;
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
	explicit_bzero(d, sizeof(d));
	return 0;
}

/* Compares a presented token with a configured one in time independent of the content. */
static bool token_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = la != lb;

	for (size_t i = 0; i < lb; i++)
		diff |= (unsigned char)(a[i < la ? i : 0] ^ b[i]);
	return diff == 0;
}

/* 0 with *id, -EACCES (401) or -EIO (503). */
static int authenticate(struct brk_server *srv, const char *auth, struct ident *id)
{
	char hash[65], key[80], *val = NULL;
	const char *tok;
	int err;

	if (!auth || strncasecmp(auth, "Bearer ", 7))
		return -EACCES;
	tok = auth + 7;
	while (*tok == ' ')
		tok++;
	if (!*tok || strlen(tok) > 256)
		return -EACCES;
	if (srv->admin_token && token_eq(tok, srv->admin_token)) {
		id->kind = ID_ADMIN;
		return 0;
	}
	if (srv->join_token && token_eq(tok, srv->join_token)) {
		id->kind = ID_JOIN;
		return 0;
	}
	err = api_token_hash(tok, hash);
	if (err)
		return err;
	snprintf(key, sizeof(key), "x/token/%s", hash);
	err = srv->store->ops->get(srv->store, key, &val, NULL);
	if (err == -ENOENT)
		return -EACCES;
	if (err)
		return err;
	if (!name_is_dns_label(val)) {
		free(val);
		return -EACCES;
	}
	id->kind = ID_CLUSTER;
	snprintf(id->cluster, sizeof(id->cluster), "%s", val);
	free(val);
	return 0;
}

static const char *ident_name(const struct ident *id, char *buf, size_t len)
{
	if (id->kind == ID_ADMIN)
		return "admin";
	if (id->kind == ID_JOIN)
		return "join";
	snprintf(buf, len, "cluster:%s", id->cluster);
	return buf;
}

/* ---- reads ---- */

struct list_ctx {
	cJSON *items;
	int err;
};

static int list_one(const char *key, const char *value, uint64_t mod_rev, void *ctx)
{
	struct list_ctx *l = ctx;
	cJSON *o = brk_object_load(value, mod_rev);

	if (!o) {
		pr_warn("list %s: stored object does not parse; skipped\n", key);
		return 0;
	}
	cJSON_AddItemToArray(l->items, o);
	return 0;
}

static void do_list(struct brk_server *srv, const struct brk_resource *r, struct brk_reply *rp)
{
	cJSON *o = cJSON_CreateObject(), *md;
	struct list_ctx l = { 0 };
	char prefix[64], rvs[24];
	uint64_t rev = 0;
	int err;

	snprintf(prefix, sizeof(prefix), "r/%s/", r->name);
	if (!o || !cJSON_AddStringToObject(o, "apiVersion", BRK_API_GROUP) ||
	    !cJSON_AddStringToObject(o, "kind", r->list_kind) ||
	    !(md = cJSON_AddObjectToObject(o, "metadata")) ||
	    !(l.items = cJSON_AddArrayToObject(o, "items"))) {
		cJSON_Delete(o);
		reply_status(rp, 500, "out of memory");
		return;
	}
	err = srv->store->ops->range(srv->store, prefix, list_one, &l, &rev);
	if (err) {
		cJSON_Delete(o);
		reply_store_error(rp, "list", err);
		return;
	}
	snprintf(rvs, sizeof(rvs), "%" PRIu64, rev);
	cJSON_AddStringToObject(md, "resourceVersion", rvs);
	rp->code = 200;
	rp->json = o;
}

static void do_get(struct brk_server *srv, const struct brk_resource *r, const char *name,
		   struct brk_reply *rp)
{
	char key[BRK_KEY_MAX], *val = NULL;
	uint64_t rev;
	int err;

	if (api_key(key, sizeof(key), r, name)) {
		reply_status(rp, 404, "%s \"%.64s...\" not found", r->name, name);
		return;
	}
	err = srv->store->ops->get(srv->store, key, &val, &rev);
	if (err == -ENOENT)
		reply_status(rp, 404, "%s \"%s\" not found", r->name, name);
	else if (err)
		reply_store_error(rp, "get", err);
	else
		reply_value(rp, 200, val, rev);
	free(val);
}

static void do_watch(struct brk_server *srv, const struct brk_resource *r,
		     const struct brk_request *rq, struct brk_reply *rp)
{
	const char *rvs = rq->resource_version;
	unsigned long long rv = 0;
	bool from_current = !rvs || !*rvs || !strcmp(rvs, "0");
	int err;

	if (!from_current && brk_parse_rv(rvs, &rv)) {
		reply_status(rp, 400, "resourceVersion \"%.32s\" is not a decimal number", rvs);
		return;
	}
	err = brk_hub_watch(srv->hub, r, from_current, rv, &rp->watch);
	if (err == -ESTALE)
		reply_status(rp, 410, "too old resource version: %llu; list again", rv);
	else if (err)
		reply_store_error(rp, "watch", err);
	else
		rp->code = 200;
}

/* ---- writes ---- */

/* The request body as a validated object of resource r; NULL with rp filled. */
static cJSON *decode_valid(const struct brk_request *rq, const struct brk_resource *r,
			   struct brk_reply *rp)
{
	char msg[300];
	cJSON *in;

	if (rq->body_too_large) {
		reply_status(rp, 413, "request body larger than %d bytes", BRK_BODY_MAX);
		return NULL;
	}
	in = brk_decode_body(rq->body, rq->body_len, msg, sizeof(msg));
	if (!in) {
		reply_status(rp, errno == EMSGSIZE ? 413 : 400, "%s", msg);
		return NULL;
	}
	if (brk_validate_object(r, in, msg, sizeof(msg))) {
		reply_status(rp, 422, "%s %s", r->kind, msg);
		cJSON_Delete(in);
		return NULL;
	}
	return in;
}

/* May id write an object owned by cluster cid? */
static bool may_write(const struct ident *id, const char *cid)
{
	return id->kind == ID_ADMIN || (id->kind == ID_CLUSTER && !strcmp(id->cluster, cid));
}

static void do_create(struct brk_server *srv, const struct ident *id, const struct brk_resource *r,
		      cJSON *in, struct brk_reply *rp)
{
	const char *cid = brk_str(in, "spec", "clusterID"), *name = brk_str(in, "metadata", "name");
	char key[BRK_KEY_MAX], ckey[BRK_KEY_MAX], *val = NULL;
	struct brk_txn_op op;
	uint64_t rev;
	cJSON *obj;
	int err;

	if (!may_write(id, cid)) {
		reply_status(rp, 403, "may not create %s owned by cluster %s", r->name, cid);
		return;
	}
	if (api_key(key, sizeof(key), r, name) ||
	    api_key(ckey, sizeof(ckey), &brk_resources[0], cid)) {
		reply_status(rp, 422, "name too long");
		return;
	}
	err = srv->store->ops->get(srv->store, ckey, NULL, NULL);
	if (err == -ENOENT) {
		reply_status(rp, 422, "cluster %s is not registered", cid);
		return;
	}
	if (err) {
		reply_store_error(rp, "get", err);
		return;
	}
	obj = brk_object_build(r, in, NULL);
	val = obj ? cJSON_PrintUnformatted(obj) : NULL;
	cJSON_Delete(obj);
	if (!val) {
		reply_status(rp, 500, "out of memory");
		return;
	}
	op = (struct brk_txn_op){ .key = key, .value = val, .cond = BRK_IF_ABSENT };
	err = srv->store->ops->txn(srv->store, &op, 1, &rev, NULL);
	if (err == -ECANCELED)
		reply_status(rp, 409, "%s \"%s\" already exists", r->name, name);
	else if (err)
		reply_store_error(rp, "create", err);
	else
		reply_value(rp, 201, val, rev);
	if (rp->code == 409)
		reply_reason(rp, "AlreadyExists");
	free(val);
}

cJSON *api_update_check(struct brk_server *srv, const struct ident *id, const struct brk_resource *r,
			const char *name, cJSON *in, uint64_t *rv, struct brk_reply *rp)
{
	const char *rvs = brk_str(in, "metadata", "resourceVersion");
	const char *cid = brk_str(in, "spec", "clusterID"), *ocid;
	char key[BRK_KEY_MAX], *val = NULL;
	unsigned long long want;
	uint64_t cur;
	cJSON *old;
	int err;

	if (strcmp(name, brk_str(in, "metadata", "name"))) {
		reply_status(rp, 400, "metadata.name \"%s\" does not match the URL",
			     brk_str(in, "metadata", "name"));
		return NULL;
	}
	if (!rvs || brk_parse_rv(rvs, &want)) {
		reply_status(rp, 422, "metadata.resourceVersion: required for an update");
		return NULL;
	}
	if (api_key(key, sizeof(key), r, name)) {
		reply_status(rp, 404, "%s not found", r->name);
		return NULL;
	}
	err = srv->store->ops->get(srv->store, key, &val, &cur);
	if (err == -ENOENT) {
		reply_status(rp, 404, "%s \"%s\" not found", r->name, name);
		return NULL;
	}
	if (err) {
		reply_store_error(rp, "get", err);
		return NULL;
	}
	old = cJSON_Parse(val);
	free(val);
	ocid = brk_str(old, "spec", "clusterID");
	if (!ocid) {
		cJSON_Delete(old);
		reply_status(rp, 500, "stored object does not parse");
		return NULL;
	}
	if (!may_write(id, ocid) || !may_write(id, cid)) {
		reply_status(rp, 403, "may not update %s \"%s\" owned by cluster %s", r->name, name, ocid);
		goto err;
	}
	if (strcmp(ocid, cid)) {
		reply_status(rp, 422, "spec.clusterID: may not change (is %s)", ocid);
		goto err;
	}
	if (want != cur) {
		reply_status(rp, 409, "Operation cannot be fulfilled on %s \"%s\": the object has been"
			     " modified (resourceVersion %llu, now %" PRIu64 "); read it and try again",
			     r->name, name, want, cur);
		goto err;
	}
	*rv = want;
	return old;
err:
	cJSON_Delete(old);
	return NULL;
}

static void do_update(struct brk_server *srv, const struct ident *id, const struct brk_resource *r,
		      const char *name, cJSON *in, struct brk_reply *rp)
{
	char key[BRK_KEY_MAX], *val = NULL;
	struct brk_txn_op op;
	uint64_t want, rev;
	cJSON *old, *obj;
	int err;

	old = api_update_check(srv, id, r, name, in, &want, rp);
	if (!old)
		return;
	obj = brk_object_build(r, in, old);
	val = obj ? cJSON_PrintUnformatted(obj) : NULL;
	cJSON_Delete(obj);
	cJSON_Delete(old);
	if (!val || api_key(key, sizeof(key), r, name)) {
		free(val);
		reply_status(rp, 500, "out of memory");
		return;
	}
	op = (struct brk_txn_op){ .key = key, .value = val, .cond = BRK_IF_REV, .rev = want };
	err = srv->store->ops->txn(srv->store, &op, 1, &rev, NULL);
	if (err == -ECANCELED)
		reply_status(rp, 409, "Operation cannot be fulfilled on %s \"%s\": the object has been"
			     " modified; read it and try again", r->name, name);
	else if (err)
		reply_store_error(rp, "update", err);
	else
		reply_value(rp, 200, val, rev);
	free(val);
}

static void do_delete(struct brk_server *srv, const struct ident *id, const struct brk_resource *r,
		      const char *name, struct brk_reply *rp)
{
	char key[BRK_KEY_MAX], *val = NULL;
	struct brk_txn_op op;
	const char *cid;
	uint64_t cur;
	cJSON *old;
	int err;

	if (api_key(key, sizeof(key), r, name)) {
		reply_status(rp, 404, "%s not found", r->name);
		return;
	}
	for (int tries = 0; tries < 5; tries++) {
		err = srv->store->ops->get(srv->store, key, &val, &cur);
		if (err == -ENOENT) {
			reply_status(rp, 404, "%s \"%s\" not found", r->name, name);
			return;
		}
		if (err) {
			reply_store_error(rp, "get", err);
			return;
		}
		old = cJSON_Parse(val);
		cid = brk_str(old, "spec", "clusterID");
		if (!cid || !may_write(id, cid)) {
			reply_status(rp, 403, "may not delete %s \"%s\" owned by cluster %s", r->name, name,
				     cid ? cid : "?");
			cJSON_Delete(old);
			free(val);
			return;
		}
		cJSON_Delete(old);
		op = (struct brk_txn_op){ .del = true, .key = key, .cond = BRK_IF_REV, .rev = cur };
		err = srv->store->ops->txn(srv->store, &op, 1, NULL, NULL);
		if (err != -ECANCELED)
			break;
		free(val);
		val = NULL;
	}
	if (err == -ECANCELED)
		reply_status(rp, 409, "%s \"%s\" keeps changing; try again", r->name, name);
	else if (err)
		reply_store_error(rp, "delete", err);
	else
		reply_value(rp, 200, val, cur);
	free(val);
}

/* ---- routing ---- */

static void whoami(const struct ident *id, const struct brk_request *rq, struct brk_reply *rp)
{
	cJSON *o = cJSON_CreateObject();
	char buf[80];

	if (!o || !cJSON_AddStringToObject(o, "apiVersion", BRK_API_GROUP) ||
	    !cJSON_AddStringToObject(o, "kind", "WhoAmI") ||
	    !cJSON_AddStringToObject(o, "identity", ident_name(id, buf, sizeof(buf))) ||
	    !cJSON_AddStringToObject(o, "remoteAddr", rq->remote_addr ? rq->remote_addr : "")) {
		cJSON_Delete(o);
		reply_status(rp, 500, "out of memory");
		return;
	}
	rp->code = 200;
	rp->json = o;
}

void brk_api_handle(struct brk_server *srv, const struct brk_request *rq, struct brk_reply *rp)
{
	const struct brk_resource *r;
	const char *rest, *slash, *name = NULL;
	bool get = !strcmp(rq->method, "GET"), post = !strcmp(rq->method, "POST");
	bool put = !strcmp(rq->method, "PUT"), del = !strcmp(rq->method, "DELETE");
	struct ident id = { 0 };
	cJSON *in;
	int err;

	memset(rp, 0, sizeof(*rp));
	if (!strcmp(rq->path, "/healthz")) {
		rp->code = 200;
		rp->text = "ok";
		return;
	}
	if (strncmp(rq->path, BRK_API_PREFIX, strlen(BRK_API_PREFIX))) {
		reply_status(rp, 404, "no such path");
		return;
	}
	err = authenticate(srv, rq->authorization, &id);
	if (err == -EACCES) {
		reply_status(rp, 401, "a valid bearer token is required");
		return;
	}
	if (err) {
		reply_store_error(rp, "authenticate", err);
		return;
	}
	rest = rq->path + strlen(BRK_API_PREFIX);
	if (!strcmp(rest, "whoami")) {
		if (get)
			whoami(&id, rq, rp);
		else
			reply_status(rp, 405, "whoami supports GET only");
		return;
	}
	slash = strchr(rest, '/');
	r = brk_resource_find(rest, slash ? (size_t)(slash - rest) : strlen(rest));
	if (!r) {
		reply_status(rp, 404, "the server could not find the requested resource");
		return;
	}
	if (slash) {
		name = slash + 1;
		if (!*name || strchr(name, '/')) {
			reply_status(rp, 404, "the server could not find the requested resource");
			return;
		}
	}
	/* The join token registers clusters and nothing else. */
	if (id.kind == ID_JOIN && !(post && r->is_cluster && !name)) {
		reply_status(rp, 403, "the join token may only register clusters");
		return;
	}
	if (!name && get) {
		if (rq->watch && (!strcmp(rq->watch, "1") || !strcmp(rq->watch, "true")))
			do_watch(srv, r, rq, rp);
		else
			do_list(srv, r, rp);
		return;
	}
	if (name && get) {
		do_get(srv, r, name, rp);
		return;
	}
	if (name && del) {
		if (r->is_cluster)
			api_cluster_delete(srv, &id, name, rp);
		else
			do_delete(srv, &id, r, name, rp);
		return;
	}
	if (!((post && !name) || (put && name))) {
		reply_status(rp, 405, "%s not allowed on this path", rq->method);
		return;
	}
	in = decode_valid(rq, r, rp);
	if (!in)
		return;
	if (post && r->is_cluster)
		api_cluster_create(srv, &id, in, rp);
	else if (post)
		do_create(srv, &id, r, in, rp);
	else if (r->is_cluster)
		api_cluster_update(srv, &id, name, in, rp);
	else
		do_update(srv, &id, r, name, in, rp);
	cJSON_Delete(in);
}
