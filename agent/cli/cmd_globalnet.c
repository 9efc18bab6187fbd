/* subagent globalnet egress|ingress|list|delete|stats: the GlobalEgressIP and
 * GlobalIngressIP objects in the broker (agent/cli/gn_objects.c). The cluster's gateway
 * agent allocates their global IPs (globalnet/gn_agent.c) and writes them into
 * status.globalIP. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/cli/cli.h"
#include "agent/cli/cmd.h"
#include "agent/cli/gn_objects.h"
#include "agent/cli/print.h"
#include "broker/client/client.h"
#include "broker/creds/cluster_config.h"
#include "common/cidr.h"
#include "common/json.h"
#include "common/name.h"
#include "common/util.h"
#include "globalnet/gn_agent.h"

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

static const struct print_col list_cols[] = {
	{ "CLUSTER", "cluster", NULL }, { "KIND", "kind", NULL }, { "NAME", "name", NULL },
	{ "TARGET", "target", NULL }, { "GLOBAL IP", "global_ip", NULL },
};

static int list(const char *prog, const struct gn_cli_opts *go)
{
	struct cluster_config cfg = { 0 };
	struct brk_client *brk = NULL;
	char err[600];
	cJSON *rows;
	int rc = cli_open_cluster(prog, go->dir, &cfg, &brk);

	if (rc)
		return rc;
	rows = gn_cli_rows(brk, go->cluster, err, sizeof(err));
	if (!rows) {
		fprintf(stderr, "subagent %s: %s\n", prog, err);
		rc = 1;
	} else {
		print_rows(stdout, rows, list_cols, ARRAY_SIZE(list_cols), go->json);
	}
	cJSON_Delete(rows);
	cli_close_cluster(&cfg, brk);
	return rc;
}

static int delete(const char *prog, const struct gn_cli_opts *go)
{
	struct cluster_config cfg = { 0 };
	struct brk_client *brk = NULL;
	struct brk_status st;
	char name[256];
	int rc = cli_open_cluster(prog, go->dir, &cfg, &brk), found = 0;

	if (rc)
		return rc;
	/* accept the full object name or the short one given at creation */
	if (!strncmp(go->name, cfg.cluster_id, strlen(cfg.cluster_id)) &&
	    go->name[strlen(cfg.cluster_id)] == '.')
		snprintf(name, sizeof(name), "%s", go->name);
	else if (name_owned(name, sizeof(name), cfg.cluster_id, go->name))
		snprintf(name, sizeof(name), "%s", go->name);	/* the broker says why not */
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
	cli_close_cluster(&cfg, brk);
	return rc;
}

static int stats(const char *prog, const struct gn_cli_opts *go)
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
		printf("  %-8s %-30s %-18s %s\n", json_str(c, "kind", ""),
		       json_str(c, "name", ""), json_str(c, "target", ""),
		       json_str(c, "globalIP", ""));
	cJSON_Delete(o);
	return 0;
}

int cmd_globalnet(int argc, char **argv)
{
	struct gn_cli_opts go = { 0 };
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
	rc = gn_cli_parse(prog, argc - 1, argv + 1, &go, usage);
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
	rc = gn_cli_check_target(prog, &go, !strcmp(sub, "ingress"));
	return rc ? rc : gn_cli_create(prog, &go, !strcmp(sub, "ingress"));
}

