/* The CLI side of the globalnet objects (see gn_objects.h). */
#include "agent/cli/gn_objects.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/cli/cli.h"
#include "broker/client/client.h"
#include "broker/creds/cluster_config.h"
#include "common/cidr.h"
#include "common/json.h"
#include "globalnet/gn_agent.h"

/* "10.1.1.10" -> "10-1-1-10", "10.1.0.0/16" -> "10-1-0-0-16" */
static void dashed(const char *s, char *out, size_t len)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < len; i++)
		out[i] = (s[i] == '.' || s[i] == '/') ? '-' : s[i];
	out[i] = '\0';
}

int gn_cli_create(const char *prog, const struct gn_cli_opts *go, bool ingress)
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

	rc = cli_open_cluster(prog, go->dir, &cfg, &brk);
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
		snprintf(name, sizeof(name), "%s.%s", cfg.cluster_id, go->name);
	else
		snprintf(name, sizeof(name), "%s.%s-%s", cfg.cluster_id,
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

		if (!brk_get(brk, res, name, &o, &st) && *(ip = json_str(o, "status.globalIP", ""))) {
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
	cli_close_cluster(&cfg, brk);
	return rc;
}

static void add_rows(cJSON *rows, const cJSON *items, const char *kind, const char *cluster)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, items) {
		const char *cid = json_str(it, "spec.clusterID", "");
		const char *t = *json_str(it, "spec.pod", "") ? "pod" :
				*json_str(it, "spec.cidr", "") ? "cidr" : "service";
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
		cJSON_AddStringToObject(row, "target",
					json_str(cJSON_GetObjectItemCaseSensitive(it, "spec"), t, ""));
		cJSON_AddStringToObject(row, "global_ip", json_str(it, "status.globalIP", ""));
		cJSON_AddItemToArray(rows, row);
	}
}

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

int gn_cli_parse(const char *prog, int argc, char **argv, struct gn_cli_opts *go,
		 void (*help)(FILE *))
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
		if (strspn(go->name, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(go->name)) {
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

int gn_cli_check_target(const char *prog, const struct gn_cli_opts *go, bool ingress)
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

