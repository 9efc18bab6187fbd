/* Internal entry points of the election, for the rule tests: they drive the state machine
 * with synthetic, already authenticated messages and a fake clock, without a socket. */
#ifndef SA_ELECTION_INT_H
#define SA_ELECTION_INT_H

#include "agent/election/election.h"

/* Like election_open() but without a socket: heartbeats go to the send hook only. */
struct election *election_open_nosock(const struct election_cfg *cfg, uint64_t now_ns);
/* Every heartbeat this node sends is also passed to fn (the socket, if any, still sends). */
void election_set_send_hook(struct election *e,
			    void (*fn)(void *ctx, const struct election_msg *m), void *ctx);
/* Feeds one authenticated message from src (host order) as if it had arrived at now_ns,
 * then applies the rules. */
void election_input(struct election *e, const struct election_msg *m, uint32_t src,
		    uint64_t now_ns);
/* The HMAC key heartbeats use, derived from the cluster secret. */
void election_derive_key(const uint8_t *secret, size_t len, uint8_t out[32]);
/* Counters of dropped datagrams, for the tests. */
struct election_drops {
	uint64_t malformed, version, other_cluster, bad_mac, replay, self_echo;
	uint64_t unproven;	/* from a start of the sender that has not echoed our nonce */
	uint64_t epoch_jump;	/* an epoch more than ELECTION_EPOCH_JUMP above ours */
};
void election_get_drops(const struct election *e, struct election_drops *out);
/* This start's nonce (what a peer's heartbeat must echo to be believed). */
uint64_t election_boot(const struct election *e);
/* A liar, for tests: claims the active role with the given epoch at once, past every rule. */
void election_force_claim(struct election *e, uint64_t epoch, uint64_t now_ns);

#endif
