/* etcd v3 store through etcd's JSON gateway (/v3/kv/range, /v3/kv/txn, /v3/watch), with
 * libcurl. Keys live under "/subagent/"; keys and values travel base64-encoded; int64s
 * arrive as decimal strings and fields equal to their default are left out (proto3 JSON).
 * The resource version is etcd's mod_revision, the list version the header revision.
 * Conditional writes are one txn each (compare create_revision == 0 for "absent",
 * mod_revision == N for "unchanged"); the failure branch reads the compared keys back so
 * the caller learns which condition failed. The change feed is one long /v3/watch stream
 * over "/subagent/r/" with prev_kv (a delete carries the last value), reconnected from the
 * last revision seen, so every replica sees the writes of every other. Several endpoints
 * ("etcd://a:2379,b:2379") are tried in turn when one cannot be reached. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "broker/store/store.h"
#include "common/log.h"
#include "common/util.h"

#define PREFIX		"/subagent/"
#define MAX_EP		8
#define RESP_MAX	(256u << 20)

struct handle {
	CURL *c;
	struct handle *next;
};

struct etcd {
	char *ep[MAX_EP];
	unsigned nep;
	unsigned cur;		/* endpoint that worked last */
	pthread_mutex_t lock;	/* cur, free handles */
	struct handle *free;
	pthread_t feed;
	bool feed_running;
	volatile bool stop;
	store_event_fn fn;
	void *ctx;
	uint64_t feed_last;
};

/* ---- base64 ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_enc(const char *s, size_t n)
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
static char *b64_dec(const char *s, size_t *len)
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

static uint64_t j_u64(const cJSON *o, const char *f)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, f);

	if (cJSON_IsString(v))
		return strtoull(v->valuestring, NULL, 10);
	if (cJSON_IsNumber(v) && v->valuedouble > 0)
		return (uint64_t)v->valuedouble;
	return 0;
}

static char *j_b64(const cJSON *o, const char *f)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, f);

	return b64_dec(cJSON_IsString(v) ? v->valuestring : "", NULL);
}

static int add_b64(cJSON *o, const char *f, const char *s)
{
	char *e = b64_enc(s, strlen(s));
	int ok = e && cJSON_AddStringToObject(o, f, e);

	free(e);
	return ok ? 0 : -ENOMEM;
}

/* The key just after every key starting with s (etcd's range_end for a prefix). */
static void prefix_end(const char *s, char *out, size_t len)
{
	snprintf(out, len, "%s", s);
	out[strlen(out) - 1]++;
}

/* ---- HTTP ---- */

struct buf {
	char *p;
	size_t n, cap;
};

static size_t buf_write(char *data, size_t sz, size_t nm, void *ud)
{
	struct buf *b = ud;
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
static int post(struct etcd *e, const char *path, cJSON *body, cJSON **out)
{
	char *s = cJSON_PrintUnformatted(body), url[300];
	struct handle *h;
	CURL *c = s ? handle_get(e, &h) : NULL;
	struct buf b = { 0 };
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

		snprintf(url, sizeof(url), "http://%s%s", e->ep[ep], path);
		curl_easy_reset(c);
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, s);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, buf_write);
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

/* ---- KV ---- */

static int range_req(struct etcd *e, const char *key, bool prefix, cJSON **resp)
{
	char full[STORE_KEY_MAX + 16], end[STORE_KEY_MAX + 16];
	cJSON *body = cJSON_CreateObject();
	int err = -ENOMEM;

	snprintf(full, sizeof(full), PREFIX "%s", key);
	if (!body || add_b64(body, "key", full))
		goto out;
	if (prefix) {
		prefix_end(full, end, sizeof(end));
		if (add_b64(body, "range_end", end))
			goto out;
	}
	err = post(e, "/v3/kv/range", body, resp);
out:
	cJSON_Delete(body);
	return err;
}

static int etcd_get(struct store *st, const char *key, char **value, uint64_t *mod_rev)
{
	cJSON *resp, *kv;
	int err = range_req(st->priv, key, false, &resp);

	if (err)
		return err;
	kv = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(resp, "kvs"), 0);
	if (!kv) {
		err = -ENOENT;
	} else {
		if (mod_rev)
			*mod_rev = j_u64(kv, "mod_revision");
		if (value) {
			*value = j_b64(kv, "value");
			if (!*value)
				err = -EIO;
		}
	}
	cJSON_Delete(resp);
	return err;
}

static int etcd_range(struct store *st, const char *prefix, store_kv_fn fn, void *ctx,
		      uint64_t *rev)
{
	cJSON *resp, *kv;
	int err = range_req(st->priv, prefix, true, &resp);

	if (err)
		return err;
	cJSON_ArrayForEach(kv, cJSON_GetObjectItemCaseSensitive(resp, "kvs")) {
		char *k = j_b64(kv, "key"), *v = j_b64(kv, "value");

		if (k && v && !strncmp(k, PREFIX, strlen(PREFIX)))
			err = fn(k + strlen(PREFIX), v, j_u64(kv, "mod_revision"), ctx);
		else
			err = -EIO;
		free(k);
		free(v);
		if (err)
			break;
	}
	if (!err && rev)
		*rev = j_u64(cJSON_GetObjectItemCaseSensitive(resp, "header"), "revision");
	cJSON_Delete(resp);
	return err;
}

static int etcd_revision(struct store *st, uint64_t *rev)
{
	cJSON *resp;
	int err = range_req(st->priv, "x/revision-probe", false, &resp);

	if (err)
		return err;
	*rev = j_u64(cJSON_GetObjectItemCaseSensitive(resp, "header"), "revision");
	cJSON_Delete(resp);
	return 0;
}

/* The head revision for the watch hub, as the revision of a write under "r/": the hub
 * later asks history "up to" it, and a watch over "r/" only ends that catch-up when an
 * event at or past that revision arrives; etcd's bare header revision may belong to an
 * internal key the watch never shows. "r/_sync" is no resource, so the hub ignores it. */
static int etcd_sync_revision(struct store *st, uint64_t *rev)
{
	struct store_txn_op op = { .key = "r/_sync", .value = "{}" };

	return st->ops->txn(st, &op, 1, rev, NULL);
}

static int etcd_txn(struct store *st, const struct store_txn_op *ops, size_t n, uint64_t *rev,
		    size_t *failed)
{
	cJSON *body = cJSON_CreateObject(), *cmp, *succ, *fail, *resp = NULL, *o, *r;
	char full[STORE_KEY_MAX + 16];
	int err = -ENOMEM;

	if (!body || !(cmp = cJSON_AddArrayToObject(body, "compare")) ||
	    !(succ = cJSON_AddArrayToObject(body, "success")) ||
	    !(fail = cJSON_AddArrayToObject(body, "failure")))
		goto out;
	for (size_t i = 0; i < n; i++) {
		snprintf(full, sizeof(full), PREFIX "%s", ops[i].key);
		if (ops[i].cond != STORE_IF_ANY) {
			char num[24];

			o = cJSON_CreateObject();
			if (!o || !cJSON_AddItemToArray(cmp, o) || add_b64(o, "key", full))
				goto out;
			snprintf(num, sizeof(num), "%" PRIu64, ops[i].cond == STORE_IF_REV ? ops[i].rev : 0);
			if (!cJSON_AddStringToObject(o, "target", ops[i].cond == STORE_IF_REV ? "MOD" : "CREATE") ||
			    !cJSON_AddStringToObject(o, "result", "EQUAL") ||
			    !cJSON_AddStringToObject(o, ops[i].cond == STORE_IF_REV ? "mod_revision" :
						     "create_revision", num))
				goto out;
			/* on failure, read the key back to tell which condition failed */
			o = cJSON_CreateObject();
			if (!o || !cJSON_AddItemToArray(fail, o) ||
			    !(r = cJSON_AddObjectToObject(o, "request_range")) || add_b64(r, "key", full))
				goto out;
		}
		o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(succ, o))
			goto out;
		r = cJSON_AddObjectToObject(o, ops[i].del ? "request_delete_range" : "request_put");
		if (!r || add_b64(r, "key", full) || (!ops[i].del && add_b64(r, "value", ops[i].value)))
			goto out;
	}
	err = post(st->priv, "/v3/kv/txn", body, &resp);
	if (err)
		goto out;
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "succeeded"))) {
		if (rev)
			*rev = j_u64(cJSON_GetObjectItemCaseSensitive(resp, "header"), "revision");
		err = 0;
		goto out;
	}
	/* Which condition failed: walk the conditioned ops with their range answers. */
	err = -ECANCELED;
	{
		const cJSON *resps = cJSON_GetObjectItemCaseSensitive(resp, "responses");
		int k = 0;

		if (failed)
			*failed = 0;
		for (size_t i = 0; i < n; i++) {
			const cJSON *rr, *kv;
			bool ok;

			if (ops[i].cond == STORE_IF_ANY)
				continue;
			rr = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(resps, k++), "response_range");
			kv = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(rr, "kvs"), 0);
			ok = ops[i].cond == STORE_IF_ABSENT ? !kv :
			     (kv && j_u64(kv, "mod_revision") == ops[i].rev);
			if (!ok) {
				if (failed)
					*failed = i;
				break;
			}
		}
	}
out:
	cJSON_Delete(body);
	cJSON_Delete(resp);
	return err;
}

/* ---- watch streams ---- */

struct stream {
	struct etcd *e;
	struct buf b;
	uint64_t after, upto;	/* deliver events with rev > after (history: stop at upto) */
	uint64_t last;		/* newest revision delivered */
	uint64_t compacted;
	bool created, done;
	store_event_fn fn;
	void *ctx;
};

static void stream_event(struct stream *s, const cJSON *ev)
{
	const cJSON *kv = cJSON_GetObjectItemCaseSensitive(ev, "kv");
	const cJSON *prev = cJSON_GetObjectItemCaseSensitive(ev, "prev_kv");
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "type"));
	bool del = type && !strcmp(type, "DELETE");
	uint64_t rev = j_u64(kv, "mod_revision");
	struct store_event be = { .rev = rev };
	char *key, *val;

	if (rev <= s->after)
		return;
	key = j_b64(kv, "key");
	val = j_b64(del ? prev : kv, "value");
	if (key && val && !strncmp(key, PREFIX, strlen(PREFIX)) && (!del || prev)) {
		be.key = key + strlen(PREFIX);
		be.value = val;
		be.type = del ? STORE_EV_DELETED :
			  j_u64(kv, "create_revision") == rev ? STORE_EV_ADDED : STORE_EV_MODIFIED;
		s->fn(&be, s->ctx);
	}
	if (rev > s->last)
		s->last = rev;
	free(key);
	free(val);
}

static void stream_message(struct stream *s, const char *line)
{
	cJSON *m = cJSON_Parse(line), *res, *ev;

	res = cJSON_GetObjectItemCaseSensitive(m, "result");
	if (!res) {
		pr_warn("etcd watch: %.200s\n", line);
		s->done = true;
		goto out;
	}
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "created")))
		s->created = true;
	s->compacted = j_u64(res, "compact_revision");
	if (s->compacted || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "canceled"))) {
		s->done = true;
		goto out;
	}
	cJSON_ArrayForEach(ev, cJSON_GetObjectItemCaseSensitive(res, "events"))
		stream_event(s, ev);
	if (s->upto && s->last >= s->upto)
		s->done = true;
out:
	cJSON_Delete(m);
}

static size_t stream_write(char *data, size_t sz, size_t nm, void *ud)
{
	struct stream *s = ud;
	size_t n = sz * nm;
	char *nl;

	if (buf_write(data, sz, nm, &s->b) != n)
		return 0;
	/* one JSON message per line */
	while (!s->done && s->b.n && (nl = memchr(s->b.p, '\n', s->b.n))) {
		*nl = '\0';
		stream_message(s, s->b.p);
		s->b.n -= (size_t)(nl + 1 - s->b.p);
		memmove(s->b.p, nl + 1, s->b.n);
		s->b.p[s->b.n] = '\0';
	}
	return s->done || s->e->stop ? 0 : n;	/* 0 ends the transfer */
}

static int stream_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct stream *s = ud;

	return s->e->stop || s->done;
}

/* Runs one watch stream on endpoint ep until done, stop, error or timeout_ms. */
static CURLcode stream_run(struct stream *s, unsigned ep, long timeout_ms)
{
	char url[300], start[24], full[32], end[32], *body = NULL;
	cJSON *o = cJSON_CreateObject(), *cr;
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	CURL *c = curl_easy_init();
	CURLcode rc = CURLE_OUT_OF_MEMORY;

	snprintf(full, sizeof(full), PREFIX "r/");
	prefix_end(full, end, sizeof(end));
	snprintf(start, sizeof(start), "%" PRIu64, s->after + 1);
	if (!o || !c || !hdr || !(cr = cJSON_AddObjectToObject(o, "create_request")) ||
	    add_b64(cr, "key", full) || add_b64(cr, "range_end", end) ||
	    !cJSON_AddStringToObject(cr, "start_revision", start) ||
	    !cJSON_AddTrueToObject(cr, "prev_kv") || !(body = cJSON_PrintUnformatted(o)))
		goto out;
	snprintf(url, sizeof(url), "http://%s/v3/watch", s->e->ep[ep]);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, stream_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, stream_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, s);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	/* a dead etcd behind a live TCP connection: keepalive probes find it */
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 5L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 2L);
	rc = curl_easy_perform(c);
out:
	curl_easy_cleanup(c);
	curl_slist_free_all(hdr);
	cJSON_Delete(o);
	free(body);
	free(s->b.p);
	s->b = (struct buf){ 0 };
	return rc;
}

static int etcd_history(struct store *st, uint64_t after, uint64_t upto, store_event_fn fn,
			void *ctx)
{
	struct etcd *e = st->priv;

	if (upto <= after)
		return 0;
	for (unsigned i = 0; i < e->nep; i++) {
		struct stream s = { .e = e, .after = after, .upto = upto, .last = after,
				    .fn = fn, .ctx = ctx };

		stream_run(&s, (e->cur + i) % e->nep, 10000);
		if (s.compacted)
			return -ESTALE;
		if (s.last >= upto)
			return 0;
		if (s.created)	/* connected, yet the history did not arrive */
			break;
	}
	return -EIO;
}

static void *feed_main(void *arg)
{
	struct store *st = arg;
	struct etcd *e = st->priv;
	unsigned backoff_ms = 100, ep = e->cur;

	while (!e->stop) {
		struct stream s = { .e = e, .after = e->feed_last, .last = e->feed_last,
				    .fn = e->fn, .ctx = e->ctx };
		CURLcode rc = stream_run(&s, ep, 0);

		e->feed_last = s.last;
		if (e->stop)
			break;
		if (s.compacted) {
			uint64_t head = 0;
			struct store_event reset = { 0 };

			/* Changes between feed_last and the compaction are gone: start over at
			 * the head and make every stream resume (and relist if it must). */
			if (etcd_sync_revision(st, &head) == 0 && head >= s.compacted) {
				pr_warn("etcd watch: revision %" PRIu64 " compacted; watch streams restart\n",
					e->feed_last);
				reset.rev = head;
				e->fn(&reset, e->ctx);
				e->feed_last = head;
			}
			continue;
		}
		if (s.created)
			backoff_ms = 100;
		pr_warn("etcd watch %s: %s; reconnecting\n", e->ep[ep],
			rc == CURLE_OK ? "stream ended" : curl_easy_strerror(rc));
		ep = (ep + 1) % e->nep;
		for (unsigned t = 0; t < backoff_ms && !e->stop; t += 50)
			usleep(50000);
		if (backoff_ms < 2000)
			backoff_ms *= 2;
	}
	return NULL;
}

static int etcd_feed_start(struct store *st, uint64_t after, store_event_fn fn, void *ctx)
{
	struct etcd *e = st->priv;

	e->fn = fn;
	e->ctx = ctx;
	e->feed_last = after;
	if (pthread_create(&e->feed, NULL, feed_main, st))
		return -EAGAIN;
	e->feed_running = true;
	return 0;
}

/* ---- open/close ---- */

static void etcd_close(struct store *st)
{
	struct etcd *e = st->priv;

	if (!e)
		return;
	e->stop = true;
	if (e->feed_running)
		pthread_join(e->feed, NULL);
	while (e->free) {
		struct handle *h = e->free;

		e->free = h->next;
		curl_easy_cleanup(h->c);
		free(h);
	}
	for (unsigned i = 0; i < e->nep; i++)
		free(e->ep[i]);
	pthread_mutex_destroy(&e->lock);
	free(e);
	st->priv = NULL;
}

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int etcd_open(struct store *st, const char *spec, const char *dir)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	const char *p = spec + strlen("etcd://");
	struct etcd *e;
	uint64_t rev;
	int err;

	pthread_once(&once, curl_init_once);
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	pthread_mutex_init(&e->lock, NULL);
	st->priv = e;
	while (*p) {
		size_t n = strcspn(p, ",");

		if (n == 0 || n > 255 || e->nep == MAX_EP) {
			pr_err("store %s: want etcd://host:port[,host:port] (at most %d)\n", spec, MAX_EP);
			err = -EINVAL;
			goto err;
		}
		e->ep[e->nep] = strndup(p, n);
		if (!e->ep[e->nep++]) {
			err = -ENOMEM;
			goto err;
		}
		p += n + (p[n] == ',');
	}
	if (!e->nep) {
		err = -EINVAL;
		goto err;
	}
	err = etcd_revision(st, &rev);
	if (err) {
		pr_err("store %s: etcd unreachable\n", spec);
		goto err;
	}
	pr_info("store etcd %s: revision %" PRIu64 "\n", spec, rev);
	return 0;
err:
	etcd_close(st);
	return err;
}

const struct store_ops store_etcd_ops = {
	.name = "etcd",
	.open = etcd_open,
	.close = etcd_close,
	.get = etcd_get,
	.range = etcd_range,
	.txn = etcd_txn,
	.history = etcd_history,
	.revision = etcd_sync_revision,
	.feed_start = etcd_feed_start,
};
