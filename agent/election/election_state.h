/* The election's state file, STATE/election.state: what a restarted node needs to reclaim
 * its role without a failover and to keep its sequence numbers above the old ones. It
 * names the broker and registration it was written for (broker/creds/origin.h); a file
 * written for another one is discarded. */
#ifndef SA_ELECTION_STATE_H
#define SA_ELECTION_STATE_H

#include <stdbool.h>
#include <stdint.h>

#define ELECTION_ORIGIN_MAX 200

struct election_state {
	bool active;		/* this node was the active gateway */
	uint64_t epoch;		/* its term, or the highest epoch it had seen */
	uint64_t seq;		/* sequence numbers are reserved up to here */
	bool restarting;	/* it stopped to be restarted (SIGTERM) */
	char origin[ELECTION_ORIGIN_MAX];	/* the broker and registration, "" if none */
};

/* Writes the file atomically. 0 or -errno (logged). */
int election_state_write(const char *path, const struct election_state *st)
	__attribute__((warn_unused_result));
/* Sets the file's mtime to now: the freshness the restart rule checks. */
void election_state_touch(const char *path);
/* Reads the file (a missing or malformed one, or one written for another origin than
 * origin when that is not NULL, reads as all zero). *fresh: it says active and was
 * touched less than dead_ns ago (the restart grace period when it announced a restart).
 * 0 or -errno. */
int election_state_read(const char *path, const char *origin, uint64_t dead_ns,
			struct election_state *st, bool *fresh) __attribute__((warn_unused_result));

#endif
