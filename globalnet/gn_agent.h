/* The gateway's globalnet agent: loads the BPF NAT (globalnet/gn_nat.h) onto the tunnel
 * device, keeps it attached across charon restarts, fills its maps from the cluster's global
 * CIDR, the remote clusters' Endpoints and this cluster's GlobalEgressIP/GlobalIngressIP
 * objects (allocating their global IPs and writing them into the objects' status), and
 * sweeps idle flows. Runs on its own thread; the gateway loop only starts and stops it. */
#ifndef SA_GN_AGENT_H
#define SA_GN_AGENT_H

#include <stddef.h>
#include <stdint.h>

struct brk_client;
struct cluster_config;
struct gn_agent;

#define GN_AGENT_EGRESS_IPS 8

struct gn_agent_opts {
	const struct cluster_config *cfg;	/* must outlive the agent */
	struct brk_client *brk;			/* must outlive the agent */
	const char *node;
	const char *bpf_dir;	/* pin directory; NULL: /sys/fs/bpf/subagent/<cluster>-<node> */
	uint32_t health_ip;	/* the node's local health-check address; 0: none */
	const char *state_dir;	/* globalnet.json (counters, mappings) goes there; NULL: none */
	int no_attach;		/* allocate and publish, but leave the translation to someone
				 * else (benchmarks compare an nftables translation) */
	const char *dev;	/* the cable's tunnel device, where the programs attach; it
				 * may come and go (charon restarts): it is attached again */
	int dev_kind;		/* enum gn_dev_kind (gn_nat.h) of that device */
};

/* Loads and configures the programs and starts the thread. *health_global gets the
 * global IP that maps to opts->health_ip (0 when none). NULL with errno. */
struct gn_agent *gn_agent_start(const struct gn_agent_opts *o, uint32_t *health_global);
/* Stops the thread; the filters stay attached (an agent restart leaves no gap) and the
 * conntrack map stays pinned. NULL-safe. */
void gn_agent_stop(struct gn_agent *a);

/* Name of the resource holding egress ("globalegressips") or ingress objects. */
#define GN_RES_EGRESS "globalegressips"
#define GN_RES_INGRESS "globalingressips"

#endif
