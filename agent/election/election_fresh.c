/* Freshness of heartbeats across restarts (the rule in election.c): each start of a node
 * has a random nonce; a peer is believed once a heartbeat of its current start echoed ours.
 * This file: what a received heartbeat proves, and the asks and echoes a sent one carries. */
#include <inttypes.h>
#include <string.h>

#include "agent/election/election_types.h"
#include "common/log.h"

#define SOON_GAP_NS	10000000ull	/* an early heartbeat (ask, echo) at most this often */
#define ASK_FOR_NS	ELECTION_RESTART_GRACE_NS	/* how long an unproven start is asked */

/* Sends the next heartbeat now (or SOON_GAP_NS after the last one). */
static void soon(struct election *e, uint64_t now)
{
	uint64_t t = e->last_send_ns + SOON_GAP_NS;

	if (!e->last_send_ns || now >= t)
		t = now;
	if (t < e->next_send)
		e->next_send = t;
}

static bool asks_me(const struct election *e, const struct election_msg *m)
{
	for (unsigned i = 0; i < m->n_ask; i++)
		if (m->ask[i] == e->self_hash)
			return true;
	return false;
}

static bool echoes_me(const struct election *e, const struct election_msg *m)
{
	for (unsigned i = 0; i < m->n_echo; i++)
		if (m->echo[i] == e->boot)
			return true;
	return false;
}

static bool retired(const struct peer *p, uint64_t boot)
{
	for (unsigned i = 0; i < PEER_RETIRED; i++)
		if (p->retired[i] == boot)
			return true;
	return false;
}

bool election_fresh_accept(struct election *e, struct peer *p, const struct election_msg *m,
			   uint64_t now)
{
	if (!m->boot) {
		e->drops.unproven++;	/* a sender that cannot prove anything */
		return false;
	}
	if (m->n_ask && asks_me(e, m)) {
		p->ask_boot = m->boot;
		soon(e, now);
	}
	if (p->verified && p->boot == m->boot) {
		if (m->seq <= p->seq) {
			e->drops.replay++;	/* replayed, reordered, or sent both ways */
			return false;
		}
		return true;
	}
	/* A start we do not believe yet. One we saw end never comes back: its heartbeats
	 * may echo our nonce, but they are recordings. */
	if (!echoes_me(e, m) || retired(p, m->boot)) {
		if (p->pend_boot != m->boot && !retired(p, m->boot)) {
			pr_debug("election: %s hears %s (start %016" PRIx64 "), asks it for a proof\n",
				 e->node, m->node, m->boot);
			p->pend_boot = m->boot;
			soon(e, now);
		}
		p->pend_ns = now;
		e->drops.unproven++;
		return false;
	}
	if (p->verified) {
		pr_info("election: %s: %s started again (proven)\n", e->node, m->node);
		memmove(p->retired + 1, p->retired, (PEER_RETIRED - 1) * sizeof(p->retired[0]));
		p->retired[0] = p->boot;
	}
	p->verified = true;
	p->boot = m->boot;
	p->pend_boot = 0;
	p->seq = 0;
	return true;
}

void election_fresh_fill(struct election *e, struct election_msg *m, uint64_t now)
{
	m->boot = e->boot;
	m->n_ask = m->n_echo = 0;
	/* round robin over the table, so that every peer gets its turn when more are due
	 * than one heartbeat carries */
	for (unsigned k = 0, i; k < ELECTION_MAX_PEERS; k++) {
		struct peer *p = &e->peers[(i = (e->ask_rot + k) % ELECTION_MAX_PEERS)];

		if (!p->used || !p->pend_boot || now - p->pend_ns >= ASK_FOR_NS)
			continue;
		if (m->n_ask == ELECTION_MAX_ASK) {
			e->ask_rot = i;
			break;
		}
		m->ask[m->n_ask++] = election_name_hash(p->node);
	}
	for (unsigned k = 0, i; k < ELECTION_MAX_PEERS; k++) {
		struct peer *p = &e->peers[(i = (e->echo_rot + k) % ELECTION_MAX_PEERS)];

		if (!p->used || !p->ask_boot)
			continue;
		if (m->n_echo == ELECTION_MAX_ECHO) {
			e->echo_rot = i;
			break;
		}
		m->echo[m->n_echo++] = p->ask_boot;
		p->ask_boot = 0;	/* once: it asks again if it missed the answer */
	}
}
