/* Which remote Endpoints a gateway accepts (see admit.h). */
#include "agent/engine/admit.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/json.h"
#include "common/name.h"
#include "common/util.h"

static int read_nets(const cJSON *spec, const char *key, struct cidr4 *out, unsigned *n,
		     char *err, size_t len)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(spec, key), *it;

	if (!arr)
		return 0;
	if (!cJSON_IsArray(arr))
		return util_einval(err, len, "spec.%s is not an array", key);
	cJSON_ArrayForEach(it, arr) {
		if (*n == ADMIT_MAX_NETS)
			return util_einval(err, len, "more than %d CIDRs", ADMIT_MAX_NETS);
		if (!cJSON_IsString(it) || strlen(it->valuestring) >= CIDR4_STRLEN ||
		    cidr4_parse(it->valuestring, &out[*n]))
			return util_einval(err, len, "spec.%s holds something that is not a CIDR", key);
		(*n)++;
	}
	return 0;
}

int admit_cluster_from_json(const cJSON *obj, struct admit_cluster *out, char *err, size_t len)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(spec, "clusterID");
	const char *name = json_str(obj, "metadata.name", NULL);
	int rc;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(spec))
		return util_einval(err, len, "no spec");
	if (!cJSON_IsString(id) || !name_is_dns_label(id->valuestring))
		return util_einval(err, len, "spec.clusterID is not a cluster ID");
	if (name && strcmp(name, id->valuestring))
		return util_einval(err, len, "metadata.name is not spec.clusterID");
	snprintf(out->id, sizeof(out->id), "%s", id->valuestring);
	if ((rc = read_nets(spec, "clusterCIDRs", out->nets, &out->n_nets, err, len)) ||
	    (rc = read_nets(spec, "serviceCIDRs", out->nets, &out->n_nets, err, len)) ||
	    (rc = read_nets(spec, "globalCIDRs", out->global, &out->n_global, err, len))) {
		memset(out, 0, sizeof(*out));
		return rc;
	}
	return 0;
}

cJSON *admit_cluster_to_json(const struct admit_cluster *c)
{
	cJSON *o = cJSON_CreateObject(), *md, *spec;

	if (!o || !(md = cJSON_AddObjectToObject(o, "metadata")) ||
	    !cJSON_AddStringToObject(md, "name", c->id) ||
	    !(spec = cJSON_AddObjectToObject(o, "spec")) ||
	    !cJSON_AddStringToObject(spec, "clusterID", c->id) ||
	    !cJSON_AddItemToObject(spec, "clusterCIDRs", json_cidr_array(c->nets, c->n_nets)) ||
	    !cJSON_AddItemToObject(spec, "globalCIDRs", json_cidr_array(c->global, c->n_global))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

bool admit_cluster_equal(const struct admit_cluster *a, const struct admit_cluster *b)
{
	return !strcmp(a->id, b->id) && a->n_nets == b->n_nets && a->n_global == b->n_global &&
	       !memcmp(a->nets, b->nets, a->n_nets * sizeof(a->nets[0])) &&
	       !memcmp(a->global, b->global, a->n_global * sizeof(a->global[0]));
}

static bool inside_one(const struct cidr4 *c, const struct cidr4 *set, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (set[i].len <= c->len && cidr4_contains(&set[i], c->addr))
			return true;
	return false;
}

int admit_endpoint(const struct admit_view *v, const struct sa_endpoint *ep, char *why, size_t len)
{
	const struct admit_cluster *cl = NULL;
	char a[CIDR4_STRLEN], b[CIDR4_STRLEN];

	if (!strcmp(ep->cluster_id, v->local_id))
		return util_refuse(why, len, -EPERM, "it is this cluster's own");
	for (unsigned i = 0; i < v->n_clusters && !cl; i++)
		if (!strcmp(v->clusters[i].id, ep->cluster_id))
			cl = &v->clusters[i];
	if (!cl)
		return util_refuse(why, len, -EPERM, "cluster %s is not registered at the broker", ep->cluster_id);
	if (!ep->n_subnets)
		return util_refuse(why, len, -EPERM, "it has no subnets");
	for (unsigned i = 0; i < ep->n_subnets; i++) {
		const struct cidr4 *s = &ep->subnets[i];

		cidr4_format(s, a);
		if (v->globalnet ? !inside_one(s, cl->global, cl->n_global) :
				   !inside_one(s, cl->nets, cl->n_nets))
			return util_refuse(why, len, -EPERM, "subnet %s is outside cluster %s's registered %sCIDRs",
				      a, cl->id, v->globalnet ? "global " : "");
		for (unsigned j = 0; j < v->n_local; j++) {
			if (cidr4_overlap(s, &v->local[j])) {
				cidr4_format(&v->local[j], b);
				return util_refuse(why, len, -EPERM, "subnet %s overlaps %s of this cluster (%s)", a, b,
					      v->local_id);
			}
		}
		for (unsigned r = 0; r < v->n_remotes; r++) {
			const struct sa_endpoint *o = v->remotes[r];

			if (!strcmp(o->cluster_id, ep->cluster_id))
				continue;
			for (unsigned j = 0; j < o->n_subnets; j++) {
				if (cidr4_overlap(s, &o->subnets[j])) {
					cidr4_format(&o->subnets[j], b);
					return util_refuse(why, len, -EPERM, "subnet %s overlaps %s of cluster %s", a, b,
						      o->cluster_id);
				}
			}
		}
	}
	return 0;
}
