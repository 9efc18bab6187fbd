/* Request handling: routing, authentication, authorization, and the generic list / get /
 * watch / create / update / delete of API objects. Cluster writes live in api_cluster.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "broker/server/api_cert.h"
#include "broker/server/api_cluster.h"
#include "broker/server/auth.h"
#include "broker/server/objects.h"
#include "broker/server/reply.h"
#include "broker/server/update.h"
#include "broker/server/validate.h"
#include "broker/server/watch.h"
#include "broker/store/store.h"
#include "common/json.h"
#include "common/log.h"
#include "common/name.h"
#include "common/util.h"

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
	cJSON *o = srv_object_load(value, mod_rev);

	if (!o) {
		pr_warn("list %s: stored object does not parse; skipped\n", key);
		return 0;
	}
	cJSON_AddItemToArray(l->items, o);
	return 0;
}

static void do_list(struct srv_server *srv, const struct srv_resource *r, struct srv_reply *rp)
{
	cJSON *o = cJSON_CreateObject(), *md;
	struct list_ctx l = { 0 };
	char prefix[64], rvs[24];
	uint64_t rev = 0;
	int err;

	snprintf(prefix, sizeof(prefix), "r/%s/", r->name);
	if (!o || !cJSON_AddStringToObject(o, "apiVersion", SRV_API_GROUP) ||
	    !cJSON_AddStringToObject(o, "kind", r->list_kind) ||
	    !(md = cJSON_AddObjectToObject(o, "metadata")) ||
	    !(l.items = cJSON_AddArrayToObject(o, "items"))) {
		cJSON_Delete(o);
		srv_reply_status(rp, 500, "out of memory");
		return;
	}
	err = srv->store->ops->range(srv->store, prefix, list_one, &l, &rev);
	if (err) {
		cJSON_Delete(o);
		srv_reply_store_error(rp, "list", err);
		return;
	}
	snprintf(rvs, sizeof(rvs), "%" PRIu64, rev);
	cJSON_AddStringToObject(md, "resourceVersion", rvs);
	rp->code = 200;
	rp->json = o;
}

static void do_get(struct srv_server *srv, const struct srv_resource *r, const char *name,
		   struct srv_reply *rp)
{
	char key[STORE_KEY_MAX], *val = NULL;
	uint64_t rev;
	int err;

	if (srv_object_key(key, sizeof(key), r, name)) {
		srv_reply_status(rp, 404, "%s \"%.64s...\" not found", r->name, name);
		return;
	}
	err = srv->store->ops->get(srv->store, key, &val, &rev);
	if (err == -ENOENT)
		srv_reply_status(rp, 404, "%s \"%s\" not found", r->name, name);
	else if (err)
		srv_reply_store_error(rp, "get", err);
	else
		srv_reply_value(rp, 200, val, rev);
	free(val);
}

static void do_watch(struct srv_server *srv, const struct srv_resource *r,
		     const struct srv_request *rq, struct srv_reply *rp)
{
	const char *rvs = rq->resource_version;
	uint64_t rv = 0;
	bool from_current = !rvs || !*rvs || !strcmp(rvs, "0");
	int err;

	if (!from_current && util_parse_u64(rvs, INT64_MAX, &rv)) {
		srv_reply_status(rp, 400, "resourceVersion \"%.32s\" is not a decimal number", rvs);
		return;
	}
	err = srv_hub_watch(srv->hub, r, from_current, rv, &rp->watch);
	if (err == -ESTALE)
		srv_reply_status(rp, 410, "too old resource version: %" PRIu64 "; list again", rv);
	else if (err)
		srv_reply_store_error(rp, "watch", err);
	else
		rp->code = 200;
}

/* ---- writes ---- */

/* The request body as a validated object of resource r; NULL with rp filled. */
static cJSON *decode_valid(const struct srv_request *rq, const struct srv_resource *r,
			   struct srv_reply *rp)
{
	char msg[300];
	cJSON *in;

	if (rq->body_too_large) {
		srv_reply_status(rp, 413, "request body larger than %d bytes", SRV_BODY_MAX);
		return NULL;
	}
	in = srv_decode_body(rq->body, rq->body_len, msg, sizeof(msg));
	if (!in) {
		srv_reply_status(rp, errno == EMSGSIZE ? 413 : 400, "%s", msg);
		return NULL;
	}
	if (srv_validate_object(r, in, msg, sizeof(msg))) {
		srv_reply_status(rp, 422, "%s %s", r->kind, msg);
		cJSON_Delete(in);
		return NULL;
	}
	return in;
}

static void do_create(struct srv_server *srv, const struct ident *id, const struct srv_resource *r,
		      cJSON *in, struct srv_reply *rp)
{
	const char *cid = json_str(in, "spec.clusterID", NULL), *name = json_str(in, "metadata.name", NULL);
	char key[STORE_KEY_MAX], ckey[STORE_KEY_MAX], *val = NULL;
	struct store_txn_op op;
	uint64_t rev;
	cJSON *obj;
	int err;

	if (!srv_may_write(id, cid)) {
		srv_reply_status(rp, 403, "may not create %s owned by cluster %s", r->name, cid);
		return;
	}
	if (srv_object_key(key, sizeof(key), r, name) ||
	    srv_object_key(ckey, sizeof(ckey), &srv_resources[0], cid)) {
		srv_reply_status(rp, 422, "name too long");
		return;
	}
	err = srv->store->ops->get(srv->store, ckey, NULL, NULL);
	if (err == -ENOENT) {
		srv_reply_status(rp, 422, "cluster %s is not registered", cid);
		return;
	}
	if (err) {
		srv_reply_store_error(rp, "get", err);
		return;
	}
	obj = srv_object_build(r, in, NULL);
	val = obj ? cJSON_PrintUnformatted(obj) : NULL;
	cJSON_Delete(obj);
	if (!val) {
		srv_reply_status(rp, 500, "out of memory");
		return;
	}
	op = (struct store_txn_op){ .key = key, .value = val, .cond = STORE_IF_ABSENT };
	err = srv->store->ops->txn(srv->store, &op, 1, &rev, NULL);
	if (err == -ECANCELED)
		srv_reply_status(rp, 409, "%s \"%s\" already exists", r->name, name);
	else if (err)
		srv_reply_store_error(rp, "create", err);
	else
		srv_reply_value(rp, 201, val, rev);
	if (rp->code == 409)
		srv_reply_reason(rp, "AlreadyExists");
	free(val);
}

static void do_update(struct srv_server *srv, const struct ident *id, const struct srv_resource *r,
		      const char *name, cJSON *in, struct srv_reply *rp)
{
	char key[STORE_KEY_MAX], *val = NULL;
	struct store_txn_op op;
	uint64_t want, rev;
	cJSON *old, *obj;
	int err;

	old = srv_update_check(srv, id, r, name, in, &want, rp);
	if (!old)
		return;
	obj = srv_object_build(r, in, old);
	val = obj ? cJSON_PrintUnformatted(obj) : NULL;
	cJSON_Delete(obj);
	cJSON_Delete(old);
	if (!val || srv_object_key(key, sizeof(key), r, name)) {
		free(val);
		srv_reply_status(rp, 500, "out of memory");
		return;
	}
	op = (struct store_txn_op){ .key = key, .value = val, .cond = STORE_IF_REV, .rev = want };
	err = srv->store->ops->txn(srv->store, &op, 1, &rev, NULL);
	if (err == -ECANCELED)
		srv_reply_status(rp, 409, "Operation cannot be fulfilled on %s \"%s\": the object has been"
			     " modified; read it and try again", r->name, name);
	else if (err)
		srv_reply_store_error(rp, "update", err);
	else
		srv_reply_value(rp, 200, val, rev);
	free(val);
}

static void do_delete(struct srv_server *srv, const struct ident *id, const struct srv_resource *r,
		      const char *name, struct srv_reply *rp)
{
	char key[STORE_KEY_MAX], *val = NULL;
	struct store_txn_op op;
	const char *cid;
	uint64_t cur;
	cJSON *old;
	int err;

	if (srv_object_key(key, sizeof(key), r, name)) {
		srv_reply_status(rp, 404, "%s not found", r->name);
		return;
	}
	for (int tries = 0; tries < 5; tries++) {
		err = srv->store->ops->get(srv->store, key, &val, &cur);
		if (err == -ENOENT) {
			srv_reply_status(rp, 404, "%s \"%s\" not found", r->name, name);
			return;
		}
		if (err) {
			srv_reply_store_error(rp, "get", err);
			return;
		}
		old = cJSON_Parse(val);
		cid = json_str(old, "spec.clusterID", NULL);
		if (!cid || !srv_may_write(id, cid)) {
			srv_reply_status(rp, 403, "may not delete %s \"%s\" owned by cluster %s", r->name, name,
				     cid ? cid : "?");
			cJSON_Delete(old);
			free(val);
			return;
		}
		cJSON_Delete(old);
		op = (struct store_txn_op){ .del = true, .key = key, .cond = STORE_IF_REV, .rev = cur };
		err = srv->store->ops->txn(srv->store, &op, 1, NULL, NULL);
		if (err != -ECANCELED)
			break;
		free(val);
		val = NULL;
	}
	if (err == -ECANCELED)
		srv_reply_status(rp, 409, "%s \"%s\" keeps changing; try again", r->name, name);
	else if (err)
		srv_reply_store_error(rp, "delete", err);
	else
		srv_reply_value(rp, 200, val, cur);
	free(val);
}

/* After a successful write: what the resource derives from it (a ServiceImport). */
static void changed(struct srv_server *srv, const struct srv_resource *r, const struct srv_reply *rp)
{
	if (r->on_change && rp->code >= 200 && rp->code < 300 && rp->json)
		r->on_change(srv, rp->json);
}

/* ---- routing ---- */

static void whoami(const struct ident *id, const struct srv_request *rq, struct srv_reply *rp)
{
	cJSON *o = cJSON_CreateObject();
	char buf[80];

	if (!o || !cJSON_AddStringToObject(o, "apiVersion", SRV_API_GROUP) ||
	    !cJSON_AddStringToObject(o, "kind", "WhoAmI") ||
	    !cJSON_AddStringToObject(o, "identity", ident_name(id, buf, sizeof(buf))) ||
	    !cJSON_AddStringToObject(o, "remoteAddr", rq->remote_addr ? rq->remote_addr : "")) {
		cJSON_Delete(o);
		srv_reply_status(rp, 500, "out of memory");
		return;
	}
	rp->code = 200;
	rp->json = o;
}

void srv_api_handle(struct srv_server *srv, const struct srv_request *rq, struct srv_reply *rp)
{
	const struct srv_resource *r;
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
		srv_reply_status(rp, 404, "no such path");
		return;
	}
	err = srv_authenticate(srv, rq->authorization, &id);
	if (err == -EACCES) {
		srv_reply_status(rp, 401, "a valid bearer token is required");
		return;
	}
	if (err) {
		srv_reply_store_error(rp, "authenticate", err);
		return;
	}
	rest = rq->path + strlen(BRK_API_PREFIX);
	if (!strcmp(rest, "whoami")) {
		if (get)
			whoami(&id, rq, rp);
		else
			srv_reply_status(rp, 405, "whoami supports GET only");
		return;
	}
	if (!strcmp(rest, "ikecertificates")) {
		srv_api_cert(srv, &id, rq, rp);
		return;
	}
	slash = strchr(rest, '/');
	r = srv_resource_find(rest, slash ? (size_t)(slash - rest) : strlen(rest));
	if (!r) {
		srv_reply_status(rp, 404, "the server could not find the requested resource");
		return;
	}
	if (slash) {
		name = slash + 1;
		if (!*name || strchr(name, '/')) {
			srv_reply_status(rp, 404, "the server could not find the requested resource");
			return;
		}
	}
	/* The join token registers clusters and nothing else. */
	if (id.kind == ID_JOIN && !(post && r->is_cluster && !name)) {
		srv_reply_status(rp, 403, "the join token may only register clusters");
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
	if (r->read_only && (post || put || del)) {
		srv_reply_status(rp, 405, "%s are written by the broker only (derived from other objects)",
				 r->name);
		return;
	}
	if (name && del) {
		if (r->is_cluster)
			srv_api_cluster_delete(srv, &id, name, rp);
		else
			do_delete(srv, &id, r, name, rp);
		changed(srv, r, rp);
		return;
	}
	if (!((post && !name) || (put && name))) {
		srv_reply_status(rp, 405, "%s not allowed on this path", rq->method);
		return;
	}
	in = decode_valid(rq, r, rp);
	if (!in)
		return;
	if (post && r->is_cluster)
		srv_api_cluster_create(srv, &id, in, rp);
	else if (post)
		do_create(srv, &id, r, in, rp);
	else if (r->is_cluster)
		srv_api_cluster_update(srv, &id, name, in, rp);
	else
		do_update(srv, &id, r, name, in, rp);
	cJSON_Delete(in);
	changed(srv, r, rp);
}
