/* Endpoint objects: JSON <-> struct, strict validation of every field. */
#include "broker/client/endpoint.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/json.h"
#include "common/name.h"
#include "common/util.h"

static int copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

static int get_ip(const cJSON *spec, const char *key, char out[16], bool required,
		  char *err, size_t errlen)
{
	const char *s = json_str(spec, key, NULL);
	uint32_t a;

	if (!s || !*s) {
		out[0] = '\0';
		return required ? util_einval(err, errlen, "spec.%s: missing", key) : 0;
	}
	if (strlen(s) > 15 || ip4_parse(s, &a))
		return util_einval(err, errlen, "spec.%s: not an IPv4 address", key);
	strcpy(out, s);
	return 0;
}

static int get_uint(const cJSON *spec, const char *key, uint64_t max, uint64_t *out,
		    char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, key);

	if (!v)
		return util_einval(err, errlen, "spec.%s: missing", key);
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > (double)max ||
	    floor(v->valuedouble) != v->valuedouble)
		return util_einval(err, errlen, "spec.%s: not an integer in range", key);
	*out = (uint64_t)v->valuedouble;
	return 0;
}

static bool valid_mac(const char *s)
{
	if (strlen(s) != 17)
		return false;
	for (int i = 0; i < 17; i++) {
		char c = s[i];

		if (i % 3 == 2 ? c != ':' :
		    !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

int endpoint_from_json(const cJSON *obj, struct sa_endpoint *ep, char *err, size_t errlen)
{
	const cJSON *meta, *spec, *subnets, *sub, *backend;
	const char *s;
	uint64_t v;
	int rc;

	memset(ep, 0, sizeof(*ep));
	if (!cJSON_IsObject(obj))
		return util_einval(err, errlen, "%s", "not a JSON object");
	meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	if (!cJSON_IsObject(meta) || !cJSON_IsObject(spec))
		return util_einval(err, errlen, "%s", "metadata or spec missing");
	s = json_str(meta, "name", NULL);
	if (!s || copy_str(ep->name, sizeof(ep->name), s) || !*s)
		return util_einval(err, errlen, "%s", "metadata.name missing or too long");

	s = json_str(spec, "clusterID", NULL);
	if (!s || !name_is_dns_label(s))
		return util_einval(err, errlen, "spec.%s: not a DNS label", "clusterID");
	strcpy(ep->cluster_id, s);
	s = json_str(spec, "hostname", NULL);
	if (!s || !name_is_dns_label(s))
		return util_einval(err, errlen, "spec.%s: not a DNS label", "hostname");
	strcpy(ep->hostname, s);

	if ((rc = get_ip(spec, "privateIP", ep->private_ip, true, err, errlen)) ||
	    (rc = get_ip(spec, "publicIP", ep->public_ip, true, err, errlen)) ||
	    (rc = get_ip(spec, "healthCheckIP", ep->health_ip, false, err, errlen)))
		return rc;
	if ((rc = get_uint(spec, "natTPort", 65535, &v, err, errlen)))
		return rc;
	if (v == 0)
		return util_einval(err, errlen, "spec.%s: must be 1..65535", "natTPort");
	ep->nat_t_port = (uint16_t)v;
	if ((rc = get_uint(spec, "epoch", (uint64_t)1 << 53, &ep->epoch, err, errlen)))
		return rc;

	s = json_str(spec, "cableDriver", NULL);
	if (!s || (strcmp(s, "ipsec") && strcmp(s, "vxlan")))
		return util_einval(err, errlen, "spec.%s: must be \"ipsec\" or \"vxlan\"", "cableDriver");
	strcpy(ep->cable_driver, s);

	subnets = cJSON_GetObjectItemCaseSensitive(spec, "subnets");
	if (!cJSON_IsArray(subnets) || cJSON_GetArraySize(subnets) == 0)
		return util_einval(err, errlen, "spec.%s: missing or empty", "subnets");
	if (cJSON_GetArraySize(subnets) > EP_MAX_SUBNETS)
		return util_einval(err, errlen, "spec.%s: too many", "subnets");
	cJSON_ArrayForEach(sub, subnets) {
		struct cidr4 *c = &ep->subnets[ep->n_subnets];

		if (!cJSON_IsString(sub) || cidr4_parse(sub->valuestring, c))
			return util_einval(err, errlen, "spec.%s: an entry is not a CIDR", "subnets");
		if (c->len == 0)
			return util_einval(err, errlen, "spec.%s: 0.0.0.0/0 is not a cluster subnet", "subnets");
		ep->n_subnets++;
	}

	backend = cJSON_GetObjectItemCaseSensitive(spec, "backend");
	if (backend && !cJSON_IsObject(backend))
		return util_einval(err, errlen, "spec.%s: not an object", "backend");
	s = backend ? json_str(backend, "vtepMAC", NULL) : NULL;
	if (s) {
		if (!valid_mac(s))
			return util_einval(err, errlen, "spec.backend.%s: not a lowercase MAC address", "vtepMAC");
		strcpy(ep->vtep_mac, s);
	}
	if (!strcmp(ep->cable_driver, "vxlan") && !ep->vtep_mac[0])
		return util_einval(err, errlen, "spec.backend.%s: required by the vxlan driver", "vtepMAC");
	return 0;
}

cJSON *endpoint_to_json(const struct sa_endpoint *ep)
{
	cJSON *o = cJSON_CreateObject(), *meta, *spec, *subs, *backend;

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "apiVersion", "subagent.io/v1");
	cJSON_AddStringToObject(o, "kind", "Endpoint");
	meta = cJSON_AddObjectToObject(o, "metadata");
	spec = cJSON_AddObjectToObject(o, "spec");
	if (!meta || !spec)
		goto err;
	cJSON_AddStringToObject(meta, "name", ep->name);
	cJSON_AddStringToObject(spec, "clusterID", ep->cluster_id);
	cJSON_AddStringToObject(spec, "hostname", ep->hostname);
	cJSON_AddStringToObject(spec, "privateIP", ep->private_ip);
	cJSON_AddStringToObject(spec, "publicIP", ep->public_ip);
	cJSON_AddNumberToObject(spec, "natTPort", ep->nat_t_port);
	cJSON_AddStringToObject(spec, "cableDriver", ep->cable_driver);
	if (ep->health_ip[0])
		cJSON_AddStringToObject(spec, "healthCheckIP", ep->health_ip);
	cJSON_AddNumberToObject(spec, "epoch", (double)ep->epoch);
	subs = cJSON_AddArrayToObject(spec, "subnets");
	if (!subs)
		goto err;
	for (unsigned i = 0; i < ep->n_subnets; i++) {
		char buf[CIDR4_STRLEN];

		cidr4_format(&ep->subnets[i], buf);
		cJSON_AddItemToArray(subs, cJSON_CreateString(buf));
	}
	backend = cJSON_AddObjectToObject(spec, "backend");
	if (backend && ep->vtep_mac[0])
		cJSON_AddStringToObject(backend, "vtepMAC", ep->vtep_mac);
	return o;
err:
	cJSON_Delete(o);
	return NULL;
}

bool endpoint_equal(const struct sa_endpoint *a, const struct sa_endpoint *b)
{
	if (strcmp(a->cluster_id, b->cluster_id) || strcmp(a->hostname, b->hostname) ||
	    strcmp(a->private_ip, b->private_ip) || strcmp(a->public_ip, b->public_ip) ||
	    strcmp(a->cable_driver, b->cable_driver) || strcmp(a->health_ip, b->health_ip) ||
	    strcmp(a->vtep_mac, b->vtep_mac) || a->nat_t_port != b->nat_t_port ||
	    a->epoch != b->epoch || a->n_subnets != b->n_subnets)
		return false;
	for (unsigned i = 0; i < a->n_subnets; i++)
		if (a->subnets[i].addr != b->subnets[i].addr || a->subnets[i].len != b->subnets[i].len)
			return false;
	return true;
}
