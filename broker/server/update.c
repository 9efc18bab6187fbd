/* The preconditions of an update that every resource shares. */
#include "broker/server/update.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "broker/server/reply.h"
#include "broker/store/store.h"
#include "common/json.h"
#include "common/util.h"

cJSON *srv_update_check(struct srv_server *srv, const struct srv_ident *id, const struct srv_resource *r,
			const char *name, cJSON *in, uint64_t *rv, struct srv_reply *rp)
{
	const char *rvs = json_str(in, "metadata.resourceVersion", NULL);
	const char *cid = json_str(in, "spec.clusterID", NULL), *ocid;
	char key[STORE_KEY_MAX], *val = NULL;
	uint64_t want;
	uint64_t cur;
	cJSON *old;
	int err;

	if (strcmp(name, json_str(in, "metadata.name", NULL))) {
		srv_reply_status(rp, 400, "metadata.name \"%s\" does not match the URL",
			     json_str(in, "metadata.name", NULL));
		return NULL;
	}
	if (!rvs || util_parse_u64(rvs, INT64_MAX, &want)) {
		srv_reply_status(rp, 422, "metadata.resourceVersion: required for an update");
		return NULL;
	}
	if (srv_object_key(key, sizeof(key), r, name)) {
		srv_reply_status(rp, 404, "%s not found", r->name);
		return NULL;
	}
	err = srv->store->ops->get(srv->store, key, &val, &cur);
	if (err == -ENOENT) {
		srv_reply_status(rp, 404, "%s \"%s\" not found", r->name, name);
		return NULL;
	}
	if (err) {
		srv_reply_store_error(rp, "get", err);
		return NULL;
	}
	old = cJSON_Parse(val);
	free(val);
	ocid = json_str(old, "spec.clusterID", NULL);
	if (!ocid) {
		cJSON_Delete(old);
		srv_reply_status(rp, 500, "stored object does not parse");
		return NULL;
	}
	if (!srv_may_write(id, ocid) || !srv_may_write(id, cid)) {
		srv_reply_status(rp, 403, "may not update %s \"%s\" owned by cluster %s", r->name, name, ocid);
		goto err;
	}
	if (strcmp(ocid, cid)) {
		srv_reply_status(rp, 422, "spec.clusterID: may not change (is %s)", ocid);
		goto err;
	}
	if (want != cur) {
		srv_reply_status(rp, 409, "Operation cannot be fulfilled on %s \"%s\": the object has been"
			     " modified (resourceVersion %" PRIu64 ", now %" PRIu64 "); read it and try again",
			     r->name, name, want, cur);
		goto err;
	}
	*rv = want;
	return old;
err:
	cJSON_Delete(old);
	return NULL;
}
