/* The election's answers: the role, the active gateway and the alive nodes as this node
 * sees them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/election/election.h"
#include "agent/election/election_types.h"

bool election_is_active(const struct election *e)
{
	return e->role == ROLE_ACTIVE;
}

static void self_peer(const struct election *e, struct election_peer *o)
{
	memset(o, 0, sizeof(*o));
	strcpy(o->node, e->node);
	o->self = true;
	o->gateway_capable = e->gateway;
	o->active = e->role == ROLE_ACTIVE;
	o->epoch = election_epoch(e);
	o->src_ip = e->node_ip;
	o->last_ns = e->now;
	o->adv = e->adv;
}

static void peer_out(const struct peer *p, const struct peer *winner, struct election_peer *o)
{
	memset(o, 0, sizeof(*o));
	strcpy(o->node, p->node);
	o->gateway_capable = p->flags & ELECTION_F_GATEWAY;
	o->active = p == winner;
	o->epoch = p->epoch;
	o->src_ip = p->src;
	o->last_ns = p->last_ns;
	o->adv = p->adv;
}

int election_active_peer(const struct election *e, struct election_peer *out)
{
	const struct peer *best;

	if (e->role == ROLE_ACTIVE) {
		self_peer(e, out);
		return 0;
	}
	best = election_best_claimant(e);
	if (!best)
		return -ENOENT;
	peer_out(best, best, out);
	return 0;
}

static int cmp_peer(const void *a, const void *b)
{
	return strcmp(((const struct election_peer *)a)->node,
		      ((const struct election_peer *)b)->node);
}

unsigned election_peers(const struct election *e, struct election_peer *out, unsigned max)
{
	const struct peer *winner = e->role == ROLE_ACTIVE ? NULL : election_best_claimant(e);
	unsigned n = 0;

	if (max > 0)
		self_peer(e, &out[0]);
	n = 1;
	for (unsigned i = 0; i < ELECTION_MAX_PEERS; i++) {
		const struct peer *p = &e->peers[i];

		if (!p->used || !p->alive)
			continue;
		if (n < max)
			peer_out(p, winner, &out[n]);
		n++;
	}
	if (max > 1)
		qsort(out + 1, (n < max ? n : max) - 1, sizeof(*out), cmp_peer);
	return n;
}

uint64_t election_epoch(const struct election *e)
{
	return e->role == ROLE_ACTIVE ? e->epoch : e->max_epoch;
}

uint64_t election_generation(const struct election *e)
{
	return e->gen;
}
