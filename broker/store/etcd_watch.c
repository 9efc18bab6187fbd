/* The etcd store's watch streams: one long /v3/watch over "/subagent/r/" with prev_kv
 * feeds the broker's change feed (reconnected from the last revision seen, so every
 * replica sees every other's writes), and short ones replay history for watch resume. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/store/etcd_int.h"
#include "common/log.h"

/* ---- watch streams ---- */

struct stream {
	struct etcd *e;
	struct etcd_buf b;
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
	uint64_t rev = etcd_j_u64(kv, "mod_revision");
	struct store_event be = { .rev = rev };
	char *key, *val;

	if (rev <= s->after)
		return;
	key = etcd_j_b64(kv, "key");
	val = etcd_j_b64(del ? prev : kv, "value");
	if (key && val && !strncmp(key, PREFIX, strlen(PREFIX)) && (!del || prev)) {
		be.key = key + strlen(PREFIX);
		be.value = val;
		be.type = del ? STORE_EV_DELETED :
			  etcd_j_u64(kv, "create_revision") == rev ? STORE_EV_ADDED : STORE_EV_MODIFIED;
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
	s->compacted = etcd_j_u64(res, "compact_revision");
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

	if (etcd_buf_write(data, sz, nm, &s->b) != n)
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
	etcd_prefix_end(full, end, sizeof(end));
	snprintf(start, sizeof(start), "%" PRIu64, s->after + 1);
	if (!o || !c || !hdr || !(cr = cJSON_AddObjectToObject(o, "create_request")) ||
	    etcd_add_b64(cr, "key", full) || etcd_add_b64(cr, "range_end", end) ||
	    !cJSON_AddStringToObject(cr, "start_revision", start) ||
	    !cJSON_AddTrueToObject(cr, "prev_kv") || !(body = cJSON_PrintUnformatted(o)))
		goto out;
	etcd_url(s->e, ep, "/v3/watch", url, sizeof(url));
	curl_easy_setopt(c, CURLOPT_URL, url);
	etcd_curl_tls(s->e, c);
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
	s->b = (struct etcd_buf){ 0 };
	return rc;
}

int etcd_history(struct store *st, uint64_t after, uint64_t upto, store_event_fn fn,
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

int etcd_feed_start(struct store *st, uint64_t after, store_event_fn fn, void *ctx)
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
