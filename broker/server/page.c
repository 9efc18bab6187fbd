/* The continue token of paged lists (see page.h).
 *
 * Bytes, base64url-encoded without padding:
 *   0  u8 version (1)   1  u8 resource index   2  u64 revision (big endian)
 *  10  u8 n, name[n]    then the first 16 bytes of HMAC-SHA256(key, every byte before). */
#include "broker/server/page.h"

#include <errno.h>
#include <string.h>

#include <gnutls/crypto.h>

#include "broker/server/objects.h"
#include "common/name.h"
#include "common/util.h"

#define TOK_VERSION	1
#define TOK_FIXED	11
#define TOK_MAC		16
#define TOK_BYTES_MAX	(TOK_FIXED + 255 + TOK_MAC)

static const char b64u[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void srv_continue_key(const char *secret, uint8_t key[32])
{
	static const char label[] = "subagent continue v1";

	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, secret, strlen(secret), label, sizeof(label) - 1,
			     key) < 0)
		memset(key, 0, 32);
}

static int mac(const uint8_t key[32], const uint8_t *p, size_t n, uint8_t out[TOK_MAC])
{
	uint8_t full[32];

	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, 32, p, n, full) < 0)
		return -EIO;
	memcpy(out, full, TOK_MAC);
	return 0;
}

static int b64u_val(char c)
{
	const char *p = c ? strchr(b64u, c) : NULL;

	return p ? (int)(p - b64u) : -1;
}

int srv_continue_encode(const uint8_t key[32], const struct srv_continue *c, char *out,
			size_t len)
{
	uint8_t b[TOK_BYTES_MAX];
	size_t n = strnlen(c->name, sizeof(c->name)), off = 0;
	unsigned acc = 0, bits = 0;

	if (!name_is_dns_subdomain(c->name) || c->res >= srv_n_resources)
		return -EINVAL;
	b[off++] = TOK_VERSION;
	b[off++] = (uint8_t)c->res;
	for (int i = 7; i >= 0; i--)
		b[off++] = (uint8_t)(c->rev >> (8 * i));
	b[off++] = (uint8_t)n;
	memcpy(b + off, c->name, n);
	off += n;
	if (mac(key, b, off, b + off))
		return -EIO;
	off += TOK_MAC;
	if ((off * 8 + 5) / 6 + 1 > len)
		return -ENOSPC;
	for (size_t i = 0; i < off; i++) {
		acc = (acc << 8 | b[i]) & 0xffff;
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			*out++ = b64u[(acc >> bits) & 63];
		}
	}
	if (bits)
		*out++ = b64u[(acc << (6 - bits)) & 63];
	*out = '\0';
	return 0;
}

int srv_continue_decode(const uint8_t key[32], const char *tok, struct srv_continue *c)
{
	uint8_t b[TOK_BYTES_MAX], want[TOK_MAC];
	size_t n = tok ? strnlen(tok, SRV_CONTINUE_MAX) : SRV_CONTINUE_MAX, k = 0, nl;
	unsigned acc = 0, bits = 0, diff = 0;

	memset(c, 0, sizeof(*c));
	if (n == 0 || n >= SRV_CONTINUE_MAX || n % 4 == 1)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int v = b64u_val(tok[i]);

		if (v < 0)
			return -EINVAL;
		acc = (acc << 6 | (unsigned)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (k == sizeof(b))
				return -EINVAL;
			b[k++] = (uint8_t)(acc >> bits);
		}
	}
	/* the unused low bits of the last character must be zero (one encoding per token) */
	if (bits && (acc & ((1u << bits) - 1)))
		return -EINVAL;
	if (k < TOK_FIXED + 1 + TOK_MAC || b[0] != TOK_VERSION)
		return -EINVAL;
	nl = b[10];
	if (k != TOK_FIXED + nl + TOK_MAC)
		return -EINVAL;
	if (mac(key, b, k - TOK_MAC, want))
		return -EINVAL;
	for (size_t i = 0; i < TOK_MAC; i++)
		diff |= (unsigned)(want[i] ^ b[k - TOK_MAC + i]);
	if (diff)
		return -EINVAL;
	if (b[1] >= srv_n_resources || nl >= sizeof(c->name))
		return -EINVAL;
	c->res = b[1];
	for (int i = 2; i < 10; i++)
		c->rev = c->rev << 8 | b[i];
	memcpy(c->name, b + TOK_FIXED, nl);
	c->name[nl] = '\0';
	if (c->rev > INT64_MAX || !name_is_dns_subdomain(c->name))
		return -EINVAL;
	return 0;
}

int srv_page_limit(const char *s, unsigned *out)
{
	uint64_t v;

	*out = 0;
	if (!s)
		return 0;
	if (util_parse_u64(s, UINT32_MAX, &v) || v == 0)
		return -EINVAL;
	*out = v > SRV_PAGE_MAX ? SRV_PAGE_MAX : (unsigned)v;
	return 0;
}
