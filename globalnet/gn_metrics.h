/* Globalnet's Prometheus families: translations, new flows and drops from the BPF
 * programs' counters, the flow table's size, and the global IPs in use. The gateway's
 * globalnet agent publishes a snapshot every time it writes globalnet.json. */
#ifndef SA_GN_METRICS_H
#define SA_GN_METRICS_H

#include <stdint.h>

#include "common/cidr.h"

struct gn_metrics_snapshot {
	const struct cidr4 *global;	/* this cluster's global CIDR */
	const uint64_t *stats;		/* GN_STAT_MAX counters (bpf/globalnet.h), or NULL */
	int flows;			/* translated flows now, < 0: unknown */
	uint32_t ct_max_flows;		/* what the flow table holds */
	uint32_t pool_free;		/* global IPs still free */
	unsigned cluster_egress;	/* the cluster egress IPs */
	unsigned egress, ingress;	/* per-pod/CIDR egress IPs, ingress IPs allocated */
	unsigned health;		/* the health-check IP's global IP (0 or 1) */
};

/* Defines the families (once) and sets them from s. */
void gn_metrics_publish(const struct gn_metrics_snapshot *s);
/* Drops the series (this node stopped translating). */
void gn_metrics_clear(void);

#endif
