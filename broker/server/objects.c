/* API objects: the resource table, metadata filling, Status errors. */
#include "broker/server/objects.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "broker/server/claims.h"
#include "broker/server/svc_import.h"
#include "broker/server/validate.h"
#include "common/json.h"
#include "common/util.h"

const struct srv_resource srv_resources[] = {
	{ "clusters", "Cluster", "ClusterList", srv_validate_cluster_spec, 1 },
	{ "endpoints", "Endpoint", "EndpointList", srv_validate_endpoint_spec, 0,
	  .check_claims = srv_claims_endpoint },
	{ "gatewaystatuses", "GatewayStatus", "GatewayStatusList", srv_validate_gwstatus_spec, 0 },
	{ "globalegressips", "GlobalEgressIP", "GlobalEgressIPList", srv_validate_gegress_spec, 0,
	  .check_claims = srv_claims_gegress },
	{ "globalingressips", "GlobalIngressIP", "GlobalIngressIPList", srv_validate_gingress_spec, 0,
	  .check_claims = srv_claims_gingress },
	{ "serviceexports", "ServiceExport", "ServiceExportList", srv_validate_svcexport_spec, 0,
	  .validate_name = srv_validate_svcexport_name, .on_change = srv_svc_export_changed,
	  .check_claims = srv_claims_svcexport },
	{ "serviceimports", "ServiceImport", "ServiceImportList", NULL, 0, .read_only = 1 },
};
const unsigned srv_n_resources = ARRAY_SIZE(srv_resources);

const struct srv_resource *srv_resource_find(const char *name, size_t len)
{
	for (unsigned i = 0; i < srv_n_resources; i++)
		if (strlen(srv_resources[i].name) == len && !memcmp(srv_resources[i].name, name, len))
			return &srv_resources[i];
	return NULL;
}

const struct srv_resource *srv_resource_of_key(const char *key)
{
	const char *slash;

	if (strncmp(key, "r/", 2))
		return NULL;
	slash = strchr(key + 2, '/');
	return slash ? srv_resource_find(key + 2, (size_t)(slash - key - 2)) : NULL;
}

static int make_uid(char out[37])
{
	unsigned char r[16];
	int err = util_random(r, sizeof(r));

	if (err)
		return err;
	r[6] = (r[6] & 0x0f) | 0x40;	/* version 4 */
	r[8] = (r[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
		 r[13], r[14], r[15]);
	return 0;
}

static void now_rfc3339(char out[32])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int add_dup(cJSON *dst, const char *name, const cJSON *src)
{
	cJSON *d = cJSON_Duplicate(src, 1);

	if (!d)
		return -ENOMEM;
	if (!cJSON_AddItemToObject(dst, name, d)) {
		cJSON_Delete(d);
		return -ENOMEM;
	}
	return 0;
}

cJSON *srv_object_build(const struct srv_resource *r, const cJSON *in, const cJSON *old)
{
	const cJSON *imd = cJSON_GetObjectItemCaseSensitive(in, "metadata");
	const cJSON *omd = cJSON_GetObjectItemCaseSensitive(old, "metadata");
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(imd, "labels");
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(in, "status");
	const char *uid = json_str(omd, "uid", NULL), *ts = json_str(omd, "creationTimestamp", NULL);
	char uidbuf[37], tsbuf[32];
	cJSON *o = cJSON_CreateObject(), *md;

	if (!o)
		return NULL;
	if (!uid) {
		if (make_uid(uidbuf))
			goto err;
		uid = uidbuf;
	}
	if (!ts) {
		now_rfc3339(tsbuf);
		ts = tsbuf;
	}
	if (!cJSON_AddStringToObject(o, "apiVersion", SRV_API_GROUP) ||
	    !cJSON_AddStringToObject(o, "kind", r->kind) ||
	    !(md = cJSON_AddObjectToObject(o, "metadata")) ||
	    !cJSON_AddStringToObject(md, "name", json_str(imd, "name", NULL)) ||
	    !cJSON_AddStringToObject(md, "uid", uid) ||
	    !cJSON_AddStringToObject(md, "creationTimestamp", ts))
		goto err;
	if (cJSON_IsObject(labels) && add_dup(md, "labels", labels))
		goto err;
	if (add_dup(o, "spec", cJSON_GetObjectItemCaseSensitive(in, "spec")))
		goto err;
	if (cJSON_IsObject(status) ? add_dup(o, "status", status) : !cJSON_AddObjectToObject(o, "status"))
		goto err;
	return o;
err:
	cJSON_Delete(o);
	return NULL;
}

cJSON *srv_object_load(const char *value, uint64_t rev)
{
	cJSON *o = cJSON_Parse(value), *md, *s;
	char buf[24];

	md = cJSON_GetObjectItemCaseSensitive(o, "metadata");
	if (!cJSON_IsObject(md)) {
		cJSON_Delete(o);
		return NULL;
	}
	snprintf(buf, sizeof(buf), "%" PRIu64, rev);
	s = cJSON_CreateString(buf);
	if (!s) {
		cJSON_Delete(o);
		return NULL;
	}
	if (cJSON_GetObjectItemCaseSensitive(md, "resourceVersion"))
		cJSON_ReplaceItemInObjectCaseSensitive(md, "resourceVersion", s);
	else
		cJSON_AddItemToObject(md, "resourceVersion", s);
	return o;
}

const char *srv_reason(int code)
{
	switch (code) {
	case 400: return "BadRequest";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "NotFound";
	case 405: return "MethodNotAllowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "RequestEntityTooLarge";
	case 422: return "Invalid";
	case 503: return "ServiceUnavailable";
	default: return "InternalError";
	}
}

cJSON *srv_status(int code, const char *reason, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	cJSON *o = cJSON_CreateObject();

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!o)
		return NULL;
	if (!cJSON_AddStringToObject(o, "kind", "Status") ||
	    !cJSON_AddStringToObject(o, "apiVersion", "v1") ||
	    !cJSON_AddObjectToObject(o, "metadata") ||
	    !cJSON_AddStringToObject(o, "status", "Failure") ||
	    !cJSON_AddStringToObject(o, "message", msg) ||
	    !cJSON_AddStringToObject(o, "reason", reason ? reason : srv_reason(code)) ||
	    !cJSON_AddNumberToObject(o, "code", code)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int srv_object_key(char *buf, size_t len, const struct srv_resource *r, const char *name)
{
	if (snprintf(buf, len, "r/%s/%s", r->name, name) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}
