/* The per-node daemon (`subagent agent`): every node runs the election and the route agent;
 * the node that the election makes the cluster's active gateway also runs the gateway
 * engine (agent/engine/), and stops it in place when it loses the role. */
#ifndef SA_NODE_H
#define SA_NODE_H

#include <stdbool.h>
#include <stdint.h>

struct node_opts {
	const char *config_dir;		/* written by `subagent join` */
	const char *node;		/* this node's name (DNS label) */
	const char *state_dir;		/* cache, status, charon files */
	const char *public_ip;		/* NULL: ask the broker (whoami) */
	const char *private_ip;		/* NULL: the source address towards the broker */
	uint64_t health_interval_ns;	/* 0: 1 s */
	bool gateway_capable;		/* may become the cluster's active gateway */
	const char *node_ip;		/* address on the cluster's node network; NULL: guess */
	const char *pod_cidr;		/* this node's pod CIDR slice, or NULL */
	uint64_t election_interval_ns;	/* 0: the election's default (100 ms) */
	uint64_t election_dead_ns;	/* 0: the election's default (600 ms) */
	const char *bpf_dir;		/* globalnet pin directory; NULL: under /sys/fs/bpf */
	int globalnet_no_attach;	/* globalnet: allocate, publish, do not translate */
	const char *metrics_listen;	/* "ADDR:PORT" for /metrics, /healthz, /readyz; NULL: none */
};

/* Runs until SIGTERM/SIGINT. Returns the process exit code. */
int node_run(const struct node_opts *o);

#endif
