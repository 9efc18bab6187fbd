/* The election on a thread of its own, for the node daemon: heartbeats and liveness probes
 * never wait for the engine (charon start, broker calls). Every call takes the elector's
 * lock around the election_*() call it wraps (see election.h for what each means). */
#ifndef SA_ELECTOR_H
#define SA_ELECTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/election/election.h"

struct elector;

#define ELECTOR_RT_PRIO 10	/* SCHED_FIFO priority of the election's thread */

struct elector_opts {
	uint64_t liveness_interval_ns;	/* 0: LIVENESS_INTERVAL_NS; UINT64_MAX: no probes */
	unsigned liveness_mult;		/* 0: LIVENESS_MULT */
	bool no_realtime;		/* leave the thread at normal priority */
};

/* Opens the election (cfg->on_change and cfg->ctx are the elector's own) and its liveness
 * probes (agent/election/liveness.h, on cfg->port + 1), and starts the thread, with
 * real-time priority where allowed. o may be NULL (defaults). NULL + errno. */
struct elector *elector_start(const struct election_cfg *cfg, const struct elector_opts *o);
/* Stops the thread and closes the election (no resignation). NULL-safe. */
void elector_stop(struct elector *el);

/* Readable when the election reported a change; elector_changed() clears it and says
 * whether there was one. */
int elector_fd(const struct elector *el);
bool elector_changed(struct elector *el);

/* active_out (may be NULL): the active gateway when there is one; returns whether this
 * node is it. *have_active says whether there is one. */
bool elector_role(struct elector *el, struct election_peer *active_out, bool *have_active);
uint64_t elector_epoch(struct elector *el);
unsigned elector_peers(struct elector *el, struct election_peer *out, unsigned max);
void elector_set_adv(struct elector *el, const struct election_adv *adv);
int elector_set_min_epoch(struct elector *el, uint64_t min) __attribute__((warn_unused_result));
void elector_restarting(struct elector *el);

#endif
