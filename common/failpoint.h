/* Failpoints: named steps that tests make fail on purpose, through the environment
 * (the way etcd's gofail does), to check that the agent retries them.
 *     SUBAGENT_FAILPOINTS="ipsec-load-conn=1,other=3"
 * makes failpoint("ipsec-load-conn") true once, then false. Unset (every real deployment),
 * failpoint() is always false. What "fail" means is up to the step: it must fail the way
 * the real thing can (e.g. send charon a request it refuses), never skip work. */
#ifndef SA_FAILPOINT_H
#define SA_FAILPOINT_H

#include <stdbool.h>

/* True when the named failpoint has hits left (and uses one up). Thread-safe. */
bool failpoint(const char *name);

#endif
