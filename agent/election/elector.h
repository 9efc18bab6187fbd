/* The election on a thread of its own, for the node daemon: heartbeats never wait for the
 * engine (charon start, broker calls). Every call takes the elector's lock around the
 * election_*() call it wraps (see election.h for what each means). */
#ifndef SA_ELECTOR_H
#define SA_ELECTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/election/election.h"

struct elector;

/* Opens the election (cfg->on_change and cfg->ctx are the elector's own) and starts the
 * thread. NULL + errno. */
struct elector *elector_start(const struct election_cfg *cfg);
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
