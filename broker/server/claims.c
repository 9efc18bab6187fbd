/* The networks a cluster registered and the check that what it writes stays inside them
 * (see claims.h). One function per resource that claims networks, named in the resource
 * table (objects.c). */
#include "broker/server/claims.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/server/objects.h"
#include "broker/server/reply.h"
#include "broker/server/server.h"
#include "broker/store/store.h"
#include "common/json.h"
#include "common/util.h"

static void parse_list(const cJSON *spec, const char *field, struct cidr4 *out, int *n)
{
	const cJSON *e;

	*n = 0;
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(spec, field)) {
		if (*n < SRV_NETS_MAX && cJSON_IsString(e) && !cidr4_parse(e->valuestring, &out[*n]))
			(*n)++;
	}
}

void srv_nets_from_spec(const cJSON *spec, struct srv_nets *n)
{
	const char *id = json_str(spec, "clusterID", "?");

	memset(n, 0, sizeof(*n));
	snprintf(n->cluster, sizeof(n->cluster), "%s", id);
	parse_list(spec, "clusterCIDRs", n->pods, &n->npods);
	parse_list(spec, "serviceCIDRs", n->services, &n->nservices);
	parse_list(spec, "globalCIDRs", n->global, &n->nglobal);
}

int srv_nets_load(struct srv_server *srv, const char *cid, struct srv_nets *n,
		  struct srv_reply *rp)
{
	char key[STORE_KEY_MAX], *val = NULL;
	cJSON *o;
	int err;

	if (srv_object_key(key, sizeof(key), &srv_resources[0], cid)) {
		srv_reply_status(rp, 422, "cluster %.64s is not registered", cid);
		return -ENOENT;
	}
	err = srv->store->ops->get(srv->store, key, &val, NULL);
	if (err == -ENOENT) {
		srv_reply_status(rp, 422, "cluster %s is not registered", cid);
		return err;
	}
	if (err) {
		srv_reply_store_error(rp, "get", err);
		return err;
	}
	o = cJSON_Parse(val);
	free(val);
	if (!o) {
		srv_reply_status(rp, 500, "stored cluster %s does not parse", cid);
		return -EIO;
	}
	srv_nets_from_spec(cJSON_GetObjectItemCaseSensitive(o, "spec"), n);
	cJSON_Delete(o);
	return 0;
}

/* "10.1.0.0/16, 10.96.0.0/16" (or "none"). */
static void format_nets(char *buf, size_t len, const struct cidr4 *a, int na,
			const struct cidr4 *b, int nb)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < na + nb && off + CIDR4_STRLEN + 3 < len; i++) {
		char c[CIDR4_STRLEN];

		cidr4_format(i < na ? &a[i] : &b[i - na], c);
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "", c);
	}
	if (!off)
		snprintf(buf, len, "none");
}

static bool inside(const struct cidr4 *c, const struct cidr4 *nets, int n)
{
	for (int i = 0; i < n; i++)
		if (nets[i].len <= c->len && cidr4_contains(&nets[i], c->addr))
			return true;
	return false;
}

/* A CIDR (or an address: len 32) must lie inside one of a or b. */
static int claim(const char *field, const struct cidr4 *c, const struct srv_nets *n,
		 const struct cidr4 *a, int na, const struct cidr4 *b, int nb, const char *what,
		 char *msg, size_t len)
{
	char s[CIDR4_STRLEN], nets[300];

	if (inside(c, a, na) || inside(c, b, nb))
		return 0;
	if (c->len == 32)
		ip4_format(c->addr, s);
	else
		cidr4_format(c, s);
	format_nets(nets, sizeof(nets), a, na, b, nb);
	return util_einval(msg, len, "%s: %s is outside the %s of cluster %s (%s)", field,
			   s, what, n->cluster, nets);
}

/* An optional address field of obj at path. */
static int claim_ip(const cJSON *obj, const char *path, const struct srv_nets *n,
		    const struct cidr4 *a, int na, const struct cidr4 *b, int nb, const char *what,
		    char *msg, size_t len)
{
	const char *s = json_str(obj, path, NULL);
	struct cidr4 c = { .len = 32 };

	if (!s || !*s || ip4_parse(s, &c.addr))
		return 0;	/* absent; syntax was validated before */
	return claim(path, &c, n, a, na, b, nb, what, msg, len);
}

int srv_claims_endpoint(const cJSON *obj, const struct srv_nets *n, char *msg, size_t len)
{
	const cJSON *e;
	char field[40];
	int i = 0, err;

	/* With globalnet only global CIDRs cross the tunnels (the agent publishes those). */
	cJSON_ArrayForEach(e, json_at(obj, "spec.subnets")) {
		struct cidr4 c;

		if (!cJSON_IsString(e) || cidr4_parse(e->valuestring, &c))
			continue;
		snprintf(field, sizeof(field), "spec.subnets[%d]", i++);
		err = n->nglobal ?
		      claim(field, &c, n, n->global, n->nglobal, NULL, 0, "global CIDRs", msg, len) :
		      claim(field, &c, n, n->pods, n->npods, n->services, n->nservices,
			    "cluster and service CIDRs", msg, len);
		if (err)
			return err;
	}
	/* the health checker's address is a pod-side address of the gateway */
	return claim_ip(obj, "spec.healthCheckIP", n, n->pods, n->npods, n->global, n->nglobal,
			"cluster and global CIDRs", msg, len);
}

static int claim_global_ip(const cJSON *obj, const struct srv_nets *n, char *msg, size_t len)
{
	return claim_ip(obj, "status.globalIP", n, n->global, n->nglobal, NULL, 0, "global CIDRs",
			msg, len);
}

int srv_claims_gegress(const cJSON *obj, const struct srv_nets *n, char *msg, size_t len)
{
	const char *s = json_str(obj, "spec.cidr", NULL);
	struct cidr4 c;
	int err;

	if (s && !cidr4_parse(s, &c) &&
	    (err = claim("spec.cidr", &c, n, n->pods, n->npods, NULL, 0, "cluster CIDRs", msg, len)))
		return err;
	err = claim_ip(obj, "spec.pod", n, n->pods, n->npods, NULL, 0, "cluster CIDRs", msg, len);
	return err ? err : claim_global_ip(obj, n, msg, len);
}

int srv_claims_gingress(const cJSON *obj, const struct srv_nets *n, char *msg, size_t len)
{
	int err = claim_ip(obj, "spec.pod", n, n->pods, n->npods, NULL, 0, "cluster CIDRs", msg, len);

	if (!err)
		err = claim_ip(obj, "spec.service", n, n->services, n->nservices, NULL, 0,
			       "service CIDRs", msg, len);
	return err ? err : claim_global_ip(obj, n, msg, len);
}

int srv_claims_svcexport(const cJSON *obj, const struct srv_nets *n, char *msg, size_t len)
{
	const cJSON *e;
	char field[32];
	int i = 0, err;

	/* the addresses DNS hands out for the service: its VIPs (a global IP with
	 * globalnet). Endpoint addresses are not checked: a hostNetwork pod has its node's,
	 * which the broker does not know. */
	cJSON_ArrayForEach(e, json_at(obj, "spec.ips")) {
		struct cidr4 c = { .len = 32 };

		if (!cJSON_IsString(e) || ip4_parse(e->valuestring, &c.addr))
			continue;
		snprintf(field, sizeof(field), "spec.ips[%d]", i++);
		err = claim(field, &c, n, n->services, n->nservices, n->global, n->nglobal,
			    "service and global CIDRs", msg, len);
		if (err)
			return err;
	}
	return 0;
}

int srv_check_claims(const struct srv_resource *r, const cJSON *obj, const struct srv_nets *n,
		     char *msg, size_t len)
{
	return r->check_claims ? r->check_claims(obj, n, msg, len) : 0;
}
