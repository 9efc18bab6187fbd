/* A step the agent keeps converging (a route, a connection, a device): whether its last
 * attempt failed, why, how many times in a row, and when to try again (exponential
 * backoff). The status file and the GatewayStatus list every step that has not converged
 * (retry_report()). Plain data: embed one per step, zeroed means "fine, due at once". */
#ifndef SA_RETRY_H
#define SA_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define RETRY_FIRST_NS	250000000ull		/* 250 ms */
#define RETRY_MAX_NS	(30 * 1000000000ull)	/* 30 s */

struct retry {
	int err;		/* 0: converged (or never tried); -errno of the last attempt */
	char why[160];		/* what failed and how, for the status; "" when err is 0 */
	unsigned attempts;	/* failed attempts in a row */
	uint64_t since_ns;	/* the first failure of this row */
	uint64_t next_ns;	/* no attempt before this */
	uint64_t backoff_ns;
	uint64_t first_ns, max_ns;	/* the backoff's bounds; 0: RETRY_FIRST_NS, RETRY_MAX_NS */
};

/* The step succeeded: forgets the failures (not the bounds). Returns whether it had
 * failed before. */
bool retry_ok(struct retry *r);
/* The step failed at now with err (-errno, not 0): the next attempt is due after a delay
 * that doubles from RETRY_FIRST_NS to RETRY_MAX_NS. why says what failed (printf). */
void retry_fail(struct retry *r, uint64_t now, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Whether an attempt is due: never failed, or its backoff has passed. */
bool retry_due(const struct retry *r, uint64_t now);
/* Makes the next attempt due at once (an event says it may work now). */
void retry_now(struct retry *r);
/* When the step has failed: appends {"what", "error", "attempts", "failing_s",
 * "next_try_ms"} to arr (what names the step). Nothing when it is converged. */
void retry_report(const struct retry *r, uint64_t now, cJSON *arr, const char *what);

#endif
