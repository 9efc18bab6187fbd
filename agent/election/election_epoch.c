/* Epochs grow within a bound (the rule in election.c): what a proven heartbeat may
 * announce, and what a node that started knowing no epoch learns while it listens. */
#include <inttypes.h>
#include <stdlib.h>

#include "agent/election/election_types.h"
#include "common/log.h"

bool election_epoch_refused(struct election *e, const struct election_msg *m, uint64_t now)
{
	unsigned sup;

	if (m->epoch <= e->max_epoch + ELECTION_EPOCH_JUMP)
		return false;
	e->drops.epoch_jump++;
	if (!e->learning && election_ratelog_ok(&e->log_epoch, now, &sup))
		pr_warn("election: %s announces epoch %" PRIu64 ", more than %d above the highest"
			" we know (%" PRIu64 "): ignored (%u more not logged)\n", m->node, m->epoch,
			ELECTION_EPOCH_JUMP, e->max_epoch, sup);
	return true;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The end of a first listen: the lower median of the epochs proven peers announced (the
 * ones refused as jumps too). True when it raised ours past what we refused. */
bool election_epoch_learn(struct election *e, uint64_t now)
{
	uint64_t ep[ELECTION_MAX_PEERS], med;
	unsigned n = 0;
	bool refused = false;

	for (unsigned i = 0; i < ELECTION_MAX_PEERS; i++) {
		const struct peer *p = &e->peers[i];

		if (p->used && p->verified && p->heard_ns && now - p->heard_ns < e->dead_ns) {
			ep[n++] = p->heard_epoch;
			refused |= p->heard_epoch > e->max_epoch + ELECTION_EPOCH_JUMP;
		}
	}
	if (!n)
		return false;
	qsort(ep, n, sizeof(ep[0]), cmp_u64);
	med = ep[(n - 1) / 2];
	if (med <= e->max_epoch)
		return false;
	pr_info("election: %s learns epoch %" PRIu64 " from %u node(s)\n", e->node, med, n);
	election_raise_epoch(e, med);
	return refused;
}
