/* Paged lists: the `continue` token of GET <collection>?limit=N&continue=T, the way the
 * Kubernetes API pages. The token is opaque to clients and verified by the server: it names
 * the resource, the revision the list started at and the last name sent, authenticated
 * with an HMAC under a key every replica derives from the admin token (so any replica
 * serves the next page). Parsed from untrusted query strings: fuzzed by
 * tests/fuzz/fuzz_continue.c. */
#ifndef SA_SRV_PAGE_H
#define SA_SRV_PAGE_H

#include <stddef.h>
#include <stdint.h>

#define SRV_PAGE_DEFAULT	500	/* items when a continue token comes without a limit */
#define SRV_PAGE_MAX		1000	/* a larger limit is lowered to this */
#define SRV_CONTINUE_MAX	400	/* longest token, NUL included */

struct srv_continue {
	unsigned res;		/* index in srv_resources */
	uint64_t rev;		/* the revision of the list's first page */
	char name[256];		/* the last name sent: the next page starts after it */
};

/* The token key from a secret (the admin token). */
void srv_continue_key(const char *secret, uint8_t key[32]);
/* Encodes c into out (base64url, no padding): 0, or -EINVAL (a name that is not a DNS
 * subdomain), -ENOSPC. */
int srv_continue_encode(const uint8_t key[32], const struct srv_continue *c, char *out,
			size_t len) __attribute__((warn_unused_result));
/* Decodes and verifies a token: 0, or -EINVAL (malformed, another version, a bad MAC, a
 * resource or name that is not valid). */
int srv_continue_decode(const uint8_t key[32], const char *tok, struct srv_continue *c)
	__attribute__((warn_unused_result));
/* A `limit` query value: 0 (absent), or 1..SRV_PAGE_MAX; -EINVAL when not a positive
 * decimal number. */
int srv_page_limit(const char *s, unsigned *out) __attribute__((warn_unused_result));

#endif
