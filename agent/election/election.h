/* Cluster-local gateway election and node discovery over UDP heartbeats.
 *
 * Every node of a cluster runs one election; each sends an authenticated heartbeat every
 * interval to the node network's broadcast address (and/or a static list of peers) and
 * learns every other node from theirs. Among the gateway-capable nodes exactly one is the
 * active gateway; it keeps the role while it is alive. Works without the broker and without
 * Kubernetes. Single-threaded: the caller polls election_fd(), calls election_on_readable()
 * when it is readable and election_tick() when the time it returned has passed.
 * The wire format and the rules are described in election.c and in the README. */
#ifndef SA_ELECTION_H
#define SA_ELECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ELECTION_PORT		4801
#define ELECTION_ID_MAX		63	/* cluster ID: a DNS label */
#define ELECTION_NAME_MAX	253	/* node name: a DNS name */
#define ELECTION_MAX_PEERS	256	/* peers remembered (alive or dead) */
#define ELECTION_MAX_ROUTES	64	/* remote subnets carried in one heartbeat */

struct election;

/* What a node advertises to the others. Addresses in host byte order; 0 = none. */
struct election_adv {
	uint32_t health_ip;	/* pod-side address inside the cluster CIDR */
	uint32_t vtep_ip;	/* VXLAN endpoint of the route agent */
	uint8_t vtep_mac[6];
	uint32_t pod_net;	/* this node's pod CIDR slice (network, no host bits) */
	uint8_t pod_prefix;	/* its prefix length, 0..32 */
	uint32_t private_ip;
	/* The active gateway's extras for the route agents (extension TLVs): the remote
	 * clusters' subnets, and the MTU of its tunnel device (0: unknown). */
	uint16_t tunnel_mtu;
	uint8_t n_routes;
	uint32_t route_net[ELECTION_MAX_ROUTES];
	uint8_t route_prefix[ELECTION_MAX_ROUTES];
};

struct election_cfg {
	const char *cluster_id;		/* 1..ELECTION_ID_MAX chars [A-Za-z0-9._-] */
	const char *node;		/* 1..ELECTION_NAME_MAX chars [A-Za-z0-9._-] */
	bool gateway_capable;
	uint32_t node_ip;		/* this node's address on the node network (host order),
					 * required: heartbeats are sent from it */
	uint32_t bcast;			/* the node network's broadcast address, or 0 */
	const uint32_t *peers;		/* static peer addresses (host order), may be NULL */
	unsigned n_peers;		/* bcast or at least one peer is required */
	uint16_t port;			/* 0 = ELECTION_PORT */
	uint64_t interval_ns;		/* 0 = 100 ms */
	uint64_t dead_ns;		/* 0 = 600 ms; must be > 2 intervals */
	const uint8_t *key;		/* the cluster's shared secret (broker token); copied */
	size_t key_len;			/* >= 16 */
	const char *state_dir;		/* NULL = nothing persisted */
	const char *origin;		/* the broker and registration the state file must
					 * name (broker/creds/origin.h's line); NULL: any */
	struct election_adv adv;
	/* Called at the end of election_on_readable()/election_tick() when the role, the
	 * active gateway, its epoch or data, or the set of alive peers changed. May be NULL. */
	void (*on_change)(void *ctx);
	void *ctx;
};

struct election_peer {
	char node[ELECTION_NAME_MAX + 1];
	bool self;
	bool gateway_capable;
	bool active;		/* claims the active role (and wins: see election_active_peer) */
	uint64_t epoch;		/* active: its term; otherwise the highest epoch it has seen */
	uint32_t src_ip;	/* where its heartbeats come from (host order) */
	uint64_t last_ns;	/* when it was last heard (the caller's clock) */
	struct election_adv adv;
};

/* Opens the socket, reads the state file. NULL and errno (EINVAL for a bad config,
 * EADDRINUSE, ...). */
struct election *election_open(const struct election_cfg *cfg, uint64_t now_ns);
/* Closes the socket, wipes the key. Does not resign: a restart of the active gateway within
 * dead_ns reclaims the role without a failover. NULL-safe. */
void election_close(struct election *e);
int election_fd(const struct election *e);

/* Reads every pending datagram. */
void election_on_readable(struct election *e, uint64_t now_ns);
/* Sends the heartbeat when due, expires peers, applies the rules; returns the ns until it
 * must be called again. */
uint64_t election_tick(struct election *e, uint64_t now_ns);

bool election_is_active(const struct election *e);
/* The active gateway as this node sees it (self included): 0, or -ENOENT when none. */
int election_active_peer(const struct election *e, struct election_peer *out);
/* Fills up to max alive nodes, self first, then by name; returns how many there are
 * (may exceed max). */
unsigned election_peers(const struct election *e, struct election_peer *out, unsigned max);
/* Own epoch: the term while active, else the highest epoch seen. */
uint64_t election_epoch(const struct election *e);
/* Grows on every change reported through on_change. */
uint64_t election_generation(const struct election *e);
/* Raises the highest epoch known to at least min (e.g. the one the broker has stored), so
 * the next claim uses a larger one; an active gateway whose term is <= min takes min + 1
 * at once. 0 or -errno (state file). */
int election_set_min_epoch(struct election *e, uint64_t min) __attribute__((warn_unused_result));
/* Planned handover (shutdown for good, maintenance): stops being gateway-capable, steps
 * down and says so at once, so the next node takes over within one datagram instead of
 * dead_ns. Not for a restart: a restart of the active within dead_ns keeps the role. */
void election_resign(struct election *e, uint64_t now_ns);
/* A restart (SIGTERM to be started again): heartbeats now say so, and the others keep this
 * node, and its role, for ELECTION_RESTART_GRACE_NS instead of dead_ns; the state file
 * lets the restarted agent reclaim the role with the same epoch within that time. A node
 * that dies (kill -9, power) sends no such thing and fails over after dead_ns. */
void election_restarting(struct election *e, uint64_t now_ns);
/* A faster detector (liveness.c) says node has stopped: it is dead now, as if dead_ns had
 * passed (its next heartbeat makes it alive again), and the rules run. A node that said it
 * is restarting is left alone. */
void election_peer_lost(struct election *e, const char *node, uint64_t now_ns);
/* Replaces the advertised data (sent with the next heartbeat, which is sent at once). */
void election_set_adv(struct election *e, const struct election_adv *adv);

/* ---- the wire format (exposed for tests and the fuzz target) ---- */
#define ELECTION_MSG_MAX	1024
#define ELECTION_F_GATEWAY	(1U << 0)
#define ELECTION_F_ACTIVE	(1U << 1)
#define ELECTION_F_RESTART	(1U << 2)	/* stopping to restart: hold on a while */
/* How long the others keep a restarting node (and its role) alive without heartbeats. */
#define ELECTION_RESTART_GRACE_NS (10 * 1000000000ull)	/* 10 s */
/* Epochs: never above the largest integer JSON (and the broker) holds exactly; and one
 * heard more than ELECTION_EPOCH_JUMP above the highest this node knows is refused (a
 * node that starts with no state learns the epoch while it listens). */
#define ELECTION_EPOCH_MAX	((1ull << 53) - 1)
#define ELECTION_EPOCH_JUMP	1024
/* Liveness proofs per heartbeat: names asked to echo, nonces echoed. */
#define ELECTION_MAX_ASK	16
#define ELECTION_MAX_ECHO	16

struct election_msg {
	uint8_t flags;
	uint64_t epoch;
	uint64_t seq;
	char cluster_id[ELECTION_ID_MAX + 1];
	char node[ELECTION_NAME_MAX + 1];
	struct election_adv adv;
	/* Freshness (extension TLVs): the sender's random per-start nonce; the nodes it asks
	 * to echo its nonce (their name hashes); the nonces of nodes that asked it. A node
	 * believes a peer only once a heartbeat of the peer's current start echoed the
	 * believer's own current nonce, so a recorded heartbeat proves nothing after either
	 * side restarted. */
	uint64_t boot;
	uint8_t n_ask, n_echo;
	uint32_t ask[ELECTION_MAX_ASK];
	uint64_t echo[ELECTION_MAX_ECHO];
};

/* The name hash asks carry (FNV-1a, 32 bits: collisions only cost an echo). */
uint32_t election_name_hash(const char *node);

/* Encodes m and appends HMAC-SHA256(key); returns the length or -errno (-EINVAL for bad
 * names, -EMSGSIZE when cap is too small). */
int election_msg_encode(const struct election_msg *m, const uint8_t *key, size_t key_len,
			uint8_t *buf, size_t cap) __attribute__((warn_unused_result));
/* Strictly decodes a datagram (every length checked) without checking its HMAC: 0,
 * -EPROTONOSUPPORT (other version) or -EINVAL. */
int election_msg_decode(const uint8_t *buf, size_t len, struct election_msg *m)
	__attribute__((warn_unused_result));
/* Checks the HMAC of a datagram that election_msg_decode() accepted: 0 or -EBADMSG. */
int election_msg_verify(const uint8_t *buf, size_t len, const uint8_t *key, size_t key_len)
	__attribute__((warn_unused_result));

#endif
