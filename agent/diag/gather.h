/* `subagent gather`: one tarball with what a bug report needs from a node: the agent's and
 * charon's logs, its state files and status, charon's SAs and connections, the node's
 * addresses, links, routes, rules, XFRM state and policies, nft tables, tc filters and BPF
 * programs and maps (globalnet's counters), and this cluster's objects in the broker.
 * Secrets are removed from every file before it is written (gather_redact), and the
 * secret files themselves (token, PSK, keys) are never read into it. */
#ifndef SA_GATHER_H
#define SA_GATHER_H

#include <stdbool.h>
#include <stddef.h>

struct gather_opts {
	const char *config_dir;		/* written by `subagent join` */
	const char *state_dir;		/* NULL: /var/lib/subagent/<hostname> */
	const char *const *logs;	/* the agent's log files; none: journalctl when present */
	unsigned n_logs;
	const char *out;		/* the tarball; NULL: ./subagent-gather-CLUSTER-NODE-TIME.tar.gz */
	bool no_broker;			/* do not ask the broker */
	void (*progress)(const char *what);	/* may be NULL */
};

/* Writes the tarball (mode 0600); its path into path. 0 or -errno with err set. */
int gather_run(const struct gather_opts *o, char *path, size_t len, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Secrets shorter than this are not looked for by value (they would match by chance). */
#define GATHER_SECRET_MIN 8
/* A copy of text (len bytes) with each of the n secrets (by value) and whatever has the
 * form of a secret (PEM private keys, values of JSON keys or settings named token, psk,
 * secret, password, key..., bearer tokens, the keys `ip xfrm state` prints) replaced by
 * "<redacted>". Malloc'd and NUL-terminated; NULL on ENOMEM. */
char *gather_redact(const char *text, size_t len, const char *const *secrets, unsigned n,
		    size_t *out_len);

#endif
