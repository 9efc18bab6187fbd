/* The gateway engine: the per-node daemon's work on the cluster's gateway node. It
 * publishes the cluster's Endpoint, watches every other cluster's, connects a cable to each,
 * probes them with the health checker, publishes its GatewayStatus, and keeps a cache of the
 * remote endpoints on disk so that it rebuilds its tunnels while the broker is down. */
#ifndef SA_GATEWAY_H
#define SA_GATEWAY_H

#include <stdbool.h>
#include <stdint.h>

struct gateway_opts {
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
};

/* Runs until SIGTERM/SIGINT. Returns the process exit code. */
int gateway_run(const struct gateway_opts *o);

#endif
