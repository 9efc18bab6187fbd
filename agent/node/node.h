/* The per-node daemon (`subagent agent`): every node runs the election and the route agent;
 * the node that the election makes the cluster's active gateway also runs the gateway
 * engine (agent/engine/), and stops it in place when it loses the role. */
#ifndef SA_NODE_H
#define SA_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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
	uint64_t liveness_interval_ns;	/* 0: 20 ms; UINT64_MAX: no liveness probes */
	unsigned liveness_mult;		/* 0: 5 */
	uint64_t resync_ns;		/* 0: NODE_RESYNC_NS */
	const char *bpf_dir;		/* globalnet pin directory; NULL: under /sys/fs/bpf */
	int globalnet_no_attach;	/* globalnet: allocate, publish, do not translate */
	const char *metrics_listen;	/* "ADDR:PORT" for /metrics, /healthz, /readyz; NULL: none */
};

/* How often the node checks and repairs everything it made (routes, rules, devices,
 * connections, SAs, the nft table), besides doing so on every event. */
#define NODE_RESYNC_NS (10 * 1000000000ull)

/* Runs until SIGTERM/SIGINT. Returns the process exit code. */
int node_run(const struct node_opts *o);

/* ---- local.c: what `subagent leave` does on the node ---- */
/* Stops the agent that runs with state_dir (SIGTERM: it removes what it made) and waits up
 * to timeout_ms for it to end. 1 stopped (*pid its PID), 0 none ran, -ETIMEDOUT, -errno. */
int node_stop_local(const char *state_dir, int timeout_ms, pid_t *pid)
	__attribute__((warn_unused_result));
/* Removes an agent's state directory (endpoint cache, status, election and charon files)
 * when it is one of cluster_id's (its status file says so, or it holds the agent's PID
 * file). 1 removed, 0 there was none, -ENOTEMPTY not an agent's, -errno. */
int node_remove_state(const char *state_dir, const char *cluster_id)
	__attribute__((warn_unused_result));
/* Unpins the globalnet flow table in bpf_dir. 1 removed, 0 there was none, -errno. */
int node_remove_pinned(const char *bpf_dir) __attribute__((warn_unused_result));
/* The agent's default pin directory for cluster_id's node. */
void node_default_bpf_dir(const char *cluster_id, const char *node, char *out, size_t len);

#endif
