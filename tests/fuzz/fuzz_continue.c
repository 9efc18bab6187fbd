/* libFuzzer target: the continue token of paged lists (broker/server/page.c), read from any
 * client's query string. First byte even: the rest is a token to decode; a token that
 * decodes must encode back to the same string (one encoding per token). Odd: the rest
 * gives a resource, a revision and a name to encode; the token must decode to them, and the
 * same token with one character changed must not decode. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/server/objects.h"
#include "broker/server/page.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t key[32];
	static int have_key;
	struct srv_continue c, d;
	char in[SRV_CONTINUE_MAX + 16], tok[SRV_CONTINUE_MAX];
	size_t n;

	if (!have_key) {
		srv_continue_key("the fuzz target's admin token, 32 characters or more", key);
		have_key = 1;
	}
	if (size < 1)
		return 0;
	n = size - 1 < sizeof(in) - 1 ? size - 1 : sizeof(in) - 1;
	memcpy(in, data + 1, n);
	in[n] = '\0';
	if (!(data[0] & 1)) {
		if (srv_continue_decode(key, in, &c) == 0) {
			if (c.res >= srv_n_resources || srv_continue_encode(key, &c, tok, sizeof(tok)) ||
			    strcmp(tok, in))
				abort();
		}
		return 0;
	}
	if (n < 9)
		return 0;
	memset(&c, 0, sizeof(c));
	c.res = (unsigned char)in[0] % srv_n_resources;
	for (int i = 1; i < 9; i++)
		c.rev = c.rev << 8 | (unsigned char)in[i];
	c.rev &= INT64_MAX;
	snprintf(c.name, sizeof(c.name), "%s", in + 9);
	if (srv_continue_encode(key, &c, tok, sizeof(tok)))
		return 0;	/* not a DNS name */
	if (srv_continue_decode(key, tok, &d) || d.res != c.res || d.rev != c.rev ||
	    strcmp(d.name, c.name))
		abort();
	tok[c.rev % strlen(tok)] ^= 1;
	if (strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == strlen(tok) &&
	    srv_continue_decode(key, tok, &d) == 0)
		abort();
	return 0;
}
