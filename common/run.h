/* Running a program and taking its output: for the commands whose output is the product
 * (nft's ruleset, ip's tables for `subagent gather`), not for configuring anything. */
#ifndef SA_RUN_H
#define SA_RUN_H

#include <stddef.h>

#define RUN_F_STDERR	(1U << 0)	/* stderr into the same output (else /dev/null) */

/* Runs argv (argv[0] searched in PATH) with stdin from /dev/null and waits at most
 * timeout_ms (then SIGKILL). *out gets at most max bytes of its output, NUL-terminated
 * (malloc'd; the caller frees), *len its length. Returns the exit status (0..255), or
 * -ETIMEDOUT, -ENOENT (no such program), other -errno; *out is set in every case but
 * -ENOMEM. */
int run_capture(char *const argv[], unsigned flags, size_t max, int timeout_ms, char **out,
		size_t *len) __attribute__((warn_unused_result));

#endif
