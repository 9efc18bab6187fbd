/* Globalnet's metrics (see gn_metrics.h). Names follow Prometheus conventions; the README
 * maps them to Submariner's submariner_global_* gauges. */
#include "globalnet/gn_metrics.h"

#include <pthread.h>
#include <string.h>

#include "bpf/globalnet.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"

static const struct {
	const char *name;
	enum metrics_type type;
	const char *labels, *help;
} fams[] = {
	{ "subagent_globalnet_translated_packets_total", METRICS_COUNTER, "direction",
	  "Packets whose addresses globalnet rewrote (egress, ingress, icmp_error)" },
	{ "subagent_globalnet_new_flows_total", METRICS_COUNTER, "direction",
	  "Flows globalnet started translating (egress: a local source, ingress: to a global IP)" },
	{ "subagent_globalnet_dropped_packets_total", METRICS_COUNTER, "reason",
	  "Packets for global addresses that globalnet dropped, by reason" },
	{ "subagent_globalnet_passed_packets_total", METRICS_COUNTER, "reason",
	  "Packets globalnet let through untouched (not_global, unparsable)" },
	{ "subagent_globalnet_flows", METRICS_GAUGE, NULL,
	  "Flows in globalnet's translation table" },
	{ "subagent_globalnet_flows_max", METRICS_GAUGE, NULL,
	  "Flows globalnet's translation table holds; new flows are refused beyond" },
	{ "subagent_globalnet_ips_available", METRICS_GAUGE, "cidr",
	  "Global IPs of the cluster's global CIDR still free" },
	{ "subagent_globalnet_ips_allocated", METRICS_GAUGE, "cidr,kind",
	  "Global IPs in use, by kind (cluster_egress, egress, ingress, health)" },
};

static int defined;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void define(void)
{
	int err = 0;

	for (size_t i = 0; i < ARRAY_SIZE(fams) && !err; i++)
		err = metrics_define(fams[i].name, fams[i].type, fams[i].help, fams[i].labels);
	if (err)
		pr_warn("globalnet: metrics: %s\n", strerror(-err));
	defined = !err;
}

/* What each BPF counter is as a metric: family and label value (NULL: not exported). */
static const struct {
	const char *fam, *label;
} stat_map[GN_STAT_MAX] = {
	[GN_STAT_PASS] = { "subagent_globalnet_passed_packets_total", "not_global" },
	[GN_STAT_MALFORMED_PASS] = { "subagent_globalnet_passed_packets_total", "unparsable" },
	[GN_STAT_EGRESS_XLATE] = { "subagent_globalnet_translated_packets_total", "egress" },
	[GN_STAT_INGRESS_XLATE] = { "subagent_globalnet_translated_packets_total", "ingress" },
	[GN_STAT_ICMP_ERR_XLATE] = { "subagent_globalnet_translated_packets_total", "icmp_error" },
	[GN_STAT_NEW_SNAT] = { "subagent_globalnet_new_flows_total", "egress" },
	[GN_STAT_NEW_DNAT] = { "subagent_globalnet_new_flows_total", "ingress" },
	[GN_STAT_DROP_MALFORMED] = { "subagent_globalnet_dropped_packets_total", "malformed" },
	[GN_STAT_DROP_FRAGMENT] = { "subagent_globalnet_dropped_packets_total", "fragment" },
	[GN_STAT_DROP_NO_FLOW] = { "subagent_globalnet_dropped_packets_total", "no_flow" },
	[GN_STAT_DROP_UNSUPPORTED] = { "subagent_globalnet_dropped_packets_total", "unsupported" },
	[GN_STAT_DROP_TABLE_FULL] = { "subagent_globalnet_dropped_packets_total", "table_full" },
	[GN_STAT_DROP_NO_PORT] = { "subagent_globalnet_dropped_packets_total", "no_port" },
	[GN_STAT_DROP_NO_EGRESS_IP] = { "subagent_globalnet_dropped_packets_total", "no_egress_ip" },
	[GN_STAT_DROP_CONFLICT] = { "subagent_globalnet_dropped_packets_total", "conflict" },
	[GN_STAT_DROP_REWRITE] = { "subagent_globalnet_dropped_packets_total", "rewrite" },
};

void gn_metrics_publish(const struct gn_metrics_snapshot *s)
{
	char cidr[CIDR4_STRLEN];

	pthread_once(&once, define);
	if (!defined)
		return;
	cidr4_format(s->global, cidr);
	metrics_lock();
	for (unsigned i = 0; s->stats && i < GN_STAT_MAX; i++)
		if (stat_map[i].fam)
			metrics_set(stat_map[i].fam, (double)s->stats[i], stat_map[i].label);
	if (s->flows >= 0)
		metrics_set("subagent_globalnet_flows", s->flows);
	metrics_set("subagent_globalnet_flows_max", s->ct_max_flows);
	metrics_set("subagent_globalnet_ips_available", s->pool_free, cidr);
	metrics_set("subagent_globalnet_ips_allocated", s->cluster_egress, cidr, "cluster_egress");
	metrics_set("subagent_globalnet_ips_allocated", s->egress, cidr, "egress");
	metrics_set("subagent_globalnet_ips_allocated", s->ingress, cidr, "ingress");
	metrics_set("subagent_globalnet_ips_allocated", s->health, cidr, "health");
	metrics_unlock();
}

void gn_metrics_clear(void)
{
	metrics_lock();
	for (size_t i = 0; i < ARRAY_SIZE(fams); i++)
		metrics_clear(fams[i].name);
	metrics_unlock();
}
