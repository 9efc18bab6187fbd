/* Secrets out of what `subagent gather` collects (see gather.h). Every text goes through
 * here before it is written: the cluster's own secrets by value, and whatever looks like
 * a secret by form, since logs and command output may hold secrets of others. */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/diag/gather.h"

#define MARK "<redacted>"

struct buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* Replaces every occurrence of each secret by MARK. */
static char *by_value(const char *in, size_t len, const char *const *secrets, unsigned n,
		      size_t *out_len)
{
	struct buf b = { 0 };
	size_t i = 0;

	put(&b, "", 0);
	while (i < len) {
		size_t best = 0;

		for (unsigned k = 0; k < n; k++) {
			size_t sl = secrets[k] ? strlen(secrets[k]) : 0;

			if (sl >= GATHER_SECRET_MIN && sl <= len - i && sl > best &&
			    !memcmp(in + i, secrets[k], sl))
				best = sl;
		}
		if (best) {
			put(&b, MARK, strlen(MARK));
			i += best;
		} else {
			put(&b, in + i, 1);
			i++;
		}
	}
	*out_len = b.len;
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

static bool word_is(const char *p, const char *end, const char *w)
{
	size_t n = strlen(w);

	return (size_t)(end - p) >= n && !strncasecmp(p, w, n);
}

/* After `key` (a JSON key, a "Bearer", an xfrm algorithm, a "secret ="...), the value
 * that follows is dropped. Returns how many bytes of the value to skip at p, 0 for none. */
static size_t value_len(const char *p, const char *end, bool quoted_only)
{
	const char *q = p;

	if (q < end && *q == '"') {
		for (q++; q < end && *q != '"' && *q != '\n'; q++)
			if (*q == '\\' && q + 1 < end)
				q++;
		return q < end && *q == '"' ? (size_t)(q + 1 - p) : 0;
	}
	if (quoted_only)
		return 0;
	while (q < end && !isspace((unsigned char)*q) && *q != '"' && *q != ',' && *q != '}' &&
	       *q != ';')
		q++;
	return (size_t)(q - p);
}

/* Names whose values are secrets, as JSON keys ("token": "...", and any key ending so:
 * "joinToken", "privateKey") or settings (psk = ...). */
static const char *const secret_keys[] = { "token", "psk", "secret", "password", "passphrase",
					   "privatekey", "private_key", "private-key", "key" };

static bool secret_name(const char *name, size_t nl, bool json)
{
	for (size_t k = 0; k < sizeof(secret_keys) / sizeof(secret_keys[0]); k++) {
		size_t l = strlen(secret_keys[k]);

		if (json ? nl >= l && !strncasecmp(name + nl - l, secret_keys[k], l) :
			   nl == l && !strncasecmp(name, secret_keys[k], l))
			return true;
	}
	return false;
}

/* At p (a double quote starting a JSON key, or a word): if it names a secret, how long
 * the name and what joins it to its value are; 0 otherwise. */
static size_t secret_key_at(const char *p, const char *end, bool *json)
{
	const char *q = p, *name;
	size_t nl;

	*json = *q == '"';
	name = q + *json;
	for (q = name; q < end && (isalnum((unsigned char)*q) || *q == '_' || *q == '-'); q++)
		;
	nl = (size_t)(q - name);
	if (*json && (q >= end || *q != '"'))
		return 0;
	if (!nl || !secret_name(name, nl, *json))
		return 0;
	q += *json;
	while (q < end && (*q == ' ' || *q == '\t'))
		q++;
	if (q >= end || (*q != ':' && *q != '='))
		return 0;
	for (q++; q < end && (*q == ' ' || *q == '\t'); q++)
		;
	return (size_t)(q - p);
}

/* Forms: PEM private keys, JSON/settings values named like secrets, bearer tokens, and
 * the keys `ip xfrm state` prints after an algorithm (enc, auth, auth-trunc, aead). */
static char *by_form(const char *in, size_t len, size_t *out_len)
{
	const char *p = in, *end = in + len;
	struct buf b = { 0 };

	put(&b, "", 0);
	while (p < end) {
		bool json, start = p == in || !isalnum((unsigned char)p[-1]);
		size_t k = start ? secret_key_at(p, end, &json) : 0, v;

		if (word_is(p, end, "-----BEGIN ")) {
			const char *eol = memchr(p, '\n', (size_t)(end - p));
			const char *stop = eol ? eol : end;

			if (memmem(p, (size_t)(stop - p), "PRIVATE KEY-----", 16)) {
				const char *e = memmem(p, (size_t)(end - p), "-----END ", 9);
				const char *e2 = e ? memmem(e, (size_t)(end - e), "KEY-----", 8) : NULL;

				put(&b, "-----BEGIN PRIVATE KEY-----" MARK "-----END PRIVATE KEY-----",
				    strlen("-----BEGIN PRIVATE KEY-----" MARK "-----END PRIVATE KEY-----"));
				p = e2 ? e2 + 8 : end;
				continue;
			}
		}
		if (k && (v = value_len(p + k, end, json))) {
			put(&b, p, k);
			put(&b, json ? "\"" MARK "\"" : MARK, strlen(MARK) + (json ? 2 : 0));
			p += k + v;
			continue;
		}
		if (start && (word_is(p, end, "bearer ") || word_is(p, end, "bearer\t"))) {
			put(&b, p, 7);
			p += 7;
			v = value_len(p, end, false);
			if (v)
				put(&b, MARK, strlen(MARK));
			p += v;
			continue;
		}
		/* ip xfrm state: "\tenc cbc(aes) 0x0123..." / "\taead rfc4106(gcm(aes)) 0x... 128" */
		if (start && (word_is(p, end, "enc ") || word_is(p, end, "auth ") ||
			      word_is(p, end, "auth-trunc ") || word_is(p, end, "aead "))) {
			const char *eol = memchr(p, '\n', (size_t)(end - p));
			const char *stop = eol ? eol : end;
			const char *hx = memmem(p, (size_t)(stop - p), " 0x", 3);

			if (hx) {
				const char *h = hx + 3;

				while (h < stop && isxdigit((unsigned char)*h))
					h++;
				put(&b, p, (size_t)(hx + 1 - p));
				put(&b, MARK, strlen(MARK));
				p = h;
				continue;
			}
		}
		put(&b, p, 1);
		p++;
	}
	*out_len = b.len;
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

char *gather_redact(const char *in, size_t len, const char *const *secrets, unsigned n,
		    size_t *out_len)
{
	size_t l1;
	char *a = by_value(in, len, secrets, n, &l1), *b;

	if (!a)
		return NULL;
	b = by_form(a, l1, out_len);
	free(a);
	return b;
}
