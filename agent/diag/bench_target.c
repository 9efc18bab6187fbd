/* What `subagent benchmark` measures between: this node's (or pod's) source address for
 * the target, the target, and the remote cluster it belongs to (from the broker's
 * Endpoints: whose subnets hold it), or a remote cluster's gateway by name. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "agent/diag/bench.h"
#include "agent/routing/netlink.h"
#include "broker/client/client.h"
#include "broker/client/endpoint.h"
#include "broker/creds/cluster_config.h"
#include "common/cidr.h"

/* The remote cluster whose endpoint holds dst (or is called cluster): its ID into owner,
 * and with cluster set its gateway's health-check IP into *dst. */
static int find_owner(const char *config_dir, const char *cluster, uint32_t *dst, char *owner,
		      size_t olen, char *err, size_t errlen)
{
	struct cluster_config cfg = { 0 };
	struct brk_client *brk = NULL;
	struct brk_status st;
	cJSON *list = NULL;
	const cJSON *it;
	char cerr[BRK_ERR_MAX];
	uint64_t best = 0;
	int rc;

	owner[0] = '\0';
	rc = cluster_config_load_err(config_dir, &cfg, cerr);
	if (rc) {
		snprintf(err, errlen, "%s", cerr);
		return rc;
	}
	brk = brk_client_new(cfg.broker_urls, cfg.n_broker_urls, cfg.ca_path, cfg.token);
	if (!brk) {
		rc = -ENOMEM;
		snprintf(err, errlen, "broker client: out of memory");
		goto out;
	}
	brk_client_set_timeouts(brk, 3000, 10000);
	rc = brk_list(brk, "endpoints", &list, &st);
	if (rc) {
		snprintf(err, errlen, "list endpoints from %s: %s", st.url, st.message);
		goto out;
	}
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(list, "items")) {
		struct sa_endpoint ep;
		char e[256];
		uint32_t hc;

		if (endpoint_from_json(it, &ep, e, sizeof(e)) || !strcmp(ep.cluster_id, cfg.cluster_id))
			continue;
		if (cluster) {
			if (!strcmp(ep.cluster_id, cluster) && ep.epoch >= best &&
			    !ip4_parse(ep.health_ip, &hc)) {
				best = ep.epoch;
				*dst = hc;
				snprintf(owner, olen, "%s", ep.cluster_id);
			}
			continue;
		}
		for (unsigned i = 0; i < ep.n_subnets; i++)
			if (cidr4_contains(&ep.subnets[i], *dst))
				snprintf(owner, olen, "%s", ep.cluster_id);
	}
	if (cluster && !owner[0]) {
		rc = -ENOENT;
		snprintf(err, errlen, "no remote cluster %s with a health-check IP in the broker", cluster);
	}
out:
	cJSON_Delete(list);
	brk_client_free(brk);
	cluster_config_free(&cfg);
	return rc;
}

cJSON *bench_target(const char *config_dir, const char *to, const char *cluster,
		    uint32_t *dst, char *err, size_t errlen)
{
	char owner[64] = "", from[16] = "?", tos[16];
	uint32_t src;
	cJSON *row;

	*dst = 0;
	if (to && ip4_parse(to, dst)) {
		snprintf(err, errlen, "--to %s is not an IPv4 address", to);
		return NULL;
	}
	/* with an address the cluster's name is a nicety: a pod may not reach the broker */
	if (config_dir && find_owner(config_dir, to ? NULL : cluster, dst, owner, sizeof(owner),
				     err, errlen) && !to)
		return NULL;
	if (!*dst) {
		snprintf(err, errlen, "--to IP or --cluster ID (with --config-dir) is required");
		return NULL;
	}
	if (!netlink_source_for(*dst, &src))
		ip4_format(src, from);
	ip4_format(*dst, tos);
	row = cJSON_CreateObject();
	if (!row) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	cJSON_AddStringToObject(row, "from", from);
	cJSON_AddStringToObject(row, "to", tos);
	cJSON_AddStringToObject(row, "cluster", owner);
	return row;
}
