/* Fast failure detection between gateway-capable nodes, BFD-like and separate from the
 * election's heartbeats: the active gateway sends a small authenticated probe to every
 * alive gateway-capable node every interval (20 ms); a standby that has heard its probes
 * and then misses multiplier (5) of them in a row tells the election the active gateway is
 * gone (election_peer_lost()), so a standby takes over after ~100 ms instead of the
 * heartbeats' 600 ms. A probe that says "restarting" (SIGTERM) is never declared lost: a
 * restart is not a failover. Arrival times come from the kernel (SO_TIMESTAMPNS): a
 * receiver that was not scheduled for a while reads the probes that queued meanwhile
 * before it judges, so load on the receiving node is not a missed probe. The sender's
 * thread runs with real-time priority where allowed (see elector.c). Where a node stalls
 * anyway (an overcommitted VM), false alarms make the detection slower (damping below).
 *
 * Single-threaded, called with the election (whose peer table it reads) locked. */
#ifndef SA_LIVENESS_H
#define SA_LIVENESS_H

#include <stddef.h>
#include <stdint.h>

#include "agent/election/election.h"

#define LIVENESS_PORT		(ELECTION_PORT + 1)
#define LIVENESS_INTERVAL_NS	(20 * 1000000ull)
#define LIVENESS_MULT		5
#define LIVENESS_MSG_MAX	512
/* Damping: a node declared lost whose probes come back within LIVENESS_FLAP_NS was not
 * gone (a false alarm: it stalled); the detection time then doubles, at most to
 * LIVENESS_MAX_MULT intervals (the heartbeats' dead time at the defaults), and halves
 * again after each LIVENESS_CALM_NS without a false alarm. */
#define LIVENESS_MAX_MULT	30
#define LIVENESS_FLAP_NS	(2 * 1000000000ull)
#define LIVENESS_CALM_NS	(60 * 1000000000ull)

struct liveness;

struct liveness_cfg {
	const char *cluster_id;		/* as in election_cfg */
	const char *node;
	uint32_t node_ip;		/* probes are sent from and received on it */
	uint16_t port;			/* 0: LIVENESS_PORT */
	uint64_t interval_ns;		/* 0: LIVENESS_INTERVAL_NS */
	unsigned multiplier;		/* 0: LIVENESS_MULT */
	const uint8_t *key;		/* the cluster's shared secret (copied, derived) */
	size_t key_len;			/* >= 16 */
};

/* Opens the socket. NULL + errno. */
struct liveness *liveness_open(const struct liveness_cfg *cfg);
void liveness_close(struct liveness *l);	/* NULL-safe; wipes the key */
int liveness_fd(const struct liveness *l);

/* Reads every pending probe. */
void liveness_on_readable(struct liveness *l, uint64_t now_ns);
/* Judges the active gateway (may call election_peer_lost()), sends our probes when due
 * (when this node is the active gateway); returns ns until it must be called again. */
uint64_t liveness_tick(struct liveness *l, struct election *e, uint64_t now_ns);
/* How long a standby now waits without probes before it declares the active gone. */
uint64_t liveness_detection_ns(const struct liveness *l);
/* This node stops to be restarted: its probes say so from now on. */
void liveness_restarting(struct liveness *l);

/* ---- the wire format (exposed for tests and the fuzz target) ---- */
#define LIVENESS_F_ACTIVE	(1U << 0)
#define LIVENESS_F_RESTART	(1U << 1)

struct liveness_msg {
	uint8_t flags;
	uint64_t epoch;			/* the sender's term */
	uint64_t seq;			/* grows with every probe, across restarts */
	char cluster_id[ELECTION_ID_MAX + 1];
	char node[ELECTION_NAME_MAX + 1];
};

/* Encodes m and appends HMAC-SHA256(key) (key: 32 bytes, liveness_derive_key()). Returns
 * the length or -errno (-EINVAL bad names, -EMSGSIZE cap too small). */
int liveness_msg_encode(const struct liveness_msg *m, const uint8_t key[32], uint8_t *buf,
			size_t cap) __attribute__((warn_unused_result));
/* Strictly decodes and authenticates a datagram: 0, -EINVAL (malformed),
 * -EPROTONOSUPPORT (other version), -EBADMSG (bad HMAC). */
int liveness_msg_decode(const uint8_t *buf, size_t len, const uint8_t key[32],
			struct liveness_msg *m) __attribute__((warn_unused_result));
/* The probes' HMAC key, derived from the cluster secret (not the heartbeats' key). */
void liveness_derive_key(const uint8_t *secret, size_t len, uint8_t out[32]);

#endif
