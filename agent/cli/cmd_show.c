/* subagent show connections|endpoints|gateways|networks|services|all: what the broker knows about
 * this cluster and the others, as a table or JSON. Works from any node of the cluster: it
 * only needs the cluster's configuration directory. On the active gateway the connections
 * come from the local agent's status file, which is newer than the broker's copy. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/cli/cli.h"
#include "agent/cli/cmd.h"
#include "agent/cli/gn_objects.h"
#include "agent/cli/print.h"
#include "agent/cli/svc_objects.h"
#include "broker/client/client.h"
#include "broker/creds/cluster_config.h"
#include "common/json.h"
#include "common/util.h"
#include "globalnet/gn_agent.h"

#define STALE_SECONDS 30
/* A local status file this fresh is the gateway itself speaking (it writes it every
 * second and at every change): newer than anything the broker has. */
#define LOCAL_FRESH_SECONDS 5

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: subagent show WHAT --config-dir DIR [--state-dir DIR] [-o json]\n\n"
		"WHAT is one of:\n"
		"  connections  this cluster's gateway's connections to every other cluster\n"
		"  endpoints    the gateway endpoints of every cluster\n"
		"  gateways     this cluster's gateways and their HA status\n"
		"  networks     every cluster's CIDRs (and global CIDRs with globalnet)\n"
		"  services     every ServiceImport and this cluster's ServiceExports\n"
		"  all          all of the above\n\n"
		"Options:\n"
		"  --config-dir DIR   the cluster configuration written by 'subagent join'\n"
		"  --state-dir DIR    the local agent's state directory (default\n"
		"                     /var/lib/subagent/<hostname>): on the active gateway,\n"
		"                     connections come from it directly, not from the broker\n"
		"  -o json            JSON instead of a table\n");
}

static double spec_num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(o, "spec"), key);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static cJSON *items(struct brk_client *c, const char *resource, char *err, size_t errlen)
{
	struct brk_status st;
	cJSON *list = NULL, *it;

	if (brk_list(c, resource, &list, &st)) {
		snprintf(err, errlen, "list %s from %s: %s", resource, st.url, st.message);
		return NULL;
	}
	it = cJSON_DetachItemFromObjectCaseSensitive(list, "items");
	cJSON_Delete(list);
	return it ? it : cJSON_CreateArray();
}

static cJSON *rows_connections(const cJSON *statuses, const char *cluster)
{
	cJSON *rows = cJSON_CreateArray();
	const cJSON *gs, *c;
	time_t now = time(NULL);

	cJSON_ArrayForEach(gs, statuses) {
		const cJSON *conns;
		bool stale;

		if (strcmp(json_str(gs, "spec.clusterID", ""), cluster) ||
		    strcmp(json_str(gs, "spec.haStatus", ""), "active"))
			continue;
		stale = now - (time_t)spec_num(gs, "updatedUnix") > STALE_SECONDS;
		conns = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(gs, "spec"),
							 "connections");
		cJSON_ArrayForEach(c, conns) {
			cJSON *row = cJSON_Duplicate(c, 1);

			if (!row)
				continue;
			cJSON_AddStringToObject(row, "local_gateway", json_str(gs, "spec.hostname", ""));
			if (stale) {
				/* the gateway stopped reporting: nothing is known to work */
				cJSON_ReplaceItemInObjectCaseSensitive(row, "status", cJSON_CreateString("error"));
				cJSON_AddBoolToObject(row, "stale", 1);
			}
			cJSON_AddItemToArray(rows, row);
		}
	}
	return rows;
}

/* The connections as the local active gateway reports them (STATE/status.json), when this
 * node is it and its report is fresh; NULL otherwise. */
static cJSON *rows_local_connections(const char *state, const char *cluster)
{
	char path[PATH_MAX], host[256];
	cJSON *o = NULL, *rows = NULL, *c;
	const cJSON *u;
	char *txt;

	if (!state) {
		if (gethostname(host, sizeof(host)))
			return NULL;
		host[sizeof(host) - 1] = '\0';
		snprintf(path, sizeof(path), "/var/lib/subagent/%s/status.json", host);
	} else {
		snprintf(path, sizeof(path), "%s/status.json", state);
	}
	txt = util_read_file(path, 4 << 20, NULL);
	o = txt ? cJSON_Parse(txt) : NULL;
	free(txt);
	u = cJSON_GetObjectItemCaseSensitive(o, "updated_unix");
	if (strcmp(json_str(o, "role", ""), "gateway") || strcmp(json_str(o, "cluster", ""), cluster) ||
	    !cJSON_IsNumber(u) || time(NULL) - (time_t)u->valuedouble > LOCAL_FRESH_SECONDS)
		goto out;
	rows = cJSON_DetachItemFromObjectCaseSensitive(o, "connections");
	if (!cJSON_IsArray(rows)) {
		cJSON_Delete(rows);
		rows = NULL;
		goto out;
	}
	cJSON_ArrayForEach(c, rows)
		cJSON_AddStringToObject(c, "local_gateway", json_str(o, "node", ""));
out:
	cJSON_Delete(o);
	return rows;
}

static cJSON *rows_endpoints(const cJSON *eps)
{
	cJSON *rows = cJSON_CreateArray();
	const cJSON *e;

	cJSON_ArrayForEach(e, eps) {
		cJSON *row = cJSON_CreateObject();
		const cJSON *spec = cJSON_GetObjectItemCaseSensitive(e, "spec");

		if (!row)
			continue;
		cJSON_AddStringToObject(row, "cluster", json_str(e, "spec.clusterID", ""));
		cJSON_AddStringToObject(row, "hostname", json_str(e, "spec.hostname", ""));
		cJSON_AddStringToObject(row, "public_ip", json_str(e, "spec.publicIP", ""));
		cJSON_AddStringToObject(row, "private_ip", json_str(e, "spec.privateIP", ""));
		cJSON_AddNumberToObject(row, "nat_t_port", spec_num(e, "natTPort"));
		cJSON_AddStringToObject(row, "cable_driver", json_str(e, "spec.cableDriver", ""));
		cJSON_AddItemToObject(row, "subnets",
			cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(spec, "subnets"), 1));
		cJSON_AddStringToObject(row, "health_check_ip", json_str(e, "spec.healthCheckIP", ""));
		cJSON_AddNumberToObject(row, "epoch", spec_num(e, "epoch"));
		cJSON_AddItemToArray(rows, row);
	}
	return rows;
}

static cJSON *rows_gateways(const cJSON *statuses, const char *cluster)
{
	cJSON *rows = cJSON_CreateArray();
	const cJSON *gs, *c;
	time_t now = time(NULL);

	cJSON_ArrayForEach(gs, statuses) {
		cJSON *row;
		int total = 0, up = 0;
		char summary[64];
		long age;

		if (strcmp(json_str(gs, "spec.clusterID", ""), cluster))
			continue;
		row = cJSON_CreateObject();
		if (!row)
			continue;
		cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(gs, "spec"), "connections")) {
			const cJSON *s = cJSON_GetObjectItemCaseSensitive(c, "status");

			total++;
			up += cJSON_IsString(s) && !strcmp(s->valuestring, "connected");
		}
		age = (long)(now - (time_t)spec_num(gs, "updatedUnix"));
		snprintf(summary, sizeof(summary), "%d/%d connected", up, total);
		cJSON_AddStringToObject(row, "node", json_str(gs, "spec.hostname", ""));
		cJSON_AddStringToObject(row, "ha_status", age > STALE_SECONDS ? "unknown" :
					json_str(gs, "spec.haStatus", ""));
		cJSON_AddStringToObject(row, "public_ip", json_str(gs, "spec.publicIP", ""));
		cJSON_AddStringToObject(row, "summary", summary);
		cJSON_AddNumberToObject(row, "last_report_seconds_ago", (double)age);
		cJSON_AddItemToArray(rows, row);
	}
	return rows;
}

/* globalnet: the cluster egress IPs (the first GN_AGENT_EGRESS_IPS usable addresses of
 * the global CIDR, as the gateway allocates them) and the cluster's global IP objects. */
static void add_global(cJSON *row, const cJSON *spec, const char *cluster, const cJSON *gips)
{
	const cJSON *g = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(spec, "globalCIDRs"), 0);
	cJSON *arr = cJSON_CreateArray();
	const cJSON *r;
	struct cidr4 c;
	char a[16], b[16], buf[300];

	if (cJSON_IsString(g) && !cidr4_parse(g->valuestring, &c) && c.len <= 28) {
		ip4_format(c.addr + 1, a);
		ip4_format(c.addr + GN_AGENT_EGRESS_IPS, b);
		snprintf(buf, sizeof(buf), "%s-%s", a, b);
		cJSON_AddStringToObject(row, "egress_ips", buf);
	} else {
		cJSON_AddStringToObject(row, "egress_ips", "");
	}
	cJSON_ArrayForEach(r, gips) {
		const cJSON *cid = cJSON_GetObjectItemCaseSensitive(r, "cluster");
		const char *k[3] = { "kind", "target", "global_ip" };
		const char *v[3];

		if (!cJSON_IsString(cid) || strcmp(cid->valuestring, cluster))
			continue;
		for (int i = 0; i < 3; i++) {
			const cJSON *x = cJSON_GetObjectItemCaseSensitive(r, k[i]);

			v[i] = cJSON_IsString(x) && *x->valuestring ? x->valuestring : "-";
		}
		snprintf(buf, sizeof(buf), "%s %s=%s", v[0], v[1], v[2]);
		cJSON_AddItemToArray(arr, cJSON_CreateString(buf));
	}
	cJSON_AddItemToObject(row, "global_ips", arr);
}

static cJSON *rows_networks(const cJSON *clusters, const cJSON *gips)
{
	cJSON *rows = cJSON_CreateArray();
	const cJSON *cl;

	cJSON_ArrayForEach(cl, clusters) {
		cJSON *row = cJSON_CreateObject();
		const cJSON *spec = cJSON_GetObjectItemCaseSensitive(cl, "spec");

		if (!row)
			continue;
		cJSON_AddStringToObject(row, "cluster", json_str(cl, "spec.clusterID", ""));
		cJSON_AddItemToObject(row, "cluster_cidrs",
			cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(spec, "clusterCIDRs"), 1));
		cJSON_AddItemToObject(row, "service_cidrs",
			cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(spec, "serviceCIDRs"), 1));
		cJSON_AddItemToObject(row, "global_cidrs",
			cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(spec, "globalCIDRs"), 1));
		cJSON_AddStringToObject(row, "cable_driver", json_str(cl, "spec.cableDriver", ""));
		if (gips)
			add_global(row, spec, json_str(cl, "spec.clusterID", ""), gips);
		cJSON_AddItemToArray(rows, row);
	}
	return rows;
}

/* "c1 10.101.0.10 2/2, c2 10.102.0.10>242.1.0.9 1/1" */
static void fmt_clusters(const cJSON *v, char *buf, size_t len)
{
	const cJSON *c;
	size_t off = 0;

	buf[0] = '\0';
	cJSON_ArrayForEach(c, v) {
		const cJSON *ips = cJSON_GetObjectItemCaseSensitive(c, "ips");
		const cJSON *gips = cJSON_GetObjectItemCaseSensitive(c, "global_ips");
		char addrs[128] = "";
		size_t a = 0;

		for (int i = 0; i < cJSON_GetArraySize(ips) && a < sizeof(addrs); i++) {
			const cJSON *g = cJSON_GetArrayItem(gips, i);

			a += (size_t)snprintf(addrs + a, sizeof(addrs) - a, "%s%s%s%s", a ? "," : "",
					      json_str(cJSON_GetArrayItem(ips, i), "", ""), g ? ">" : "",
					      g ? g->valuestring : "");
		}
		if (off < len)
			off += (size_t)snprintf(buf + off, len - off, "%s%s%s%s %s", off ? ", " : "",
						json_str(c, "cluster", "?"), *addrs ? " " : "", addrs,
						json_str(c, "ready", ""));
	}
	if (!off)
		snprintf(buf, len, "-");
}

static const struct print_col svc_cols[] = {
	{ "KIND", "kind", NULL }, { "NAME", "name", NULL }, { "NAMESPACE", "namespace", NULL },
	{ "TYPE", "type", NULL }, { "PORTS", "ports", NULL },
	{ "CLUSTERS (IPS READY)", "clusters", fmt_clusters },
};

static const struct print_col conn_cols[] = {
	{ "GATEWAY", "gateway", NULL }, { "CLUSTER", "cluster", NULL },
	{ "REMOTE IP", "remote_ip", NULL }, { "NAT", "nat", NULL },
	{ "CABLE DRIVER", "cable_driver", NULL }, { "SUBNETS", "subnets", NULL },
	{ "STATUS", "status", NULL }, { "RTT avg.", "rtt.avg_ns", print_fmt_ns },
};
static const struct print_col ep_cols[] = {
	{ "CLUSTER", "cluster", NULL }, { "ENDPOINT", "hostname", NULL },
	{ "PUBLIC IP", "public_ip", NULL }, { "PRIVATE IP", "private_ip", NULL },
	{ "CABLE DRIVER", "cable_driver", NULL }, { "SUBNETS", "subnets", NULL },
	{ "EPOCH", "epoch", NULL },
};
static const struct print_col gw_cols[] = {
	{ "NODE", "node", NULL }, { "HA STATUS", "ha_status", NULL },
	{ "PUBLIC IP", "public_ip", NULL }, { "SUMMARY", "summary", NULL },
};
static const struct print_col net_cols[] = {
	{ "CLUSTER", "cluster", NULL }, { "CLUSTER CIDRS", "cluster_cidrs", NULL },
	{ "SERVICE CIDRS", "service_cidrs", NULL }, { "GLOBAL CIDRS", "global_cidrs", NULL },
	{ "CABLE DRIVER", "cable_driver", NULL },
};
static const struct print_col gnet_cols[] = {
	{ "CLUSTER", "cluster", NULL }, { "CLUSTER CIDRS", "cluster_cidrs", NULL },
	{ "SERVICE CIDRS", "service_cidrs", NULL }, { "GLOBAL CIDRS", "global_cidrs", NULL },
	{ "EGRESS IPS", "egress_ips", NULL }, { "GLOBAL IPS (target=ip)", "global_ips", NULL },
};

enum { W_CONN = 1, W_EP = 2, W_GW = 4, W_NET = 8, W_SVC = 16, W_ALL = 31 };

int cmd_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config-dir", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *what = NULL, *state = NULL;
	struct cluster_config cfg = { 0 };
	struct brk_client *brk = NULL;
	cJSON *statuses = NULL, *eps = NULL, *clusters = NULL, *out = NULL, *gips = NULL, *svcs = NULL;
	cJSON *local = NULL;
	char err[1024] = "";
	int json = 0, w = 0, c, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': dir = optarg; break;
		case 's': state = optarg; break;
		case 'o':
			if (strcmp(optarg, "json")) {
				fprintf(stderr, "subagent show: -o takes only 'json'\n");
				return 2;
			}
			json = 1;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	what = argv[optind];
	w = !strcmp(what, "connections") ? W_CONN : !strcmp(what, "endpoints") ? W_EP :
	    !strcmp(what, "gateways") ? W_GW : !strcmp(what, "networks") ? W_NET :
	    !strcmp(what, "services") ? W_SVC : !strcmp(what, "all") ? W_ALL : 0;
	if (!w) {
		fprintf(stderr, "subagent show: unknown '%s' (connections, endpoints, gateways, "
			"networks, services or all)\n", what);
		return 2;
	}
	rc = cli_open_cluster("show", dir, &cfg, &brk);
	if (rc)
		return rc;
	rc = 1;
	if (w & W_CONN)
		local = rows_local_connections(state, cfg.cluster_id);
	if ((w & W_GW || (w & W_CONN && !local)) &&
	    !(statuses = items(brk, "gatewaystatuses", err, sizeof(err))))
		goto fail;
	if ((w & W_EP) && !(eps = items(brk, "endpoints", err, sizeof(err))))
		goto fail;
	if ((w & W_NET) && !(clusters = items(brk, "clusters", err, sizeof(err))))
		goto fail;
	if ((w & W_NET) && cfg.n_global_cidrs &&
	    !(gips = gn_cli_rows(brk, NULL, err, sizeof(err))))
		goto fail;
	if ((w & W_SVC) && !(svcs = svc_cli_rows(brk, cfg.cluster_id, cfg.n_global_cidrs > 0, err,
						  sizeof(err))))
		goto fail;

	out = cJSON_CreateObject();
	if (w & W_CONN)
		cJSON_AddItemToObject(out, "connections", local ? local :
				      rows_connections(statuses, cfg.cluster_id));
	local = NULL;
	if (w & W_EP)
		cJSON_AddItemToObject(out, "endpoints", rows_endpoints(eps));
	if (w & W_GW)
		cJSON_AddItemToObject(out, "gateways", rows_gateways(statuses, cfg.cluster_id));
	if (w & W_NET)
		cJSON_AddItemToObject(out, "networks", rows_networks(clusters, gips));
	if (w & W_SVC) {
		cJSON_AddItemToObject(out, "services", svcs);
		svcs = NULL;
	}

	if (json) {
		/* one kind: its list; all: an object of lists */
		(void)print_json(stdout, w == W_ALL ? out : out->child);
	} else {
		int first = 1;

#define SECTION(flag, key, title, cols) \
		if (w & flag) { \
			if (w != flag) \
				printf("%s%s\n", first ? "" : "\n", title); \
			print_table(stdout, cJSON_GetObjectItemCaseSensitive(out, key), cols, \
				    ARRAY_SIZE(cols)); \
			first = 0; \
		}
		SECTION(W_CONN, "connections", "Connections", conn_cols)
		SECTION(W_EP, "endpoints", "Endpoints", ep_cols)
		SECTION(W_GW, "gateways", "Gateways", gw_cols)
		if (gips) {
			SECTION(W_NET, "networks", "Networks", gnet_cols)
		} else {
			SECTION(W_NET, "networks", "Networks", net_cols)
		}
		SECTION(W_SVC, "services", "Services", svc_cols)
#undef SECTION
	}
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "subagent show: %s\n", err);
out:
	cJSON_Delete(out);
	cJSON_Delete(statuses);
	cJSON_Delete(eps);
	cJSON_Delete(clusters);
	cJSON_Delete(gips);
	cJSON_Delete(local);
	cJSON_Delete(svcs);
	cli_close_cluster(&cfg, brk);
	return rc;
}
