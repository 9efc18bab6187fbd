/* What the gateway's globalnet agent reports: state_dir/globalnet.json (read by
 * `subagent globalnet stats`) and the globalnet metrics, from one snapshot. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpf/globalnet.h"
#include "common/log.h"
#include "globalnet/gn_agent_int.h"
#include "globalnet/gn_metrics.h"
#include "globalnet/gn_nat.h"
#include "globalnet/gn_pool.h"

/* state_dir/globalnet.json: what `subagent globalnet stats` prints. */
void gn_agent_write_status(struct gn_agent *a)
{
	uint64_t st[GN_STAT_MAX];
	cJSON *o = cJSON_CreateObject(), *arr, *m;
	char buf[CIDR4_STRLEN], ip[16], *txt;
	struct gn_metrics_snapshot ms = { .global = &a->global, .ct_max_flows = CT_ENTRIES / 2,
		.cluster_egress = GN_AGENT_EGRESS_IPS, .health = a->health_gip != 0 };
	int n, rc;

	if (!o || !a->status_path[0])
		goto out;
	cJSON_AddItemToObject(o, "origin", origin_to_json(&a->origin));
	cidr4_format(&a->global, buf);
	cJSON_AddStringToObject(o, "globalCIDR", buf);
	cJSON_AddStringToObject(o, "device", a->dev);
	cJSON_AddBoolToObject(o, "attached", a->ifindex > 0);
	cJSON_AddBoolToObject(o, "translating", !a->no_attach);
	arr = cJSON_AddArrayToObject(o, "egressIPs");
	for (unsigned i = 0; arr && i < GN_AGENT_EGRESS_IPS; i++) {
		ip4_format(a->egress[i], ip);
		cJSON_AddItemToArray(arr, cJSON_CreateString(ip));
	}
	if (a->health_gip) {
		m = cJSON_AddObjectToObject(o, "healthIP");
		ip4_format(a->health_ip, ip);
		cJSON_AddStringToObject(m, "local", ip);
		ip4_format(a->health_gip, ip);
		cJSON_AddStringToObject(m, "global", ip);
	}
	n = gn_nat_ct_count(a->nat);
	cJSON_AddNumberToObject(o, "flows", n > 0 ? n / 2 : 0);
	m = cJSON_AddObjectToObject(o, "counters");
	if (m && !gn_nat_read_stats(a->nat, st, GN_STAT_MAX)) {
		ms.stats = st;
		for (unsigned i = 0; i < GN_STAT_MAX; i++)
			cJSON_AddNumberToObject(m, gn_nat_stat_name(i), (double)st[i]);
	}
	arr = cJSON_AddArrayToObject(o, "remotes");
	for (unsigned i = 0; arr && i < a->n_rem; i++)
		for (unsigned j = 0; j < a->rem[i].n; j++) {
			cidr4_format(&a->rem[i].subnets[j], buf);
			cJSON_AddItemToArray(arr, cJSON_CreateString(buf));
		}
	arr = cJSON_AddArrayToObject(o, "mappings");
	for (unsigned i = 0; arr && i < a->n_objs; i++) {
		const struct gobj *g = &a->objs[i];

		ms.ingress += g->gip && g->ingress;
		ms.egress += g->gip && !g->ingress;
		m = cJSON_CreateObject();
		if (!m)
			break;
		cJSON_AddStringToObject(m, "name", g->name);
		cJSON_AddStringToObject(m, "kind", g->ingress ? "ingress" : "egress");
		if (g->ingress)
			ip4_format(g->target, buf);
		else
			cidr4_format(&g->src, buf);
		cJSON_AddStringToObject(m, "target", buf);
		ip4_format(g->gip, ip);
		cJSON_AddStringToObject(m, "globalIP", g->gip ? ip : "");
		cJSON_AddBoolToObject(m, "programmed", g->programmed);
		cJSON_AddItemToArray(arr, m);
	}
	ms.flows = n > 0 ? n / 2 : 0;
	ms.pool_free = gn_pool_free_count(a->pool);
	gn_metrics_publish(&ms);
	txt = cJSON_Print(o);
	if (txt) {
		rc = util_write_file(a->status_path, txt, strlen(txt), 0644);
		if (rc)
			pr_debug("globalnet: write %s: %s\n", a->status_path, strerror(-rc));
		free(txt);
	}
out:
	cJSON_Delete(o);
}
