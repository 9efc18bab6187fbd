/* The CLI side of service discovery (svc_objects.h). */
#include "agent/cli/svc_objects.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/cli/cli.h"
#include "broker/client/client.h"
#include "broker/creds/cluster_config.h"
#include "common/cidr.h"
#include "common/json.h"
#include "common/name.h"
#include "common/util.h"
#include "globalnet/gn_agent.h"

#define MAX_GIPS 2048

int svc_cli_parse_port(const char *s, struct svc_port *out)
{
	char buf[64], *name = NULL, *num = buf, *proto;
	enum svc_proto p = SVC_TCP;
	uint64_t port;

	memset(out, 0, sizeof(*out));
	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	if ((num = strchr(buf, ':'))) {
		*num++ = '\0';
		name = buf;
	} else {
		num = buf;
	}
	if ((proto = strchr(num, '/'))) {
		*proto++ = '\0';
		if (svc_proto_parse(proto, &p))
			return -EINVAL;
	}
	if ((name && !svc_port_name_ok(name)) || util_parse_u64(num, 65535, &port) || !port)
		return -EINVAL;
	if (name)	/* svc_port_name_ok(): at most SVC_PORT_NAME_MAX */
		memcpy(out->name, name, strlen(name) + 1);
	out->proto = (uint8_t)p;
	out->port = (uint16_t)port;
	return 0;
}

int svc_cli_parse_endpoint(const char *s, struct svc_endpoint *out)
{
	char buf[256], *save = NULL, *tok, *eq;

	memset(out, 0, sizeof(*out));
	out->ready = true;
	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	eq = strchr(buf, '=');
	if (!eq)
		return -EINVAL;
	*eq = '\0';
	if (!name_is_dns_label(buf))
		return -EINVAL;
	strcpy(out->hostname, buf);
	for (tok = strtok_r(eq + 1, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "ready")) {
			out->ready = true;
		} else if (!strcmp(tok, "notready")) {
			out->ready = false;
		} else {
			if (out->n_addrs == SVC_MAX_ADDRS || ip4_parse(tok, &out->addrs[out->n_addrs]))
				return -EINVAL;
			out->n_addrs++;
		}
	}
	return out->n_addrs ? 0 : -EINVAL;
}

/* ---- export ---- */

/* Creates obj in resource, or replaces the spec (and labels) of the one that exists. */
static int upsert(struct brk_client *brk, const char *res, const cJSON *obj, bool *created,
		  struct brk_status *st)
{
	const char *name = json_str(obj, "metadata.name", "");
	int rc;

	*created = false;
	rc = brk_create(brk, res, obj, NULL, st);
	if (!rc) {
		*created = true;
		return 0;
	}
	for (int tries = 0; rc == -EEXIST || (rc == -ESTALE && tries < 5); tries++) {
		cJSON *cur = NULL;
		const cJSON *labels = json_at(obj, "metadata.labels");

		rc = brk_get(brk, res, name, &cur, st);
		if (rc)
			return rc;
		if (cJSON_Compare(json_at(cur, "spec"), json_at(obj, "spec"), 1) &&
		    (!labels || cJSON_Compare(json_at(cur, "metadata.labels"), labels, 1))) {
			cJSON_Delete(cur);
			return 0;	/* nothing to change */
		}
		cJSON_ReplaceItemInObjectCaseSensitive(cur, "spec", cJSON_Duplicate(json_at(obj, "spec"), 1));
		if (labels) {
			cJSON *md = cJSON_GetObjectItemCaseSensitive(cur, "metadata");

			cJSON_DeleteItemFromObjectCaseSensitive(md, "labels");
			cJSON_AddItemToObject(md, "labels", cJSON_Duplicate(labels, 1));
		}
		rc = brk_update(brk, res, name, cur, NULL, st);
		cJSON_Delete(cur);
	}
	return rc;
}

struct gip_want {
	char name[256];
	const char *key;	/* "service" or "pod" */
	uint32_t ip;
};

/* The GlobalIngressIPs an export needs: one per cluster IP, or per endpoint address. */
static size_t gips_wanted(const struct svc_record *r, const char *ename, struct gip_want *w, size_t max)
{
	size_t n = 0;

	if (r->type == SVC_CLUSTERSET_IP) {
		for (unsigned i = 0; i < r->n_ips && n < max; i++, n++) {
			snprintf(w[n].name, sizeof(w[n].name), i ? "%s-%u" : "%s", ename, i);
			w[n].key = "service";
			w[n].ip = r->ips[i];
		}
		return n;
	}
	for (unsigned e = 0; e < r->n_eps; e++) {
		for (unsigned k = 0; k < r->eps[e].n_addrs && n < max; k++, n++) {
			snprintf(w[n].name, sizeof(w[n].name), k ? "%s-%s-%u" : "%s-%s", ename,
				 r->eps[e].hostname, k);
			w[n].key = "pod";
			w[n].ip = r->eps[e].addrs[k];
		}
	}
	return n;
}

static bool label_is(const cJSON *labels, const char *key, const char *want)
{
	/* not json_str(): the key holds dots */
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(labels, key);

	return cJSON_IsString(v) && !strcmp(v->valuestring, want);
}

/* One of the GlobalIngressIPs `export service` made for name.ns of cluster. */
static bool labelled(const cJSON *o, const char *cluster, const char *name, const char *ns)
{
	const cJSON *labels = json_at(o, "metadata.labels");

	return !strcmp(json_str(o, "spec.clusterID", ""), cluster) &&
	       label_is(labels, SVC_LABEL_SERVICE, name) && label_is(labels, SVC_LABEL_NAMESPACE, ns);
}

/* Deletes this cluster's GlobalIngressIPs of name.ns that are not in keep. Returns how
 * many went, or -errno. */
static int drop_gips(const char *prog, struct brk_client *brk, const char *cluster, const char *name,
		     const char *ns, const struct gip_want *keep, size_t nkeep)
{
	struct brk_status st;
	cJSON *list = NULL;
	const cJSON *it;
	int n = 0, rc;

	rc = brk_list(brk, GN_RES_INGRESS, &list, &st);
	if (rc) {
		fprintf(stderr, "subagent %s: list %s: %s\n", prog, GN_RES_INGRESS, st.message);
		return rc;
	}
	cJSON_ArrayForEach(it, json_at(list, "items")) {
		const char *oname = json_str(it, "metadata.name", "");
		size_t k;

		if (!labelled(it, cluster, name, ns))
			continue;
		for (k = 0; k < nkeep && strcmp(keep[k].name, oname); k++)
			;
		if (k < nkeep)
			continue;
		rc = brk_delete(brk, GN_RES_INGRESS, oname, NULL, &st);
		if (rc && rc != -ENOENT) {
			fprintf(stderr, "subagent %s: delete %s: %s\n", prog, oname, st.message);
			cJSON_Delete(list);
			return rc;
		}
		printf("GlobalIngressIP %s deleted\n", oname);
		n++;
	}
	cJSON_Delete(list);
	return n;
}

static int export_gips(const char *prog, struct brk_client *brk, const struct svc_record *r,
		       const char *ename, int wait_s)
{
	struct gip_want *w = calloc(MAX_GIPS, sizeof(*w));
	size_t n = w ? gips_wanted(r, ename, w, MAX_GIPS) : 0;
	int rc = 1, missing = 0;

	if (!w) {
		fprintf(stderr, "subagent %s: out of memory\n", prog);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject(), *md, *labels, *spec;
		struct brk_status st;
		char ip[16];
		bool created;

		ip4_format(w[i].ip, ip);
		md = cJSON_AddObjectToObject(o, "metadata");
		cJSON_AddStringToObject(md, "name", w[i].name);
		labels = cJSON_AddObjectToObject(md, "labels");
		cJSON_AddStringToObject(labels, SVC_LABEL_SERVICE, r->name);
		cJSON_AddStringToObject(labels, SVC_LABEL_NAMESPACE, r->ns);
		spec = cJSON_AddObjectToObject(o, "spec");
		cJSON_AddStringToObject(spec, "clusterID", r->cluster);
		if (!cJSON_AddStringToObject(spec, w[i].key, ip)) {
			cJSON_Delete(o);
			fprintf(stderr, "subagent %s: out of memory\n", prog);
			goto out;
		}
		if (upsert(brk, GN_RES_INGRESS, o, &created, &st)) {
			fprintf(stderr, "subagent %s: GlobalIngressIP %s: %s\n", prog, w[i].name, st.message);
			cJSON_Delete(o);
			goto out;
		}
		cJSON_Delete(o);
		printf("GlobalIngressIP %s %s=%s%s\n", w[i].name, w[i].key, ip, created ? "" : " (kept)");
	}
	if (drop_gips(prog, brk, r->cluster, r->name, r->ns, w, n) < 0)
		goto out;
	for (int t = 0; wait_s && t <= wait_s * 10; t++) {
		missing = 0;
		for (size_t i = 0; i < n; i++) {
			struct brk_status st;
			cJSON *o = NULL;

			if (brk_get(brk, GN_RES_INGRESS, w[i].name, &o, &st) ||
			    !*json_str(o, "status.globalIP", ""))
				missing++;
			cJSON_Delete(o);
		}
		if (!missing)
			break;
		usleep(100000);
	}
	if (wait_s && missing) {
		fprintf(stderr, "subagent %s: %d of %zu global IPs not allocated after %d s (is the "
			"gateway agent running with globalnet?)\n", prog, missing, n, wait_s);
		goto out;
	}
	for (size_t i = 0; wait_s && i < n; i++) {
		struct brk_status st;
		cJSON *o = NULL;

		if (!brk_get(brk, GN_RES_INGRESS, w[i].name, &o, &st))
			printf("globalIP %s %s\n", w[i].name, json_str(o, "status.globalIP", ""));
		cJSON_Delete(o);
	}
	rc = 0;
out:
	free(w);
	return rc;
}

int svc_cli_export(const char *prog, const char *dir, struct svc_record *r, int wait_s)
{
	struct cluster_config cfg = { 0 };
	struct brk_client *brk = NULL;
	struct svc_record chk;
	struct brk_status st;
	char err[SVC_ERR_MAX];
	cJSON *obj = NULL;
	unsigned ready = 0;
	bool created;
	int rc;

	rc = cli_open_cluster(prog, dir, &cfg, &brk);
	if (rc)
		return rc;
	snprintf(r->cluster, sizeof(r->cluster), "%s", cfg.cluster_id);
	obj = svc_export_to_json(r);
	if (!obj) {
		rc = cli_error(prog, 1, "cannot name the export of %s.%s (too long?)", r->name, r->ns);
		goto out;
	}
	/* the broker's own check, before asking it */
	rc = svc_export_spec_from_json(json_at(obj, "spec"), &chk, err, sizeof(err));
	svc_record_free(&chk);
	if (rc) {
		rc = cli_error(prog, 2, "%s", err);
		goto out;
	}
	if (upsert(brk, SVC_RES_EXPORTS, obj, &created, &st)) {
		rc = cli_error(prog, 1, "ServiceExport %s: %s", json_str(obj, "metadata.name", ""), st.message);
		goto out;
	}
	for (unsigned i = 0; i < r->n_eps; i++)
		ready += r->eps[i].ready;
	printf("ServiceExport %s %s: %s, %u port(s), %u endpoint(s), %u ready\n",
	       json_str(obj, "metadata.name", ""), created ? "created" : "updated", svc_type_name(r->type),
	       r->n_ports, r->n_eps, ready);
	rc = 0;
	if (cfg.n_global_cidrs)
		rc = export_gips(prog, brk, r, json_str(obj, "metadata.name", ""), wait_s);
out:
	cJSON_Delete(obj);
	cli_close_cluster(&cfg, brk);
	return rc;
}

int svc_cli_unexport(const char *prog, const char *dir, const char *name, const char *ns)
{
	struct cluster_config cfg = { 0 };
	struct brk_client *brk = NULL;
	struct brk_status st;
	char ename[SVC_KEY_MAX];
	int rc, n;
	bool found = false;

	rc = cli_open_cluster(prog, dir, &cfg, &brk);
	if (rc)
		return rc;
	if (svc_export_name(ename, sizeof(ename), cfg.cluster_id, name, ns)) {
		rc = cli_error(prog, 2, "%s.%s: name too long", name, ns);
		goto out;
	}
	rc = brk_delete(brk, SVC_RES_EXPORTS, ename, NULL, &st);
	if (rc && rc != -ENOENT) {
		rc = cli_error(prog, 1, "delete %s: %s", ename, st.message);
		goto out;
	}
	if (!rc) {
		printf("ServiceExport %s deleted\n", ename);
		found = true;
	}
	n = drop_gips(prog, brk, cfg.cluster_id, name, ns, NULL, 0);
	if (n < 0) {
		rc = 1;
		goto out;
	}
	rc = 0;
	if (!found && !n)
		rc = cli_error(prog, 1, "%s.%s is not exported by cluster %s", name, ns, cfg.cluster_id);
out:
	cli_close_cluster(&cfg, brk);
	return rc;
}

/* ---- show services ---- */

struct gmap {
	const cJSON *items;	/* GlobalIngressIPs */
};

static const char *global_of(const struct gmap *g, const char *cluster, const char *ip)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, g->items) {
		const char *t = json_str(it, "spec.service", NULL);

		if (!t)
			t = json_str(it, "spec.pod", "");
		if (!strcmp(json_str(it, "spec.clusterID", ""), cluster) && !strcmp(t, ip))
			return json_str(it, "status.globalIP", "");
	}
	return NULL;
}

static cJSON *ip_strings(const uint32_t *ips, unsigned n)
{
	cJSON *a = cJSON_CreateArray();
	char buf[16];

	for (unsigned i = 0; a && i < n; i++) {
		ip4_format(ips[i], buf);
		cJSON_AddItemToArray(a, cJSON_CreateString(buf));
	}
	return a;
}

static cJSON *port_strings(const struct svc_port *p, unsigned n)
{
	cJSON *a = cJSON_CreateArray();
	char buf[64];

	for (unsigned i = 0; a && i < n; i++) {
		snprintf(buf, sizeof(buf), "%s%s%u/%s", p[i].name, *p[i].name ? ":" : "", p[i].port,
			 svc_proto_name(p[i].proto));
		cJSON_AddItemToArray(a, cJSON_CreateString(buf));
	}
	return a;
}

static cJSON *cluster_row(const struct svc_record *r, const struct gmap *g)
{
	cJSON *o = cJSON_CreateObject(), *eps, *gips = g ? cJSON_CreateArray() : NULL;
	unsigned ready = 0;
	char buf[32];

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "cluster", r->cluster);
	cJSON_AddItemToObject(o, "ips", ip_strings(r->ips, r->n_ips));
	cJSON_AddItemToObject(o, "ports", port_strings(r->ports, r->n_ports));
	cJSON_AddNumberToObject(o, "weight", r->weight);
	eps = cJSON_AddArrayToObject(o, "endpoints");
	for (unsigned i = 0; eps && i < r->n_eps; i++) {
		cJSON *e = cJSON_CreateObject();

		cJSON_AddStringToObject(e, "hostname", r->eps[i].hostname);
		cJSON_AddItemToObject(e, "addresses", ip_strings(r->eps[i].addrs, r->eps[i].n_addrs));
		cJSON_AddBoolToObject(e, "ready", r->eps[i].ready);
		cJSON_AddItemToArray(eps, e);
		ready += r->eps[i].ready;
	}
	snprintf(buf, sizeof(buf), "%u/%u", ready, r->n_eps);
	cJSON_AddStringToObject(o, "ready", buf);
	if (gips) {
		/* the addresses other clusters reach: cluster IPs, or every endpoint address */
		for (unsigned i = 0; i < r->n_ips; i++) {
			char ip[16];
			const char *gl;

			ip4_format(r->ips[i], ip);
			gl = global_of(g, r->cluster, ip);
			cJSON_AddItemToArray(gips, cJSON_CreateString(gl && *gl ? gl : "-"));
		}
		for (unsigned i = 0; i < r->n_eps && r->type == SVC_HEADLESS; i++) {
			for (unsigned k = 0; k < r->eps[i].n_addrs; k++) {
				char ip[16];
				const char *gl;

				ip4_format(r->eps[i].addrs[k], ip);
				gl = global_of(g, r->cluster, ip);
				cJSON_AddItemToArray(gips, cJSON_CreateString(gl && *gl ? gl : "-"));
			}
		}
		cJSON_AddItemToObject(o, "global_ips", gips);
	}
	return o;
}

static cJSON *row(const char *kind, const char *name, const char *ns, enum svc_type type,
		  const struct svc_port *ports, unsigned nports)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "kind", kind);
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddStringToObject(o, "namespace", ns);
	cJSON_AddStringToObject(o, "type", svc_type_name(type));
	cJSON_AddItemToObject(o, "ports", port_strings(ports, nports));
	return o;
}

static cJSON *list_items(struct brk_client *brk, const char *res, cJSON **list, char *err, size_t errlen)
{
	struct brk_status st;

	if (brk_list(brk, res, list, &st)) {
		snprintf(err, errlen, "list %s: %s", res, st.message);
		return NULL;
	}
	return cJSON_GetObjectItemCaseSensitive(*list, "items");
}

cJSON *svc_cli_rows(struct brk_client *brk, const char *cluster, bool globalnet, char *err, size_t errlen)
{
	cJSON *imports = NULL, *exports = NULL, *gl = NULL, *rows = NULL;
	const cJSON *items, *it;
	struct gmap g = { 0 };

	if (!list_items(brk, SVC_RES_IMPORTS, &imports, err, errlen) ||
	    !list_items(brk, SVC_RES_EXPORTS, &exports, err, errlen) ||
	    (globalnet && !(g.items = list_items(brk, GN_RES_INGRESS, &gl, err, errlen))))
		goto out;
	rows = cJSON_CreateArray();
	items = cJSON_GetObjectItemCaseSensitive(imports, "items");
	cJSON_ArrayForEach(it, items) {
		struct svc_import im;
		char why[SVC_ERR_MAX];
		cJSON *r, *cl;

		if (svc_import_from_json(it, &im, why, sizeof(why))) {
			fprintf(stderr, "serviceimport %s: %s; not shown\n", json_str(it, "metadata.name", "?"), why);
			svc_import_free(&im);
			continue;
		}
		r = row("import", im.name, im.ns, im.type, im.ports, im.n_ports);
		cl = cJSON_AddArrayToObject(r, "clusters");
		for (unsigned i = 0; cl && i < im.n_clusters; i++)
			cJSON_AddItemToArray(cl, cluster_row(&im.clusters[i], globalnet ? &g : NULL));
		if (cJSON_GetArraySize(json_at(it, "status.conditions")))
			cJSON_AddItemToObject(r, "conditions", cJSON_Duplicate(json_at(it, "status.conditions"), 1));
		cJSON_AddItemToArray(rows, r);
		svc_import_free(&im);
	}
	items = cJSON_GetObjectItemCaseSensitive(exports, "items");
	cJSON_ArrayForEach(it, items) {
		struct svc_record rec;
		char why[SVC_ERR_MAX];
		cJSON *r, *cl;

		if (strcmp(json_str(it, "spec.clusterID", ""), cluster))
			continue;
		if (svc_export_spec_from_json(json_at(it, "spec"), &rec, why, sizeof(why))) {
			svc_record_free(&rec);
			continue;
		}
		r = row("export", rec.name, rec.ns, rec.type, rec.ports, rec.n_ports);
		cl = cJSON_AddArrayToObject(r, "clusters");
		if (cl)
			cJSON_AddItemToArray(cl, cluster_row(&rec, globalnet ? &g : NULL));
		cJSON_AddItemToArray(rows, r);
		svc_record_free(&rec);
	}
out:
	cJSON_Delete(imports);
	cJSON_Delete(exports);
	cJSON_Delete(gl);
	return rows;
}
