/* subagent globalnet egress|ingress|list|delete, and subagent export service: the
 * GlobalEgressIP and GlobalIngressIP objects in the broker. The cluster's gateway agent
 * allocates their global IPs (agent/gn_agent.c) and writes them into status.globalIP. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/cmd.h"
#include "agent/gn_agent.h"
#include "agent/table.h"
#include "broker/client.h"
#include "broker/cluster_config.h"
#include "common/cidr.h"
#include "common/util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: subagent globalnet COMMAND --config-dir DIR [OPTIONS]\n\n"
		"Commands:\n"
		"  egress (--pod IP | --cidr CIDR) [--name N]\n"
		"        these local sources leave with their own global egress IP (1:1 for a pod)\n"
		"  ingress (--pod IP | --service VIP) [--name N]\n"
		"        give a local pod or service VIP a global IP that other clusters can reach\n"
		"  list [--cluster ID]   every cluster's global IP objects and their addresses\n"
		"  delete --name N [--egress | --ingress]\n"
		"  stats --state-dir DIR [-o json]   on the gateway: translation counters, flows,\n"
		"        egress IPs and programmed mappings of the local agent\n\n"
		"Options:\n"
		"  --config-dir DIR   the cluster configuration written by 'subagent join'\n"
		"  --wait SECONDS     egress/ingress: wait until the gateway allocated the global\n"
		"                     IP and print it (default 0: do not wait)\n"
		"  -o json            list: JSON instead of a table\n");
}

struct gopts {
	const char *state_dir;
	const char *dir, *pod, *cidr, *service, *name, *cluster;
	int wait_s, json, only;	/* only: 0 both, 1 egress, 2 ingress */
};

/* o.a.b (o.a when b is NULL) as a string, or "" */
static const char *spec_str(const cJSON *o, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);

	if (b)
		v = cJSON_GetObjectItemCaseSensitive(v, b);

	return cJSON_IsString(v) ? v->valuestring : "";
}

static int open_client(const char *prog, const char *dir, struct cluster_config *cfg,
		       struct brk_client **brk)
{
	char err[BRK_ERR_MAX];

	if (!dir) {
		fprintf(stderr, "subagent %s: --config-dir is required\n", prog);
		return 2;
	}
	if (cluster_config_load_err(dir, cfg, err)) {
		fprintf(stderr, "subagent %s: %s\n", prog, err);
		return 1;
	}
	*brk = brk_client_new(cfg->broker_urls, cfg->n_broker_urls, cfg->ca_path, cfg->token);
	if (!*brk) {
		fprintf(stderr, "subagent %s: broker client: %s\n", prog, strerror(errno));
		cluster_config_free(cfg);
		return 1;
	}
	brk_client_set_timeouts(*brk, 3000, 10000);
	return 0;
}

/* "10.1.1.10" -> "10-1-1-10", "10.1.0.0/16" -> "10-1-0-0-16" */
static void dashed(const char *s, char *out, size_t len)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < len; i++)
		out[i] = (s[i] == '.' || s[i] == '/') ? '-' : s[i];
	out[i] = '\0';
}

/* Creates the object (or updates its spec when it exists) and optionally waits for its
 * global IP. */
static int create(const char *prog, const struct gopts *go, bool ingress)
{
	const char *res = ingress ? GN_RES_INGRESS : GN_RES_EGRESS;
	const char *key = go->pod ? "pod" : go->cidr ? "cidr" : "service";
	const char *val = go->pod ? go->pod : go->cidr ? go->cidr : go->service;
	struct cluster_config cfg = { 0 };
	struct brk_client *brk = NULL;
	struct brk_status st;
	char name[256], d[64];
	cJSON *obj = NULL, *spec, *cur = NULL;
	int rc;

	rc = open_client(prog, go->dir, &cfg, &brk);
	if (rc)
		return rc;
	rc = 1;
	if (!cfg.n_global_cidrs) {
		fprintf(stderr, "subagent %s: cluster %s has no global CIDR (joined without "
			"globalnet): nothing would allocate the global IP\n", prog, cfg.cluster_id);
		goto out;
	}
	dashed(val, d, sizeof(d));
	if (go->name)
		snprintf(name, sizeof(name), "%s-%s", cfg.cluster_id, go->name);
	else
		snprintf(name, sizeof(name), "%s-%s-%s", cfg.cluster_id,
			 go->pod ? "pod" : go->cidr ? "cidr" : "svc", d);
	obj = cJSON_CreateObject();
	spec = cJSON_AddObjectToObject(obj, "spec");
	cJSON_AddStringToObject(obj, "apiVersion", "subagent.io/v1");
	cJSON_AddStringToObject(obj, "kind", ingress ? "GlobalIngressIP" : "GlobalEgressIP");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(obj, "metadata"), "name", name);
	cJSON_AddStringToObject(spec, "clusterID", cfg.cluster_id);
	cJSON_AddStringToObject(spec, key, val);
	if (!spec || !cJSON_GetObjectItemCaseSensitive(spec, key)) {
		fprintf(stderr, "subagent %s: out of memory\n", prog);
		goto out;
	}
	if (brk_create(brk, res, obj, NULL, &st)) {
		if (st.code != 409 || brk_get(brk, res, name, &cur, &st)) {
			fprintf(stderr, "subagent %s: create %s: %s\n", prog, name, st.message);
			goto out;
		}
		/* it exists: a new target replaces the old one (the global IP stays) */
		cJSON_ReplaceItemInObjectCaseSensitive(cur, "spec", cJSON_Duplicate(spec, 1));
		if (brk_update(brk, res, name, cur, NULL, &st)) {
			fprintf(stderr, "subagent %s: update %s: %s\n", prog, name, st.message);
			goto out;
		}
	}
	printf("%s %s %s=%s\n", ingress ? "GlobalIngressIP" : "GlobalEgressIP", name, key, val);
	for (int i = 0; i < go->wait_s * 10; i++) {
		cJSON *o = NULL;
		const char *ip;

		if (!brk_get(brk, res, name, &o, &st) && *(ip = spec_str(o, "status", "globalIP"))) {
			printf("globalIP %s\n", ip);
			cJSON_Delete(o);
			rc = 0;
			goto out;
		}
		cJSON_Delete(o);
		usleep(100000);
	}
	if (go->wait_s) {
		fprintf(stderr, "subagent %s: %s has no global IP after %d s (is the gateway "
			"agent running with globalnet?)\n", prog, name, go->wait_s);
		goto out;
	}
	rc = 0;
out:
	cJSON_Delete(obj);
	cJSON_Delete(cur);
	brk_client_free(brk);
	cluster_config_free(&cfg);
	return rc;
}

static void add_rows(cJSON *rows, const cJSON *items, const char *kind, const char *cluster)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, items) {
		const char *cid = spec_str(it, "spec", "clusterID");
		const char *t = *spec_str(it, "spec", "pod") ? "pod" :
				*spec_str(it, "spec", "cidr") ? "cidr" : "service";
		cJSON *row;

		if (cluster && strcmp(cid, cluster))
			continue;
		row = cJSON_CreateObject();
		if (!row)
			continue;
		cJSON_AddStringToObject(row, "cluster", cid);
		cJSON_AddStringToObject(row, "kind", kind);
		cJSON_AddStringToObject(row, "name", brk_obj_name(it) ? brk_obj_name(it) : "");
		cJSON_AddStringToObject(row, "target_type", t);
		cJSON_AddStringToObject(row, "target", spec_str(it, "spec", t));
		cJSON_AddStringToObject(row, "global_ip", spec_str(it, "status", "globalIP"));
		cJSON_AddItemToArray(rows, row);
	}
}

/* Rows of every GlobalEgressIP and GlobalIngressIP (of cluster, or all when NULL). Also
 * used by `show networks`. NULL with err set when the broker fails. */
cJSON *gn_cli_rows(struct brk_client *brk, const char *cluster, char *err, size_t errlen)
{
	static const char *const res[2] = { GN_RES_EGRESS, GN_RES_INGRESS };
	cJSON *rows = cJSON_CreateArray();

	for (int i = 0; i < 2 && rows; i++) {
		struct brk_status st;
		cJSON *list = NULL;

		if (brk_list(brk, res[i], &list, &st)) {
			snprintf(err, errlen, "list %s: %s", res[i], st.message);
			cJSON_Delete(rows);
			return NULL;
		}
		add_rows(rows, cJSON_GetObjectItemCaseSensitive(list, "items"),
			 i ? "ingress" : "egress", cluster);
		cJSON_Delete(list);
	}
	return rows;
}

static const struct table_col list_cols[] = {
	{ "CLUSTER", "cluster", NULL }, { "KIND", "kind", NULL }, { "NAME", "name", NULL },
	{ "TARGET", "target", NULL }, { "GLOBAL IP", "global_ip", NULL },
};

static int list(const char *prog, const struct gopts *go)
{
	struct cluster_config cfg = { 0 };
	struct brk_client *brk = NULL;
	char err[600];
	cJSON *rows;
	int rc = open_client(prog, go->dir, &cfg, &brk);

	if (rc)
		return rc;
	rows = gn_cli_rows(brk, go->cluster, err, sizeof(err));
	if (!rows) {
		fprintf(stderr, "subagent %s: %s\n", prog, err);
		rc = 1;
	} else if (go->json) {
		char *s = cJSON_Print(rows);

		if (s)
			printf("%s\n", s);
		free(s);
	} else {
		table_print(stdout, rows, list_cols, ARRAY_SIZE(list_cols));
	}
	cJSON_Delete(rows);
	brk_client_free(brk);
	cluster_config_free(&cfg);
	return rc;
}

static int delete(const char *prog, const struct gopts *go)
{
	struct cluster_config cfg = { 0 };
	struct brk_client *brk = NULL;
	struct brk_status st;
	char name[256];
	int rc = open_client(prog, go->dir, &cfg, &brk), found = 0;

	if (rc)
		return rc;
	/* accept the full object name or the short one given at creation */
	if (!strncmp(go->name, cfg.cluster_id, strlen(cfg.cluster_id)) &&
	    go->name[strlen(cfg.cluster_id)] == '-')
		snprintf(name, sizeof(name), "%s", go->name);
	else
		snprintf(name, sizeof(name), "%s-%s", cfg.cluster_id, go->name);
	for (int i = 0; i < 2; i++) {
		const char *res = i ? GN_RES_INGRESS : GN_RES_EGRESS;

		if (go->only && go->only != i + 1)
			continue;
		if (!brk_delete(brk, res, name, NULL, &st)) {
			printf("deleted %s %s\n", i ? "GlobalIngressIP" : "GlobalEgressIP", name);
			found = 1;
		} else if (st.code != 404) {
			fprintf(stderr, "subagent %s: delete %s: %s\n", prog, name, st.message);
			rc = 1;
		}
	}
	if (!found && !rc) {
		fprintf(stderr, "subagent %s: no global IP object %s\n", prog, name);
		rc = 1;
	}
	brk_client_free(brk);
	cluster_config_free(&cfg);
	return rc;
}

static int stats(const char *prog, const struct gopts *go)
{
	char path[4200], *txt;
	const cJSON *v, *c;
	cJSON *o;

	if (!go->state_dir) {
		fprintf(stderr, "subagent %s: --state-dir is required (the gateway agent's)\n", prog);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/globalnet.json", go->state_dir);
	txt = util_read_file(path, 4 * 1024 * 1024, NULL);
	if (!txt) {
		fprintf(stderr, "subagent %s: read %s: %s (is this the gateway, with globalnet?)\n",
			prog, path, strerror(errno));
		return 1;
	}
	if (go->json) {
		printf("%s\n", txt);
		free(txt);
		return 0;
	}
	o = cJSON_Parse(txt);
	free(txt);
	if (!o) {
		fprintf(stderr, "subagent %s: %s is not JSON\n", prog, path);
		return 1;
	}
#define S(k) (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, k)) ? \
	cJSON_GetObjectItemCaseSensitive(o, k)->valuestring : "")
	v = cJSON_GetObjectItemCaseSensitive(o, "flows");
	printf("global CIDR %s on %s: %s, %.0f flows\n", S("globalCIDR"), S("device"),
	       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "attached")) ? "attached" :
	       "not attached", cJSON_IsNumber(v) ? v->valuedouble : 0);
#undef S
	printf("egress IPs:");
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(o, "egressIPs"))
		printf(" %s", cJSON_IsString(c) ? c->valuestring : "?");
	printf("\ncounters:\n");
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(o, "counters"))
		printf("  %-24s %.0f\n", c->string, cJSON_IsNumber(c) ? c->valuedouble : 0);
	printf("mappings:\n");
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(o, "mappings"))
		printf("  %-8s %-30s %-18s %s\n", spec_str(c, "kind", NULL),
		       spec_str(c, "name", NULL), spec_str(c, "target", NULL),
		       spec_str(c, "globalIP", NULL));
	cJSON_Delete(o);
	return 0;
}

/* Parses the options shared by both commands into go. 0, or an exit code. */
static int parse(const char *prog, int argc, char **argv, struct gopts *go, void (*help)(FILE *))
{
	static const struct option opts[] = {
		{ "config-dir", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "pod", required_argument, NULL, 'p' },
		{ "cidr", required_argument, NULL, 'C' },
		{ "service", required_argument, NULL, 's' },
		{ "vip", required_argument, NULL, 's' },
		{ "name", required_argument, NULL, 'n' },
		{ "cluster", required_argument, NULL, 'k' },
		{ "wait", required_argument, NULL, 'w' },
		{ "egress", no_argument, NULL, 'E' },
		{ "ingress", no_argument, NULL, 'I' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': go->dir = optarg; break;
		case 'S': go->state_dir = optarg; break;
		case 'p': go->pod = optarg; break;
		case 'C': go->cidr = optarg; break;
		case 's': go->service = optarg; break;
		case 'n': go->name = optarg; break;
		case 'k': go->cluster = optarg; break;
		case 'E': go->only = 1; break;
		case 'I': go->only = 2; break;
		case 'w': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || v < 0 || v > 3600) {
				fprintf(stderr, "subagent %s: --wait must be 0..3600 seconds\n", prog);
				return 2;
			}
			go->wait_s = (int)v;
			break;
		}
		case 'o':
			if (strcmp(optarg, "json")) {
				fprintf(stderr, "subagent %s: -o takes only 'json'\n", prog);
				return 2;
			}
			go->json = 1;
			break;
		case 'h': help(stdout); return -1;
		default: help(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "subagent %s: unexpected argument '%s'\n", prog, argv[optind]);
		return 2;
	}
	if (go->name) {
		for (const char *p = go->name; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) {
				fprintf(stderr, "subagent %s: --name must be lowercase letters, digits "
					"and '-'\n", prog);
				return 2;
			}
		if (!*go->name || strlen(go->name) > 180) {
			fprintf(stderr, "subagent %s: --name must be 1..180 characters\n", prog);
			return 2;
		}
	}
	return 0;
}

static int check_target(const char *prog, const struct gopts *go, bool ingress)
{
	uint32_t a;
	struct cidr4 c;
	int n = !!go->pod + !!go->cidr + !!go->service;

	if (n != 1 || (ingress && go->cidr) || (!ingress && go->service)) {
		fprintf(stderr, "subagent %s: give exactly one of %s\n", prog,
			ingress ? "--pod, --service" : "--pod, --cidr");
		return 2;
	}
	if ((go->pod && ip4_parse(go->pod, &a)) || (go->service && ip4_parse(go->service, &a))) {
		fprintf(stderr, "subagent %s: '%s' is not an IPv4 address\n", prog,
			go->pod ? go->pod : go->service);
		return 2;
	}
	if (go->cidr && cidr4_parse(go->cidr, &c)) {
		fprintf(stderr, "subagent %s: '%s' is not an IPv4 CIDR (host bits zero)\n", prog,
			go->cidr);
		return 2;
	}
	return 0;
}

int cmd_globalnet(int argc, char **argv)
{
	struct gopts go = { 0 };
	const char *sub;
	char prog[64];
	int rc;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	sub = argv[1];
	if (strcmp(sub, "egress") && strcmp(sub, "ingress") && strcmp(sub, "list") &&
	    strcmp(sub, "delete") && strcmp(sub, "stats")) {
		fprintf(stderr, "subagent globalnet: unknown command '%s' (egress, ingress, list, "
			"delete, stats)\n", sub);
		return 2;
	}
	snprintf(prog, sizeof(prog), "globalnet %s", sub);
	rc = parse(prog, argc - 1, argv + 1, &go, usage);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (!strcmp(sub, "list"))
		return list(prog, &go);
	if (!strcmp(sub, "stats"))
		return stats(prog, &go);
	if (!strcmp(sub, "delete")) {
		if (!go.name) {
			fprintf(stderr, "subagent %s: --name is required\n", prog);
			return 2;
		}
		return delete(prog, &go);
	}
	rc = check_target(prog, &go, !strcmp(sub, "ingress"));
	return rc ? rc : create(prog, &go, !strcmp(sub, "ingress"));
}

static void export_usage(FILE *f)
{
	fprintf(f,
		"Usage: subagent export service --config-dir DIR --name N --vip VIP [--wait S]\n\n"
		"Gives a local service a global IP (a GlobalIngressIP) that pods of other clusters\n"
		"connect to; with globalnet only. See 'subagent globalnet --help'.\n");
}

int cmd_export(int argc, char **argv)
{
	struct gopts go = { 0 };
	int rc;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		export_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "service")) {
		fprintf(stderr, "subagent export: unknown '%s' (only 'service')\n", argv[1]);
		return 2;
	}
	rc = parse("export service", argc - 1, argv + 1, &go, export_usage);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (!go.name || !go.service || go.pod || go.cidr) {
		fprintf(stderr, "subagent export service: --name and --vip are required\n");
		return 2;
	}
	rc = check_target("export service", &go, true);
	return rc ? rc : create("export service", &go, true);
}
