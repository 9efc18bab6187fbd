/* The gateway engine: what the cluster's active gateway does. It publishes the cluster's
 * Endpoint, watches every other cluster's, connects a cable to each, probes them with the
 * health checker, and keeps a cache of the remote endpoints on disk so that it rebuilds
 * its tunnels while the broker is down. The node daemon (agent/node/) starts it when the
 * node becomes the active gateway and stops it when the node loses the role. */
#ifndef SA_ENGINE_H
#define SA_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "common/cidr.h"

struct brk_client;
struct cluster_config;
struct elector;
struct engine;
struct sa_endpoint;

struct engine_cfg {
	const struct cluster_config *cfg;	/* these three must outlive the engine */
	struct brk_client *brk;
	struct elector *el;			/* the epoch comes from the election */
	int epfd;		/* the node's epoll set: the engine adds and removes its fds */
	const char *node;
	const char *state_dir;
	const char *public_ip;		/* NULL: ask the broker (whoami) */
	const char *private_ip;		/* NULL: the source address towards the broker */
	const char *bpf_dir;		/* globalnet pin directory; NULL: under /sys/fs/bpf */
	int globalnet_no_attach;
	uint64_t health_interval_ns;	/* 0: 1 s */
	uint32_t health_ip;		/* a local address inside the cluster CIDRs; 0: none */
};

/* What engine_on_fd() saw happen. */
#define ENGINE_F_REMOTES	(1U << 0)	/* the remote clusters or their subnets changed */
#define ENGINE_F_STATUS		(1U << 1)	/* a connection changed: tell the broker soon */

/* Starts the cable driver (and charon), globalnet, the verify responder and the informer.
 * NULL + errno. */
struct engine *engine_start(const struct engine_cfg *c);
/* Stops everything the engine started. restarting (SIGTERM: the agent is restarted at
 * once) leaves the remote clusters' tunnels to the peers; otherwise every remote is
 * disconnected first. NULL-safe. */
void engine_stop(struct engine *e, bool restarting);

/* Handles a readable fd of the engine's; returns ENGINE_F_* (0 when fd is not its). */
unsigned engine_on_fd(struct engine *e, int fd);
/* Periodic work (health probes, publishing the Endpoint); returns ns until it is due again. */
uint64_t engine_tick(struct engine *e, uint64_t now);
/* What happened since the last call (ENGINE_F_*), e.g. a health status that engine_tick()
 * changed; engine_on_fd() returns the same. */
unsigned engine_take_flags(struct engine *e);

/* The remote clusters' subnets, for the route agents; returns how many (<= max). */
unsigned engine_remote_subnets(const struct engine *e, struct cidr4 *out, unsigned max);
/* The tunnel device's MTU, or -errno. */
int engine_tunnel_mtu(const struct engine *e);
/* This cluster's Endpoint as the engine publishes it, and whether it is published. */
const struct sa_endpoint *engine_local(const struct engine *e, bool *published);
bool engine_synced(const struct engine *e);
/* One object per remote cluster: addresses, subnets, status, RTT, counters (a JSON array;
 * the caller frees it). Asks the cable for its SAs: build it once per tick. */
cJSON *engine_connections_json(struct engine *e);

#endif
