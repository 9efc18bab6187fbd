/* Request body decoding and object validation. Every field a client sends is checked for
 * type, syntax and size here before anything reaches the store; fields the broker does
 * not know are kept (newer agents may send more) but bounded by the body size limit. */
#include "broker/server/validate.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/client/service.h"
#include "broker/server/objects.h"
#include "common/cidr.h"
#include "common/json.h"
#include "common/name.h"
#include "common/util.h"

#define MAX_CIDRS	64
#define MAX_CONNS	1024
#define MAX_BACKEND	64
#define MAX_STR		1024


cJSON *srv_decode_body(const char *buf, size_t len, char *msg, size_t msglen)
{
	const char *end = NULL;
	cJSON *obj;

	if (len > SRV_BODY_MAX) {
		snprintf(msg, msglen, "request body larger than %d bytes", SRV_BODY_MAX);
		errno = EMSGSIZE;
		return NULL;
	}
	if (len == 0 || !buf) {
		snprintf(msg, msglen, "empty request body");
		errno = EINVAL;
		return NULL;
	}
	obj = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	if (!obj) {
		snprintf(msg, msglen, "malformed JSON near byte %zu",
			 end && end >= buf ? (size_t)(end - buf) : 0);
		errno = EINVAL;
		return NULL;
	}
	/* only white space may follow the object */
	for (const char *p = end; p && p < buf + len; p++) {
		if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') {
			snprintf(msg, msglen, "malformed JSON: trailing data at byte %zu",
				 (size_t)(p - buf));
			cJSON_Delete(obj);
			errno = EINVAL;
			return NULL;
		}
	}
	if (!cJSON_IsObject(obj)) {
		snprintf(msg, msglen, "request body is not a JSON object");
		cJSON_Delete(obj);
		errno = EINVAL;
		return NULL;
	}
	return obj;
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* A string field: required or optional, at most max bytes, no control characters. */
static int str_field(const cJSON *o, const char *f, bool required, size_t max, const char **out,
		     char *msg, size_t len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, f);

	*out = NULL;
	if (!v || cJSON_IsNull(v)) {
		if (required)
			return util_einval(msg, len, "spec.%s: required", f);
		return 0;
	}
	if (!cJSON_IsString(v) || !v->valuestring)
		return util_einval(msg, len, "spec.%s: must be a string", f);
	if (strlen(v->valuestring) > max)
		return util_einval(msg, len, "spec.%s: longer than %zu bytes", f, max);
	if (!printable(v->valuestring))
		return util_einval(msg, len, "spec.%s: control characters", f);
	*out = v->valuestring;
	return 0;
}

static int ip_field(const cJSON *o, const char *f, bool required, char *msg, size_t len)
{
	const char *s;
	uint32_t a;
	int err = str_field(o, f, required, 15 + 1, &s, msg, len);

	if (err)
		return err;
	if (s && (required || *s) && ip4_parse(s, &a))
		return util_einval(msg, len, "spec.%s: \"%s\" is not an IPv4 address", f, s);
	return 0;
}

static int int_field(const cJSON *o, const char *f, bool required, double lo, double hi,
		     char *msg, size_t len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, f);

	if (!v || cJSON_IsNull(v))
		return required ? util_einval(msg, len, "spec.%s: required", f) : 0;
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
	    v->valuedouble < lo || v->valuedouble > hi)
		return util_einval(msg, len, "spec.%s: must be an integer in %.0f..%.0f", f, lo, hi);
	return 0;
}

static int cidr_list(const cJSON *o, const char *f, bool required, char *msg, size_t len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, f), *e;
	int i = 0;

	if (!v || cJSON_IsNull(v))
		return required ? util_einval(msg, len, "spec.%s: required", f) : 0;
	if (!cJSON_IsArray(v))
		return util_einval(msg, len, "spec.%s: must be an array of CIDRs", f);
	if (cJSON_GetArraySize(v) > MAX_CIDRS)
		return util_einval(msg, len, "spec.%s: more than %d entries", f, MAX_CIDRS);
	if (required && cJSON_GetArraySize(v) == 0)
		return util_einval(msg, len, "spec.%s: must not be empty", f);
	cJSON_ArrayForEach(e, v) {
		struct cidr4 c;

		if (!cJSON_IsString(e) || !e->valuestring || strlen(e->valuestring) > 18 ||
		    cidr4_parse(e->valuestring, &c))
			return util_einval(msg, len, "spec.%s[%d]: not an IPv4 CIDR (a.b.c.d/n, host bits zero)",
				    f, i);
		i++;
	}
	return 0;
}

static int cable_field(const cJSON *o, bool required, char *msg, size_t len)
{
	const char *s;
	int err = str_field(o, "cableDriver", required, 16, &s, msg, len);

	if (err)
		return err;
	if (s && strcmp(s, "ipsec") && strcmp(s, "vxlan"))
		return util_einval(msg, len, "spec.cableDriver: \"%s\" is not one of ipsec, vxlan", s);
	return 0;
}

static int hostname_field(const cJSON *o, char *msg, size_t len)
{
	const char *s;
	int err = str_field(o, "hostname", true, 253, &s, msg, len);

	if (err)
		return err;
	if (!name_is_safe(s, strlen(s), NAME_SUBDOMAIN_MAX))
		return util_einval(msg, len, "spec.hostname: must be 1..253 of [A-Za-z0-9._-]");
	return 0;
}

int srv_validate_cluster_spec(const cJSON *spec, char *msg, size_t len)
{
	int err;

	err = cidr_list(spec, "clusterCIDRs", true, msg, len);
	if (!err)
		err = cidr_list(spec, "serviceCIDRs", false, msg, len);
	if (!err)
		err = cidr_list(spec, "globalCIDRs", false, msg, len);
	if (!err)
		err = cable_field(spec, false, msg, len);
	return err;
}

int srv_validate_endpoint_spec(const cJSON *spec, char *msg, size_t len)
{
	const cJSON *b, *e;
	int err;

	err = hostname_field(spec, msg, len);
	if (!err)
		err = ip_field(spec, "privateIP", true, msg, len);
	if (!err)
		err = ip_field(spec, "publicIP", false, msg, len);
	if (!err)
		err = ip_field(spec, "healthCheckIP", false, msg, len);
	if (!err)
		err = int_field(spec, "natTPort", false, 1, 65535, msg, len);
	if (!err)
		err = int_field(spec, "epoch", false, 0, 9007199254740991.0, msg, len);
	if (!err)
		err = cidr_list(spec, "subnets", false, msg, len);
	if (!err)
		err = cable_field(spec, false, msg, len);
	if (err)
		return err;
	b = cJSON_GetObjectItemCaseSensitive(spec, "backend");
	if (!b || cJSON_IsNull(b))
		return 0;
	if (!cJSON_IsObject(b))
		return util_einval(msg, len, "spec.backend: must be an object of strings");
	if (cJSON_GetArraySize(b) > MAX_BACKEND)
		return util_einval(msg, len, "spec.backend: more than %d entries", MAX_BACKEND);
	cJSON_ArrayForEach(e, b) {
		if (!e->string || strlen(e->string) > 253 || !printable(e->string))
			return util_einval(msg, len, "spec.backend: invalid key");
		if (!cJSON_IsString(e) || strlen(e->valuestring) > MAX_STR || !printable(e->valuestring))
			return util_einval(msg, len, "spec.backend.%s: must be a string of at most %d bytes",
				    e->string, MAX_STR);
	}
	return 0;
}

int srv_validate_gwstatus_spec(const cJSON *spec, char *msg, size_t len)
{
	const cJSON *conns, *c;
	const char *s;
	int err, i = 0;

	err = hostname_field(spec, msg, len);
	if (!err)
		err = str_field(spec, "haStatus", true, 16, &s, msg, len);
	if (err)
		return err;
	if (strcmp(s, "active") && strcmp(s, "passive"))
		return util_einval(msg, len, "spec.haStatus: \"%s\" is not one of active, passive", s);
	conns = cJSON_GetObjectItemCaseSensitive(spec, "connections");
	if (!conns || cJSON_IsNull(conns))
		return 0;
	if (!cJSON_IsArray(conns))
		return util_einval(msg, len, "spec.connections: must be an array");
	if (cJSON_GetArraySize(conns) > MAX_CONNS)
		return util_einval(msg, len, "spec.connections: more than %d entries", MAX_CONNS);
	cJSON_ArrayForEach(c, conns) {
		char sub[200];

		if (!cJSON_IsObject(c))
			return util_einval(msg, len, "spec.connections[%d]: must be an object", i);
		err = str_field(c, "cluster", true, 63, &s, sub, sizeof(sub));
		if (!err && !name_is_dns_label(s))
			err = util_einval(sub, sizeof(sub), "spec.cluster: not a DNS label");
		if (!err)
			err = ip_field(c, "remoteIP", false, sub, sizeof(sub));
		if (!err)
			err = str_field(c, "status", false, 64, &s, sub, sizeof(sub));
		if (!err)
			err = int_field(c, "rttAvgNs", false, 0, 9007199254740991.0, sub, sizeof(sub));
		if (err)	/* "spec.x: why" -> "spec.connections[i].x: why" */
			return util_einval(msg, len, "spec.connections[%d].%s", i, sub + 5);
		i++;
	}
	return 0;
}

/* GlobalEgressIP.spec: exactly one of pod (an IPv4 address) or cidr (a CIDR of pods).
 * GlobalIngressIP.spec: exactly one of pod or service (a VIP). status.globalIP is
 * written by the owning cluster's gateway. */
static int one_of(const cJSON *spec, const char *a, const char *b, char *msg, size_t len)
{
	const cJSON *va = cJSON_GetObjectItemCaseSensitive(spec, a);
	const cJSON *vb = cJSON_GetObjectItemCaseSensitive(spec, b);
	int na = va && !cJSON_IsNull(va), nb = vb && !cJSON_IsNull(vb);

	if (na + nb != 1)
		return util_einval(msg, len, "spec: exactly one of %s, %s is required", a, b);
	return 0;
}

static int cidr_field(const cJSON *o, const char *f, char *msg, size_t len)
{
	const char *s;
	struct cidr4 c;
	int err = str_field(o, f, false, 18, &s, msg, len);

	if (err)
		return err;
	if (s && cidr4_parse(s, &c))
		return util_einval(msg, len, "spec.%s: \"%s\" is not an IPv4 CIDR (host bits zero)", f, s);
	return 0;
}

int srv_validate_gegress_spec(const cJSON *spec, char *msg, size_t len)
{
	int err = one_of(spec, "pod", "cidr", msg, len);

	if (!err)
		err = ip_field(spec, "pod", false, msg, len);
	if (!err)
		err = cidr_field(spec, "cidr", msg, len);
	return err;
}

int srv_validate_gingress_spec(const cJSON *spec, char *msg, size_t len)
{
	int err = one_of(spec, "pod", "service", msg, len);

	if (!err)
		err = ip_field(spec, "pod", false, msg, len);
	if (!err)
		err = ip_field(spec, "service", false, msg, len);
	return err;
}

int srv_validate_svcexport_spec(const cJSON *spec, char *msg, size_t len)
{
	struct svc_record r;
	int err = svc_export_spec_from_json(spec, &r, msg, len);

	svc_record_free(&r);
	if (err == -ENOMEM)
		return util_einval(msg, len, "spec: out of memory");
	return err;
}

int srv_validate_svcexport_name(const char *name, const cJSON *spec, char *msg, size_t len)
{
	char want[SVC_KEY_MAX];

	if (svc_export_name(want, sizeof(want), json_str(spec, "clusterID", ""), json_str(spec, "name", ""),
			    json_str(spec, "namespace", "")) || strcmp(name, want))
		return util_einval(msg, len, "metadata.name: must be \"%s\" (CLUSTER.NAME.NAMESPACE)", want);
	return 0;
}

int srv_validate_object(const struct srv_resource *r, const cJSON *obj, char *msg, size_t len)
{
	const cJSON *md, *spec, *v;
	const char *name, *cid;
	uint64_t rv;
	size_t n;

	if (!cJSON_IsObject(obj))
		return util_einval(msg, len, "not a JSON object");
	if (r->read_only || !r->validate_spec)
		return util_einval(msg, len, "%s are written by the broker only", r->name);
	v = cJSON_GetObjectItemCaseSensitive(obj, "apiVersion");
	if (v && !(cJSON_IsString(v) && !strcmp(v->valuestring, SRV_API_GROUP)))
		return util_einval(msg, len, "apiVersion: must be \"%s\"", SRV_API_GROUP);
	v = cJSON_GetObjectItemCaseSensitive(obj, "kind");
	if (v && !(cJSON_IsString(v) && !strcmp(v->valuestring, r->kind)))
		return util_einval(msg, len, "kind: must be \"%s\" for %s", r->kind, r->name);
	md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	if (!cJSON_IsObject(md))
		return util_einval(msg, len, "metadata: required object");
	v = cJSON_GetObjectItemCaseSensitive(md, "name");
	if (!cJSON_IsString(v) || !v->valuestring)
		return util_einval(msg, len, "metadata.name: required string");
	name = v->valuestring;
	if (r->is_cluster ? !name_is_dns_label(name) : !name_is_dns_subdomain(name))
		return util_einval(msg, len, "metadata.name: not a DNS %s (lowercase a-z, 0-9, '-'%s)",
			    r->is_cluster ? "label" : "name", r->is_cluster ? ", 1..63 chars" : ", '.'");
	v = cJSON_GetObjectItemCaseSensitive(md, "resourceVersion");
	if (v && !cJSON_IsNull(v) && !(cJSON_IsString(v) && !util_parse_u64(v->valuestring, INT64_MAX, &rv)))
		return util_einval(msg, len, "metadata.resourceVersion: must be a decimal string");
	v = cJSON_GetObjectItemCaseSensitive(md, "labels");
	if (v && !cJSON_IsNull(v)) {
		const cJSON *l;

		if (!cJSON_IsObject(v) || cJSON_GetArraySize(v) > 64)
			return util_einval(msg, len, "metadata.labels: must be an object of at most 64 strings");
		cJSON_ArrayForEach(l, v)
			if (!cJSON_IsString(l) || strlen(l->valuestring) > 63 || strlen(l->string) > 253)
				return util_einval(msg, len, "metadata.labels: values are strings <= 63 bytes");
	}
	spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	if (!cJSON_IsObject(spec))
		return util_einval(msg, len, "spec: required object");
	v = cJSON_GetObjectItemCaseSensitive(obj, "status");
	if (v && !cJSON_IsNull(v) && !cJSON_IsObject(v))
		return util_einval(msg, len, "status: must be an object");
	if (str_field(spec, "clusterID", true, 63, &cid, msg, len))
		return -EINVAL;
	if (!name_is_dns_label(cid))
		return util_einval(msg, len, "spec.clusterID: \"%s\" is not a DNS label (a-z, 0-9, '-', 1..63 chars)",
			    cid);
	n = strlen(cid);
	if (r->is_cluster && strcmp(name, cid))
		return util_einval(msg, len, "metadata.name: must equal spec.clusterID \"%s\"", cid);
	/* "<clusterID>.<name>": a cluster ID holds no '.', so the first label of a name is
	 * its owner and no cluster can take a name another cluster could need ("prod" could
	 * take "prod-eu-gw" under a '-' rule). */
	if (!r->is_cluster && (strncmp(name, cid, n) || name[n] != '.' || !name[n + 1]))
		return util_einval(msg, len, "metadata.name: must be \"%s.<name>\" (the owning"
				   " cluster's ID, a dot, a DNS name)", cid);
	if (r->validate_spec(spec, msg, len))
		return -EINVAL;
	return r->validate_name ? r->validate_name(name, spec, msg, len) : 0;
}
