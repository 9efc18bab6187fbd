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
#include "broker/server/api_list.h"
#include "broker/server/auth.h"
#include "broker/server/claims.h"
#include "broker/server/objects.h"
#include "broker/server/quota.h"
#include "broker/server/reply.h"
#include "broker/server/update.h"
#include "broker/server/validate.h"
#include "broker/server/watch.h"
#include "broker/store/store.h"
#include "common/json.h"
#include "common/log.h"
#include "common/name.h"
#include "common/util.h"

static const char *ident_name(const struct srv_ident *id, char *buf, size_t len)
{
	if (id->kind == SRV_ID_ADMIN)
		return "admin";
	if (id->kind == SRV_ID_JOIN)
		return "join";
	snprintf(buf, len, "cluster:%s", id->cluster);
	return buf;
}

/* ---- reads ---- */

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

static void release_watch(void *ctx, const char *who)
{
	srv_quota_watch_put(ctx, who);
}

static void do_watch(struct srv_server *srv, const struct srv_ident *id, const struct srv_resource *r,
		     const struct srv_request *rq, struct srv_reply *rp)
{
	const char *rvs = rq->resource_version;
	uint64_t rv = 0;
	bool from_current = !rvs || !*rvs || !strcmp(rvs, "0");
	bool counted = id->kind == SRV_ID_CLUSTER;
	unsigned n = 0;
	int err;

	if (!from_current && util_parse_u64(rvs, INT64_MAX, &rv)) {
		srv_reply_status(rp, 400, "resourceVersion \"%.32s\" is not a decimal number", rvs);
		return;
	}
	if (counted && srv_quota_watch_get(srv->quota, id->cluster, &n)) {
		srv_reply_status(rp, 429, "cluster %s has %u watch streams open, the most it may (%u)",
				 id->cluster, n, srv->cfg.limits.watches_per_cluster);
		rp->retry_after = 10;
		return;
	}
	err = srv_hub_watch(srv->hub, r, from_current, rv, &rp->watch);
	if (err && counted)
		srv_quota_watch_put(srv->quota, id->cluster);
	if (err == -ESTALE)
		srv_reply_status(rp, 410, "too old resource version: %" PRIu64 "; list again", rv);
	else if (err)
		srv_reply_store_error(rp, "watch", err);
	else
		rp->code = 200;
	if (!err && counted)
		srv_watcher_on_free(rp->watch, release_watch, srv->quota, id->cluster);
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

/* A stored object must fit the object size limit (informers read every one of them). */
static bool too_big(struct srv_server *srv, const struct srv_resource *r, const char *val,
		    struct srv_reply *rp)
{
	size_t n = strlen(val);

	if (n <= srv->cfg.limits.object_bytes)
		return false;
	srv_reply_status(rp, 413, "%s is %zu bytes stored, more than the %u an object may hold",
			 r->kind, n, srv->cfg.limits.object_bytes);
	return true;
}

/* The owner must be registered, and what in claims must lie inside its networks (422). */
static int check_owner_claims(struct srv_server *srv, const struct srv_resource *r,
			      const cJSON *in, const char *cid, struct srv_reply *rp)
{
	struct srv_nets nets;
	char msg[400];
	int err = srv_nets_load(srv, cid, &nets, rp);

	if (err)
		return err;
	if (srv_check_claims(r, in, &nets, msg, sizeof(msg))) {
		srv_reply_status(rp, 422, "%s %s", r->kind, msg);
		return -EINVAL;
	}
	return 0;
}

static void do_create(struct srv_server *srv, const struct srv_ident *id, const struct srv_resource *r,
		      cJSON *in, struct srv_reply *rp)
{
	const char *cid = json_str(in, "spec.clusterID", NULL), *name = json_str(in, "metadata.name", NULL);
	char key[STORE_KEY_MAX], *val = NULL;
	struct store_txn_op op;
	uint64_t rev;
	unsigned n = 0;
	cJSON *obj;
	int err;

	if (!srv_may_write(id, cid)) {
		srv_reply_status(rp, 403, "may not create %s owned by cluster %s", r->name, cid);
		return;
	}
	if (srv_object_key(key, sizeof(key), r, name)) {
		srv_reply_status(rp, 422, "name too long");
		return;
	}
	if (check_owner_claims(srv, r, in, cid, rp))
		return;
	if (id->kind != SRV_ID_ADMIN && srv_quota_objects(srv->quota, srv->store, cid, &n)) {
		srv_reply_status(rp, 403, "cluster %s owns %u objects, the most it may (%u)", cid, n,
				 srv->cfg.limits.objects_per_cluster);
		srv_reply_reason(rp, "QuotaExceeded");
		return;
	}
	obj = srv_object_build(r, in, NULL);
	val = obj ? cJSON_PrintUnformatted(obj) : NULL;
	cJSON_Delete(obj);
	if (!val) {
		srv_reply_status(rp, 500, "out of memory");
		return;
	}
	if (too_big(srv, r, val, rp)) {
		free(val);
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
	if (!err)
		srv_quota_created(srv->quota, key, cid);
	if (rp->code == 409)
		srv_reply_reason(rp, "AlreadyExists");
	free(val);
}

static void do_update(struct srv_server *srv, const struct srv_ident *id, const struct srv_resource *r,
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
	if (check_owner_claims(srv, r, in, json_str(in, "spec.clusterID", NULL), rp)) {
		cJSON_Delete(old);
		return;
	}
	obj = srv_object_build(r, in, old);
	val = obj ? cJSON_PrintUnformatted(obj) : NULL;
	cJSON_Delete(obj);
	cJSON_Delete(old);
	if (!val || srv_object_key(key, sizeof(key), r, name)) {
		free(val);
		srv_reply_status(rp, 500, "out of memory");
		return;
	}
	if (too_big(srv, r, val, rp)) {
		free(val);
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

static void do_delete(struct srv_server *srv, const struct srv_ident *id, const struct srv_resource *r,
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

static void whoami(const struct srv_ident *id, const struct srv_request *rq, struct srv_reply *rp)
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

/* Where a request goes. */
struct route {
	bool healthz, whoami, cert;
	const struct srv_resource *r;
	const char *name;	/* NULL: the collection */
	bool get, post, put, del;
};

/* 0, or a 404/405 in rp. */
static int route(const struct srv_request *rq, struct route *ro, struct srv_reply *rp)
{
	const char *rest, *slash;

	memset(ro, 0, sizeof(*ro));
	ro->get = !strcmp(rq->method, "GET");
	ro->post = !strcmp(rq->method, "POST");
	ro->put = !strcmp(rq->method, "PUT");
	ro->del = !strcmp(rq->method, "DELETE");
	if (!strcmp(rq->path, "/healthz")) {
		ro->healthz = true;
		return 0;
	}
	if (strncmp(rq->path, BRK_API_PREFIX, strlen(BRK_API_PREFIX))) {
		srv_reply_status(rp, 404, "no such path");
		return -ENOENT;
	}
	rest = rq->path + strlen(BRK_API_PREFIX);
	if (!strcmp(rest, "whoami")) {
		ro->whoami = true;
		if (ro->get)
			return 0;
		srv_reply_status(rp, 405, "whoami supports GET only");
		return -EINVAL;
	}
	if (!strcmp(rest, "ikecertificates")) {
		ro->cert = true;	/* api_cert.c checks the method */
		return 0;
	}
	slash = strchr(rest, '/');
	ro->r = srv_resource_find(rest, slash ? (size_t)(slash - rest) : strlen(rest));
	if (ro->r && slash) {
		ro->name = slash + 1;
		if (!*ro->name || strchr(ro->name, '/'))
			ro->r = NULL;
	}
	if (!ro->r) {
		srv_reply_status(rp, 404, "the server could not find the requested resource");
		return -ENOENT;
	}
	if (!(ro->get || (ro->del && ro->name) || (ro->post && !ro->name) || (ro->put && ro->name))) {
		srv_reply_status(rp, 405, "%s not allowed on this path", rq->method);
		return -EINVAL;
	}
	if (ro->r->read_only && !ro->get) {
		srv_reply_status(rp, 405, "%s are written by the broker only (derived from other objects)",
				 ro->r->name);
		return -EINVAL;
	}
	return 0;
}

/* The body an identity may send: objects are small; the admin may send up to the hard
 * limit. */
static unsigned long long body_limit(const struct srv_server *srv, const struct srv_ident *id)
{
	return id->kind == SRV_ID_ADMIN ? SRV_BODY_MAX : srv->cfg.limits.body_bytes;
}

void srv_api_begin(struct srv_server *srv, const struct srv_request *rq, struct srv_reply *rp,
		   struct srv_ident *id)
{
	struct route ro;
	unsigned retry = 0;
	int err;

	memset(rp, 0, sizeof(*rp));
	memset(id, 0, sizeof(*id));
	if (route(rq, &ro, rp) || ro.healthz)
		return;
	err = srv_authenticate(srv, rq->authorization, id);
	if (err == -EACCES) {
		srv_reply_status(rp, 401, "a valid bearer token is required");
		return;
	}
	if (err) {
		srv_reply_store_error(rp, "authenticate", err);
		return;
	}
	/* The join token registers clusters and nothing else. */
	if (id->kind == SRV_ID_JOIN && !ro.whoami && !(ro.r && ro.post && ro.r->is_cluster && !ro.name)) {
		srv_reply_status(rp, 403, "the join token may only register clusters");
		return;
	}
	if (rq->content_length && strtoull(rq->content_length, NULL, 10) > body_limit(srv, id)) {
		srv_reply_status(rp, 413, "request body larger than %llu bytes", body_limit(srv, id));
		return;
	}
	if ((ro.post || ro.put || ro.del) && id->kind != SRV_ID_ADMIN &&
	    srv_quota_write(srv->quota, id->kind == SRV_ID_JOIN ? SRV_QUOTA_JOIN : id->cluster, &retry)) {
		srv_reply_status(rp, 429, "too many writes from %s (at most %u per second, bursts of"
				 " %u); retry in %u s", id->kind == SRV_ID_JOIN ? "the join token" :
				 id->cluster, srv->cfg.limits.writes_per_s, srv->cfg.limits.write_burst,
				 retry);
		rp->retry_after = retry;
	}
}

void srv_api_handle(struct srv_server *srv, const struct srv_request *rq,
		    const struct srv_ident *id, struct srv_reply *rp)
{
	struct route ro;
	cJSON *in;

	memset(rp, 0, sizeof(*rp));
	if (route(rq, &ro, rp))
		return;
	if (ro.healthz) {
		rp->code = 200;
		rp->text = "ok";
		return;
	}
	if (id->kind == SRV_ID_NONE) {	/* srv_api_begin() said no */
		srv_reply_status(rp, 401, "a valid bearer token is required");
		return;
	}
	if (ro.whoami) {
		whoami(id, rq, rp);
		return;
	}
	if (ro.cert) {
		srv_api_cert(srv, id, rq, rp);
		return;
	}
	if (!ro.name && ro.get) {
		if (rq->watch && (!strcmp(rq->watch, "1") || !strcmp(rq->watch, "true")))
			do_watch(srv, id, ro.r, rq, rp);
		else
			srv_api_list(srv, ro.r, rq, rp);
		return;
	}
	if (ro.get) {
		do_get(srv, ro.r, ro.name, rp);
		return;
	}
	if (ro.del) {
		if (ro.r->is_cluster)
			srv_api_cluster_delete(srv, id, ro.name, rp);
		else
			do_delete(srv, id, ro.r, ro.name, rp);
		changed(srv, ro.r, rp);
		return;
	}
	if (rq->body_too_large || rq->body_len > body_limit(srv, id)) {
		srv_reply_status(rp, 413, "request body larger than %llu bytes", body_limit(srv, id));
		return;
	}
	in = decode_valid(rq, ro.r, rp);
	if (!in)
		return;
	if (ro.post && ro.r->is_cluster)
		srv_api_cluster_create(srv, id, in, rp);
	else if (ro.post)
		do_create(srv, id, ro.r, in, rp);
	else if (ro.r->is_cluster)
		srv_api_cluster_update(srv, id, ro.name, in, rp);
	else
		do_update(srv, id, ro.r, ro.name, in, rp);
	cJSON_Delete(in);
	changed(srv, ro.r, rp);
}
