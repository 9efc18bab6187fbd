/* The election's state, shared by election.c (the socket and the rules) and
 * election_peers.c (its answers). Not a public interface. */
#ifndef SA_ELECTION_TYPES_H
#define SA_ELECTION_TYPES_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/election/election.h"
#include "agent/election/election_int.h"

enum role { ROLE_LISTEN, ROLE_STANDBY, ROLE_ACTIVE };

#define PEER_RETIRED 4

struct peer {
	char node[ELECTION_NAME_MAX + 1];
	bool used, alive;
	uint8_t flags;
	uint64_t epoch, seq, last_ns;
	uint32_t src;
	struct election_adv adv;
	/* freshness: the start (boot nonce) of it we believe, once it echoed our nonce */
	bool verified;
	uint64_t boot;
	uint64_t pend_boot, pend_ns;	/* a start heard but not proven yet: we ask it */
	uint64_t ask_boot;		/* it asked us: echo this nonce once */
	uint64_t retired[PEER_RETIRED];	/* starts of it that ended: never believed again */
	uint64_t heard_epoch, heard_ns;	/* its last proven epoch, even one refused */
};

struct ratelog {
	uint64_t last_ns;
	unsigned suppressed;
};

struct election {
	int fd;
	char cluster_id[ELECTION_ID_MAX + 1];
	char node[ELECTION_NAME_MAX + 1];
	bool gateway;
	uint32_t node_ip, bcast;
	uint32_t *dsts;
	unsigned n_dsts;
	uint16_t port;
	uint64_t interval_ns, dead_ns;
	bool restarting;
	uint8_t key[32];
	char state_path[PATH_MAX];
	char origin[200];		/* ELECTION_ORIGIN_MAX; "" when not checked */
	struct election_adv adv;
	void (*on_change)(void *ctx);
	void *ctx;
	void (*hook)(void *ctx, const struct election_msg *m);
	void *hook_ctx;

	uint64_t boot;		/* our nonce of this start (never 0) */
	uint32_t self_hash;	/* election_name_hash(node) */
	bool learning;		/* started with no epoch known: learns it while listening */
	unsigned ask_rot, echo_rot;	/* round robin when there are too many to fit */
	uint64_t last_send_ns;

	enum role role;
	uint64_t listen_until;
	uint64_t epoch;		/* own term while active */
	uint64_t max_epoch;	/* highest epoch ever seen or used (persisted) */
	uint64_t seq, seq_hw;	/* next sequence; reserved up to seq_hw (persisted) */
	uint64_t next_send, now;
	struct peer peers[ELECTION_MAX_PEERS];

	/* what the last notification reported, to detect changes */
	uint64_t gen;
	bool changed;
	char seen_active[ELECTION_NAME_MAX + 1];
	uint64_t seen_epoch;
	struct election_adv seen_adv;
	enum role seen_role;

	struct election_drops drops;
	struct ratelog log_mac, log_send, log_dup, log_full, log_version, log_epoch;
};

/* The alive claimant that wins (highest epoch, then the lower name), or NULL. */
const struct peer *election_best_claimant(const struct election *e);
/* election_fresh.c: may m (from p's node, p->used) be believed? Notes what it asks of us.
 * false: drop it (counted). */
bool election_fresh_accept(struct election *e, struct peer *p, const struct election_msg *m,
			   uint64_t now);
/* Our nonce, asks and echoes into the heartbeat about to be sent. */
void election_fresh_fill(struct election *e, struct election_msg *m, uint64_t now);
/* election_epoch.c: is m's epoch more than ELECTION_EPOCH_JUMP above ours (counted,
 * logged unless learning)? */
bool election_epoch_refused(struct election *e, const struct election_msg *m, uint64_t now);
/* At the end of a first listen: learns the epoch. True when it raised ours past epochs
 * it had refused (listen a little longer to hear those peers again). */
bool election_epoch_learn(struct election *e, uint64_t now);
/* election.c: raises the highest epoch known (persisted). */
void election_raise_epoch(struct election *e, uint64_t ep);
/* True when a warning may be logged now; counts the suppressed ones. */
bool election_ratelog_ok(struct ratelog *r, uint64_t now, unsigned *suppressed);

#endif
