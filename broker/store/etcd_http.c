/* The etcd store's requests to etcd's JSON gateway (libcurl, over TLS with a client
 * certificate unless the store was named etcd+http://) and the encodings it needs. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/store/etcd_int.h"
#include "common/log.h"

/* ---- base64 ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *etcd_b64_enc(const char *s, size_t n)
{
	char *o = malloc((n + 2) / 3 * 4 + 1), *p = o;

	if (!o)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)(unsigned char)s[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)(unsigned char)s[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)s[i + 2];
		*p++ = b64[v >> 18];
		*p++ = b64[(v >> 12) & 63];
		*p++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		*p++ = i + 2 < n ? b64[v & 63] : '=';
	}
	*p = '\0';
	return o;
}

static int b64_val(char c)
{
	const char *p = c ? strchr(b64, c) : NULL;

	return p ? (int)(p - b64) : -1;
}

/* NUL-terminated decoded bytes, NULL on bad input. */
char *etcd_b64_dec(const char *s, size_t *len)
{
	size_t n = strlen(s), k = 0;
	char *o = malloc(n / 4 * 3 + 1);
	uint32_t acc = 0;
	int bits = 0;

	if (!o)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int v;

		if (s[i] == '=')
			break;
		v = b64_val(s[i]);
		if (v < 0) {
			free(o);
			return NULL;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[k++] = (char)(acc >> bits);
		}
	}
	o[k] = '\0';
	if (len)
		*len = k;
	return o;
}

/* ---- JSON helpers for etcd's answers ---- */

uint64_t etcd_j_u64(const cJSON *o, const char *f)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, f);

	if (cJSON_IsString(v))
		return strtoull(v->valuestring, NULL, 10);
	if (cJSON_IsNumber(v) && v->valuedouble > 0)
		return (uint64_t)v->valuedouble;
	return 0;
}

char *etcd_j_b64(const cJSON *o, const char *f)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, f);

	return etcd_b64_dec(cJSON_IsString(v) ? v->valuestring : "", NULL);
}

int etcd_add_b64(cJSON *o, const char *f, const char *s)
{
	char *e = etcd_b64_enc(s, strlen(s));
	int ok = e && cJSON_AddStringToObject(o, f, e);

	free(e);
	return ok ? 0 : -ENOMEM;
}

/* The key just after every key starting with s (etcd's range_end for a prefix). */
void etcd_prefix_end(const char *s, char *out, size_t len)
{
	snprintf(out, len, "%s", s);
	out[strlen(out) - 1]++;
}

/* ---- HTTP ---- */

void etcd_url(const struct etcd *e, unsigned ep, const char *path, char *out, size_t len)
{
	snprintf(out, len, "%s://%s%s", e->tls ? "https" : "http", e->ep[ep], path);
}

void etcd_curl_tls(const struct etcd *e, CURL *c)
{
	if (!e->tls)
		return;
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_CAINFO, e->ca);
	curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c, CURLOPT_SSLCERT, e->cert);
	curl_easy_setopt(c, CURLOPT_SSLKEY, e->key);
}

size_t etcd_buf_write(char *data, size_t sz, size_t nm, void *ud)
{
	struct etcd_buf *b = ud;
	size_t n = sz * nm;

	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *np;

		while (cap < b->n + n + 1)
			cap *= 2;
		if (cap > RESP_MAX)
			return 0;
		np = realloc(b->p, cap);
		if (!np)
			return 0;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->n, data, n);
	b->n += n;
	b->p[b->n] = '\0';
	return n;
}

static CURL *handle_get(struct etcd *e, struct handle **h)
{
	pthread_mutex_lock(&e->lock);
	*h = e->free;
	if (*h)
		e->free = (*h)->next;
	pthread_mutex_unlock(&e->lock);
	if (!*h) {
		*h = calloc(1, sizeof(**h));
		if (!*h)
			return NULL;
		(*h)->c = curl_easy_init();
		if (!(*h)->c) {
			free(*h);
			*h = NULL;
			return NULL;
		}
	}
	return (*h)->c;
}

static void handle_put(struct etcd *e, struct handle *h)
{
	pthread_mutex_lock(&e->lock);
	h->next = e->free;
	e->free = h;
	pthread_mutex_unlock(&e->lock);
}

static bool unreachable(CURLcode rc)
{
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
	       rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING;
}

/* POSTs a JSON body to one of the endpoints; *out is the parsed answer. 0 or -EIO. */
int etcd_post(struct etcd *e, const char *path, cJSON *body, cJSON **out)
{
	char *s = cJSON_PrintUnformatted(body), url[300];
	struct handle *h;
	CURL *c = s ? handle_get(e, &h) : NULL;
	struct etcd_buf b = { 0 };
	struct curl_slist *hdr = NULL;
	CURLcode rc = CURLE_OK;
	long code = 0;
	unsigned start;
	int err = -EIO;

	*out = NULL;
	if (!c) {
		free(s);
		return -ENOMEM;
	}
	hdr = curl_slist_append(NULL, "Content-Type: application/json");
	pthread_mutex_lock(&e->lock);
	start = e->cur;
	pthread_mutex_unlock(&e->lock);
	for (unsigned i = 0; i < e->nep; i++) {
		unsigned ep = (start + i) % e->nep;

		etcd_url(e, ep, path, url, sizeof(url));
		curl_easy_reset(c);
		curl_easy_setopt(c, CURLOPT_URL, url);
		etcd_curl_tls(e, c);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, s);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, etcd_buf_write);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
		b.n = 0;
		rc = curl_easy_perform(c);
		if (rc == CURLE_OK) {
			if (ep != start) {
				pthread_mutex_lock(&e->lock);
				e->cur = ep;
				pthread_mutex_unlock(&e->lock);
			}
			break;
		}
		if (!unreachable(rc))
			break;
		pr_debug("etcd %s: %s; trying the next endpoint\n", e->ep[ep], curl_easy_strerror(rc));
	}
	if (rc != CURLE_OK) {
		pr_warn("etcd %s: %s\n", path, curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200 && b.p && strstr(b.p, "required revision has been compacted")) {
		err = -ESTALE;	/* a read at an old revision */
		goto out;
	}
	if (code != 200) {
		pr_warn("etcd %s: HTTP %ld: %.200s\n", path, code, b.p ? b.p : "");
		goto out;
	}
	*out = b.p ? cJSON_Parse(b.p) : NULL;
	if (!*out) {
		pr_warn("etcd %s: answer does not parse\n", path);
		goto out;
	}
	err = 0;
out:
	curl_slist_free_all(hdr);
	handle_put(e, h);
	free(b.p);
	free(s);
	return err;
}
