/* ServiceExport and ServiceImport objects: JSON <-> struct with strict checks (service.h). */
#include "broker/client/service.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cidr.h"
#include "common/json.h"
#include "common/name.h"
#include "common/util.h"

const char *svc_type_name(enum svc_type t)
{
	return t == SVC_HEADLESS ? "Headless" : "ClusterSetIP";
}

const char *svc_proto_name(enum svc_proto p)
{
	return p == SVC_UDP ? "UDP" : p == SVC_SCTP ? "SCTP" : "TCP";
}

int svc_proto_parse(const char *s, enum svc_proto *out)
{
	if (!s)
		return -EINVAL;
	if (!strcasecmp(s, "tcp"))
		*out = SVC_TCP;
	else if (!strcasecmp(s, "udp"))
		*out = SVC_UDP;
	else if (!strcasecmp(s, "sctp"))
		*out = SVC_SCTP;
	else
		return -EINVAL;
	return 0;
}

bool svc_port_name_ok(const char *s)
{
	size_t n = s ? strnlen(s, SVC_PORT_NAME_MAX + 1) : 0;
	bool letter = false;

	if (n < 1 || n > SVC_PORT_NAME_MAX || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c >= 'a' && c <= 'z')
			letter = true;
		else if (c == '-' ? s[i + 1] == '-' : !(c >= '0' && c <= '9'))
			return false;
	}
	return letter;
}

bool svc_record_ready(const struct svc_record *r)
{
	if (!r->n_eps)
		return true;
	for (unsigned i = 0; i < r->n_eps; i++)
		if (r->eps[i].ready)
			return true;
	return false;
}

int svc_export_name(char *buf, size_t len, const char *cluster, const char *name, const char *ns)
{
	return snprintf(buf, len, "%s.%s.%s", cluster, name, ns) >= (int)len ? -ENAMETOOLONG : 0;
}

int svc_import_name(char *buf, size_t len, const char *name, const char *ns)
{
	return snprintf(buf, len, "%s.%s", name, ns) >= (int)len ? -ENAMETOOLONG : 0;
}

void svc_record_free(struct svc_record *r)
{
	if (!r)
		return;
	free(r->eps);
	r->eps = NULL;
	r->n_eps = 0;
}

void svc_import_free(struct svc_import *im)
{
	if (!im)
		return;
	for (unsigned i = 0; i < im->n_clusters; i++)
		svc_record_free(&im->clusters[i]);
	free(im->clusters);
	im->clusters = NULL;
	im->n_clusters = 0;
}

/* ---- decoding ---- */

static int label(const cJSON *o, const char *key, const char *where, char out[SVC_LABEL_MAX + 1],
		 char *err, size_t len)
{
	const char *s = json_str(o, key, NULL);

	if (!s)
		return util_einval(err, len, "%s.%s: required string", where, key);
	if (!name_is_dns_label(s))
		return util_einval(err, len, "%s.%s: \"%.64s\" is not a DNS label (a-z, 0-9, '-', 1..63)",
				   where, key, s);
	strcpy(out, s);
	return 0;
}

static int uint_field(const cJSON *o, const char *key, const char *where, unsigned lo, unsigned hi,
		      bool required, unsigned *out, char *err, size_t len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v) {
		if (required)
			return util_einval(err, len, "%s.%s: required", where, key);
		return 0;
	}
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble != floor(v->valuedouble) ||
	    v->valuedouble < lo || v->valuedouble > hi)
		return util_einval(err, len, "%s.%s: must be an integer in %u..%u", where, key, lo, hi);
	*out = (unsigned)v->valuedouble;
	return 0;
}

/* An optional array of at most max IPv4 addresses. */
static int ip_list(const cJSON *o, const char *key, const char *where, uint32_t *out, unsigned max,
		   unsigned *n, char *err, size_t len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key), *e;

	*n = 0;
	if (!v)
		return 0;
	if (!cJSON_IsArray(v))
		return util_einval(err, len, "%s.%s: must be an array of IPv4 addresses", where, key);
	if (cJSON_GetArraySize(v) > (int)max)
		return util_einval(err, len, "%s.%s: more than %u addresses", where, key, max);
	cJSON_ArrayForEach(e, v) {
		if (!cJSON_IsString(e) || strlen(e->valuestring) > 15 || ip4_parse(e->valuestring, &out[*n]))
			return util_einval(err, len, "%s.%s[%u]: not an IPv4 address", where, key, *n);
		for (unsigned i = 0; i < *n; i++)
			if (out[i] == out[*n])
				return util_einval(err, len, "%s.%s[%u]: listed twice", where, key, *n);
		(*n)++;
	}
	return 0;
}

static int ports(const cJSON *o, const char *where, struct svc_record *r, char *err, size_t len)
{
	static const char *const keys[] = { "name", "protocol", "port" };
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "ports"), *p;
	char sub[JSON_ERR_MAX];

	if (!v)
		return 0;
	if (!cJSON_IsArray(v))
		return util_einval(err, len, "%s.ports: must be an array", where);
	if (cJSON_GetArraySize(v) > SVC_MAX_PORTS)
		return util_einval(err, len, "%s.ports: more than %d ports", where, SVC_MAX_PORTS);
	cJSON_ArrayForEach(p, v) {
		struct svc_port *sp = &r->ports[r->n_ports];
		const char *name, *proto;
		enum svc_proto pr;
		unsigned port = 0;
		char w[64];

		snprintf(w, sizeof(w), "%s.ports[%u]", where, r->n_ports);
		if (!cJSON_IsObject(p))
			return util_einval(err, len, "%s: must be an object", w);
		if (json_check_keys(p, w, keys, 3, sub))
			return util_einval(err, len, "%s", sub);
		name = json_str(p, "name", NULL);
		if (cJSON_GetObjectItemCaseSensitive(p, "name") && (!name || (*name && !svc_port_name_ok(name))))
			return util_einval(err, len, "%s.name: not a port name (1..15 of a-z, 0-9, '-', "
					   "with a letter)", w);
		proto = json_str(p, "protocol", NULL);
		if (svc_proto_parse(proto, &pr) || strcmp(proto, svc_proto_name(pr)))
			return util_einval(err, len, "%s.protocol: must be TCP, UDP or SCTP", w);
		if (uint_field(p, "port", w, 1, 65535, true, &port, err, len))
			return -EINVAL;
		snprintf(sp->name, sizeof(sp->name), "%s", name ? name : "");
		sp->proto = (uint8_t)pr;
		sp->port = (uint16_t)port;
		for (unsigned i = 0; i < r->n_ports; i++) {
			if (*sp->name && !strcmp(r->ports[i].name, sp->name))
				return util_einval(err, len, "%s.name: \"%s\" used twice", w, sp->name);
			if (r->ports[i].port == sp->port && r->ports[i].proto == sp->proto)
				return util_einval(err, len, "%s: %u/%s listed twice", w, port, proto);
		}
		r->n_ports++;
	}
	return 0;
}

static int endpoints(const cJSON *o, const char *where, struct svc_record *r, char *err, size_t len)
{
	static const char *const keys[] = { "hostname", "addresses", "ready" };
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "endpoints"), *e;
	char sub[JSON_ERR_MAX];
	int n;

	if (!v)
		return 0;
	if (!cJSON_IsArray(v))
		return util_einval(err, len, "%s.endpoints: must be an array", where);
	n = cJSON_GetArraySize(v);
	if (n > SVC_MAX_ENDPOINTS)
		return util_einval(err, len, "%s.endpoints: more than %d endpoints", where, SVC_MAX_ENDPOINTS);
	if (!n)
		return 0;
	r->eps = calloc((size_t)n, sizeof(*r->eps));
	if (!r->eps)
		return -ENOMEM;
	cJSON_ArrayForEach(e, v) {
		struct svc_endpoint *ep = &r->eps[r->n_eps];
		const cJSON *ready;
		char w[64];

		snprintf(w, sizeof(w), "%s.endpoints[%u]", where, r->n_eps);
		if (!cJSON_IsObject(e))
			return util_einval(err, len, "%s: must be an object", w);
		if (json_check_keys(e, w, keys, 3, sub))
			return util_einval(err, len, "%s", sub);
		if (label(e, "hostname", w, ep->hostname, err, len) ||
		    ip_list(e, "addresses", w, ep->addrs, SVC_MAX_ADDRS, &ep->n_addrs, err, len))
			return -EINVAL;
		if (!ep->n_addrs)
			return util_einval(err, len, "%s.addresses: at least one address is required", w);
		ready = cJSON_GetObjectItemCaseSensitive(e, "ready");
		if (!cJSON_IsBool(ready))
			return util_einval(err, len, "%s.ready: required boolean", w);
		ep->ready = cJSON_IsTrue(ready);
		/* a linear scan: at most SVC_MAX_ENDPOINTS^2/2 compares of short strings */
		for (unsigned i = 0; i < r->n_eps; i++)
			if (!strcmp(r->eps[i].hostname, ep->hostname))
				return util_einval(err, len, "%s.hostname: \"%s\" used twice", w, ep->hostname);
		r->n_eps++;
	}
	return 0;
}

static int type_field(const cJSON *o, const char *where, enum svc_type *t, char *err, size_t len)
{
	const char *s = json_str(o, "type", NULL);

	if (s && !strcmp(s, "ClusterSetIP"))
		*t = SVC_CLUSTERSET_IP;
	else if (s && !strcmp(s, "Headless"))
		*t = SVC_HEADLESS;
	else
		return util_einval(err, len, "%s.type: must be \"ClusterSetIP\" or \"Headless\"", where);
	return 0;
}

/* What an export's spec and an import's cluster entry share. */
static int record_body(const cJSON *o, const char *where, struct svc_record *r, char *err, size_t len)
{
	r->weight = 1;
	if (ip_list(o, "ips", where, r->ips, SVC_MAX_IPS, &r->n_ips, err, len) ||
	    ports(o, where, r, err, len) ||
	    uint_field(o, "weight", where, 0, SVC_WEIGHT_MAX, false, &r->weight, err, len))
		return -EINVAL;
	return endpoints(o, where, r, err, len);
}

static int type_ips(const struct svc_record *r, const char *where, char *err, size_t len)
{
	if (r->type == SVC_CLUSTERSET_IP && !r->n_ips)
		return util_einval(err, len, "%s.ips: a ClusterSetIP service needs its cluster IP", where);
	if (r->type == SVC_HEADLESS && r->n_ips)
		return util_einval(err, len, "%s.ips: a Headless service has no IPs", where);
	return 0;
}

int svc_export_spec_from_json(const cJSON *spec, struct svc_record *out, char *err, size_t len)
{
	static const char *const keys[] = { "clusterID", "name", "namespace", "type", "ips", "ports",
					    "endpoints", "weight" };
	char sub[JSON_ERR_MAX];
	int rc;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(spec))
		return util_einval(err, len, "spec: required object");
	if (json_check_keys(spec, "spec", keys, ARRAY_SIZE(keys), sub))
		return util_einval(err, len, "%s", sub);
	if (label(spec, "clusterID", "spec", out->cluster, err, len) ||
	    label(spec, "name", "spec", out->name, err, len) ||
	    label(spec, "namespace", "spec", out->ns, err, len) ||
	    type_field(spec, "spec", &out->type, err, len))
		return -EINVAL;
	rc = record_body(spec, "spec", out, err, len);
	if (rc)
		return rc;
	return type_ips(out, "spec", err, len);
}

static int cluster_entry(const cJSON *c, const char *where, const struct svc_import *im,
			 struct svc_record *r, char *err, size_t len)
{
	int rc;

	if (!cJSON_IsObject(c))
		return util_einval(err, len, "%s: must be an object", where);
	if (label(c, "cluster", where, r->cluster, err, len))
		return -EINVAL;
	strcpy(r->name, im->name);
	strcpy(r->ns, im->ns);
	r->type = im->type;
	rc = record_body(c, where, r, err, len);
	if (rc)
		return rc;
	return type_ips(r, where, err, len);
}

int svc_import_from_json(const cJSON *obj, struct svc_import *out, char *err, size_t len)
{
	const cJSON *spec, *status, *clusters, *c;
	struct svc_record tmp = { 0 };
	char want[SVC_KEY_MAX];
	const char *s;
	int n, rc;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(obj))
		return util_einval(err, len, "not a JSON object");
	s = json_str(obj, "kind", NULL);
	if (s && strcmp(s, "ServiceImport"))
		return util_einval(err, len, "kind: \"%.32s\" is not ServiceImport", s);
	spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	if (!cJSON_IsObject(spec))
		return util_einval(err, len, "spec: required object");
	if (label(spec, "name", "spec", out->name, err, len) ||
	    label(spec, "namespace", "spec", out->ns, err, len) ||
	    type_field(spec, "spec", &out->type, err, len))
		return -EINVAL;
	s = json_str(obj, "metadata.name", NULL);
	if (svc_import_name(want, sizeof(want), out->name, out->ns) || !s || strcmp(s, want))
		return util_einval(err, len, "metadata.name: must be \"%s\"", want);
	/* the service-wide ports: decoded as a record's */
	rc = ports(spec, "spec", &tmp, err, len);
	memcpy(out->ports, tmp.ports, sizeof(out->ports));
	out->n_ports = tmp.n_ports;
	if (rc)
		return rc;
	status = cJSON_GetObjectItemCaseSensitive(obj, "status");
	if (status && !cJSON_IsObject(status))
		return util_einval(err, len, "status: must be an object");
	clusters = cJSON_GetObjectItemCaseSensitive(status, "clusters");
	if (!clusters)
		return 0;
	if (!cJSON_IsArray(clusters))
		return util_einval(err, len, "status.clusters: must be an array");
	n = cJSON_GetArraySize(clusters);
	if (n > SVC_MAX_CLUSTERS)
		return util_einval(err, len, "status.clusters: more than %d clusters", SVC_MAX_CLUSTERS);
	if (!n)
		return 0;
	out->clusters = calloc((size_t)n, sizeof(*out->clusters));
	if (!out->clusters)
		return -ENOMEM;
	cJSON_ArrayForEach(c, clusters) {
		struct svc_record *r = &out->clusters[out->n_clusters];
		char w[48];

		snprintf(w, sizeof(w), "status.clusters[%u]", out->n_clusters);
		out->n_clusters++;	/* counted before decoding so that free sees its endpoints */
		rc = cluster_entry(c, w, out, r, err, len);
		if (rc)
			return rc;
		for (unsigned i = 0; i + 1 < out->n_clusters; i++)
			if (!strcmp(out->clusters[i].cluster, r->cluster))
				return util_einval(err, len, "%s.cluster: \"%s\" listed twice", w, r->cluster);
	}
	return 0;
}

/* ---- encoding ---- */

static cJSON *ip_array(const uint32_t *ips, unsigned n)
{
	cJSON *a = cJSON_CreateArray();
	char buf[16];

	for (unsigned i = 0; a && i < n; i++) {
		ip4_format(ips[i], buf);
		if (!cJSON_AddItemToArray(a, cJSON_CreateString(buf))) {
			cJSON_Delete(a);
			return NULL;
		}
	}
	return a;
}

static bool add(cJSON *o, const char *key, cJSON *v)
{
	if (!v)
		return false;
	if (!cJSON_AddItemToObject(o, key, v)) {
		cJSON_Delete(v);
		return false;
	}
	return true;
}

static cJSON *port_array(const struct svc_port *p, unsigned n)
{
	cJSON *a = cJSON_CreateArray();

	for (unsigned i = 0; a && i < n; i++) {
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddItemToArray(a, o) ||
		    (*p[i].name && !cJSON_AddStringToObject(o, "name", p[i].name)) ||
		    !cJSON_AddStringToObject(o, "protocol", svc_proto_name(p[i].proto)) ||
		    !cJSON_AddNumberToObject(o, "port", p[i].port)) {
			cJSON_Delete(a);
			return NULL;
		}
	}
	return a;
}

static cJSON *ep_array(const struct svc_endpoint *e, unsigned n)
{
	cJSON *a = cJSON_CreateArray();

	for (unsigned i = 0; a && i < n; i++) {
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddItemToArray(a, o) ||
		    !cJSON_AddStringToObject(o, "hostname", e[i].hostname) ||
		    !add(o, "addresses", ip_array(e[i].addrs, e[i].n_addrs)) ||
		    !cJSON_AddBoolToObject(o, "ready", e[i].ready)) {
			cJSON_Delete(a);
			return NULL;
		}
	}
	return a;
}

cJSON *svc_record_to_json(const struct svc_record *r, bool entry)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	if (entry ? !cJSON_AddStringToObject(o, "cluster", r->cluster) :
	    (!cJSON_AddStringToObject(o, "clusterID", r->cluster) ||
	     !cJSON_AddStringToObject(o, "name", r->name) ||
	     !cJSON_AddStringToObject(o, "namespace", r->ns) ||
	     !cJSON_AddStringToObject(o, "type", svc_type_name(r->type))))
		goto err;
	if ((r->n_ips && !add(o, "ips", ip_array(r->ips, r->n_ips))) ||
	    !add(o, "ports", port_array(r->ports, r->n_ports)) ||
	    !add(o, "endpoints", ep_array(r->eps, r->n_eps)) ||
	    !cJSON_AddNumberToObject(o, "weight", r->weight))
		goto err;
	return o;
err:
	cJSON_Delete(o);
	return NULL;
}

cJSON *svc_export_to_json(const struct svc_record *r)
{
	cJSON *o = cJSON_CreateObject(), *md;
	char name[SVC_KEY_MAX];

	if (!o || svc_export_name(name, sizeof(name), r->cluster, r->name, r->ns) ||
	    !cJSON_AddStringToObject(o, "apiVersion", "subagent.io/v1") ||
	    !cJSON_AddStringToObject(o, "kind", "ServiceExport") ||
	    !(md = cJSON_AddObjectToObject(o, "metadata")) ||
	    !cJSON_AddStringToObject(md, "name", name) ||
	    !add(o, "spec", svc_record_to_json(r, false))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}
