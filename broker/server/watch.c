/* Watch hub: a ring of recent events, one line of JSON each, shared by every stream.
 * See watch.h for the threading model. */
#include "broker/server/watch.h"

#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/server/objects.h"
#include "broker/store/store.h"
#include "common/log.h"

#define MAX_RES 16	/* resources in the table, with room to grow */

/* One serialized event line, shared by the ring and the streams sending it. */
struct line {
	unsigned refs;		/* under hub lock */
	size_t len;
	char data[];
};

struct hev {
	uint64_t rev;
	const struct srv_resource *res;
	struct line *line;
};

struct srv_watcher {
	struct srv_hub *hub;
	const struct srv_resource *res;
	struct MHD_Connection *conn;
	uint64_t last;		/* revision of the last change sent */
	uint64_t next_seq;	/* next ring slot to look at */
	struct line *cur;	/* line being sent, and how much of it went */
	size_t off;
	struct line **backlog;	/* catch-up lines sent before the ring */
	size_t nback, iback, capback;
	bool suspended, bookmark_due, ended, linked;
	struct srv_watcher *prev, *next;
	void (*on_free)(void *ctx, const char *who);
	void *on_free_ctx;
	char who[64];
};

struct srv_hub {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct store *st;
	struct hev *ring;
	unsigned size;
	uint64_t seq;		/* events ever published; ring[i % size] */
	uint64_t first;		/* the oldest event still in the ring */
	size_t bytes, max_bytes;	/* held by the ring, and its bound */
	uint64_t head;		/* revision of the newest event */
	uint64_t dropped;	/* newest revision no longer in the ring */
	uint64_t dropped_res[MAX_RES];	/* the same, per resource */
	struct srv_watcher *watchers;
	unsigned n_watchers;
	unsigned bookmark_ms;
	bool closing;
	pthread_t timer;
	bool timer_running;
};

static void line_put(struct line *l)
{
	if (l && --l->refs == 0)
		free(l);
}

static struct line *line_get(struct line *l)
{
	l->refs++;
	return l;
}

/* {"type":T,"object":OBJ}\n, with OBJ's resourceVersion set to rev. */
static struct line *event_line(enum store_ev_type type, const char *value, uint64_t rev)
{
	static const char *const types[] = { "ADDED", "MODIFIED", "DELETED" };
	cJSON *obj = srv_object_load(value, rev), *ev = NULL;
	struct line *l = NULL;
	char *s = NULL;
	size_t n;

	if (!obj)
		return NULL;
	ev = cJSON_CreateObject();
	if (!ev || !cJSON_AddStringToObject(ev, "type", types[type]))
		goto out;
	cJSON_AddItemToObject(ev, "object", obj);
	obj = NULL;
	s = cJSON_PrintUnformatted(ev);
	if (!s)
		goto out;
	n = strlen(s);
	l = malloc(sizeof(*l) + n + 1);
	if (!l)
		goto out;
	l->refs = 1;
	l->len = n + 1;
	memcpy(l->data, s, n);
	l->data[n] = '\n';
out:
	free(s);
	cJSON_Delete(ev);
	cJSON_Delete(obj);
	return l;
}

static struct line *bookmark_line(uint64_t rev)
{
	char buf[128];
	int n = snprintf(buf, sizeof(buf),
			 "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"%" PRIu64
			 "\"}}}\n", rev);
	struct line *l = malloc(sizeof(*l) + (size_t)n);

	if (!l)
		return NULL;
	l->refs = 1;
	l->len = (size_t)n;
	memcpy(l->data, buf, (size_t)n);
	return l;
}

static void resume(struct srv_watcher *w)
{
	if (w->suspended) {
		w->suspended = false;
		MHD_resume_connection(w->conn);
	}
}

/* Drops the oldest event of the ring; streams that still needed it resume from the
 * store's history. Under the lock. */
static void evict_oldest(struct srv_hub *h)
{
	struct hev *e = &h->ring[h->first % h->size];

	if (e->line) {
		h->dropped = e->rev;
		h->dropped_res[e->res - srv_resources] = e->rev;
		h->bytes -= e->line->len;
		line_put(e->line);
		e->line = NULL;
	}
	h->first++;
}

void srv_hub_publish(const struct store_event *ev, void *ctx)
{
	struct srv_hub *h = ctx;
	const struct srv_resource *r = ev->key ? srv_resource_of_key(ev->key) : NULL;
	struct line *l = NULL;
	struct hev *slot;

	if (!ev->key) {
		/* History lost: every stream ends; clients resume and get 410 if they must. */
		pthread_mutex_lock(&h->lock);
		for (struct srv_watcher *w = h->watchers; w; w = w->next) {
			w->ended = true;
			resume(w);
		}
		if (ev->rev > h->head)
			h->head = ev->rev;
		h->dropped = h->head;
		for (unsigned i = 0; i < MAX_RES; i++)
			h->dropped_res[i] = h->head;
		pthread_mutex_unlock(&h->lock);
		return;
	}
	if (!r)
		return;
	l = event_line(ev->type, ev->value, ev->rev);
	pthread_mutex_lock(&h->lock);
	if (ev->rev <= h->head) {	/* a replay after a feed reconnect */
		pthread_mutex_unlock(&h->lock);
		line_put(l);
		return;
	}
	if (!l) {
		pr_err("watch event %s at %" PRIu64 ": cannot serialize; streams restart\n",
		       ev->key, ev->rev);
		/* Streams must not skip a change silently: end them all, clients resume. */
		for (struct srv_watcher *w = h->watchers; w; w = w->next) {
			w->ended = true;
			resume(w);
		}
		h->head = ev->rev;
		h->dropped = ev->rev;
		for (unsigned i = 0; i < MAX_RES; i++)
			h->dropped_res[i] = ev->rev;
		pthread_mutex_unlock(&h->lock);
		return;
	}
	if (h->seq - h->first == h->size)
		evict_oldest(h);
	slot = &h->ring[h->seq % h->size];
	slot->rev = ev->rev;
	slot->res = r;
	slot->line = l;
	h->bytes += l->len;
	h->seq++;
	/* a bound in bytes too: large objects must not make the ring hold gigabytes */
	while (h->bytes > h->max_bytes && h->seq - h->first > 1)
		evict_oldest(h);
	h->head = ev->rev;
	for (struct srv_watcher *w = h->watchers; w; w = w->next)
		if (w->res == r)
			resume(w);
	pthread_mutex_unlock(&h->lock);
}

static void *timer_main(void *arg)
{
	struct srv_hub *h = arg;
	struct timespec ts;

	pthread_mutex_lock(&h->lock);
	while (!h->closing) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += h->bookmark_ms / 1000;
		ts.tv_nsec += (long)(h->bookmark_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!h->closing && pthread_cond_timedwait(&h->cond, &h->lock, &ts) != ETIMEDOUT)
			;
		if (h->closing)
			break;
		for (struct srv_watcher *w = h->watchers; w; w = w->next) {
			w->bookmark_due = true;
			resume(w);
		}
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

struct srv_hub *srv_hub_new(struct store *st, uint64_t head, unsigned ring, size_t ring_bytes,
			    unsigned bookmark_ms)
{
	struct srv_hub *h;

	if (srv_n_resources > MAX_RES) {
		errno = EINVAL;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->size = ring ? ring : 1;
	h->max_bytes = ring_bytes ? ring_bytes : SIZE_MAX;
	h->ring = calloc(h->size, sizeof(*h->ring));
	if (!h->ring) {
		free(h);
		return NULL;
	}
	h->st = st;
	h->head = h->dropped = head;
	for (unsigned i = 0; i < MAX_RES; i++)
		h->dropped_res[i] = head;
	h->bookmark_ms = bookmark_ms ? bookmark_ms : 5000;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	if (pthread_create(&h->timer, NULL, timer_main, h) == 0)
		h->timer_running = true;
	else
		pr_warn("start watch timer: no bookmarks will be sent\n");
	return h;
}

void srv_hub_shutdown(struct srv_hub *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->closing = true;
	for (struct srv_watcher *w = h->watchers; w; w = w->next) {
		w->ended = true;
		resume(w);
	}
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	if (h->timer_running) {
		pthread_join(h->timer, NULL);
		h->timer_running = false;
	}
}

void srv_hub_free(struct srv_hub *h)
{
	if (!h)
		return;
	srv_hub_shutdown(h);
	for (unsigned i = 0; i < h->size; i++)
		line_put(h->ring[i].line);
	free(h->ring);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->cond);
	free(h);
}

uint64_t srv_hub_head(struct srv_hub *h)
{
	uint64_t v;

	pthread_mutex_lock(&h->lock);
	v = h->head;
	pthread_mutex_unlock(&h->lock);
	return v;
}

unsigned srv_hub_watchers(struct srv_hub *h)
{
	unsigned v;

	pthread_mutex_lock(&h->lock);
	v = h->n_watchers;
	pthread_mutex_unlock(&h->lock);
	return v;
}

static int backlog_add(struct srv_watcher *w, struct line *l)
{
	if (!l)
		return -ENOMEM;
	if (w->nback == w->capback) {
		size_t cap = w->capback ? w->capback * 2 : 16;
		struct line **nb = realloc(w->backlog, cap * sizeof(*nb));

		if (!nb) {
			free(l);
			return -ENOMEM;
		}
		w->backlog = nb;
		w->capback = cap;
	}
	w->backlog[w->nback++] = l;
	return 0;
}

struct fill {
	struct srv_watcher *w;
	int err;
};

static int add_current(const char *key, const char *value, uint64_t mod_rev, void *ctx)
{
	struct fill *f = ctx;

	f->err = backlog_add(f->w, event_line(STORE_EV_ADDED, value, mod_rev));
	return f->err;
}

static void add_history(const struct store_event *ev, void *ctx)
{
	struct fill *f = ctx;

	if (f->err || ev->rev <= f->w->last || srv_resource_of_key(ev->key) != f->w->res)
		return;
	f->err = backlog_add(f->w, event_line(ev->type, ev->value, ev->rev));
	f->w->last = ev->rev;
}

static void watcher_destroy(struct srv_watcher *w)
{
	if (w->on_free)
		w->on_free(w->on_free_ctx, w->who);
	line_put(w->cur);
	for (size_t i = w->iback; i < w->nback; i++)
		line_put(w->backlog[i]);
	free(w->backlog);
	free(w);
}

int srv_hub_watch(struct srv_hub *h, const struct srv_resource *r, bool from_current,
		  uint64_t rv, struct srv_watcher **out)
{
	struct srv_watcher *w = calloc(1, sizeof(*w));
	struct fill f = { .w = w };
	char prefix[64];
	int err;

	if (!w)
		return -ENOMEM;
	w->hub = h;
	w->res = r;
	w->last = rv;
	/* An opening BOOKMARK: MHD sends the response headers only with the first bytes of
	 * the body, and a client should know at once that its watch is established. */
	w->bookmark_due = true;
	if (from_current) {
		snprintf(prefix, sizeof(prefix), "r/%s/", r->name);
		err = h->st->ops->range(h->st, prefix, add_current, &f, &w->last);
		if (err)
			goto err;
	}
	/* Join the ring once it holds every change after w->last; until then, catch up from
	 * the store's history (which says -ESTALE when that is gone: 410). */
	for (int tries = 0;; tries++) {
		uint64_t upto;

		pthread_mutex_lock(&h->lock);
		if (h->closing) {
			pthread_mutex_unlock(&h->lock);
			err = -ESHUTDOWN;
			goto err;
		}
		if (h->dropped_res[r - srv_resources] <= w->last) {
			w->next_seq = h->first;
			w->linked = true;
			w->next = h->watchers;
			if (h->watchers)
				h->watchers->prev = w;
			h->watchers = w;
			h->n_watchers++;
			pthread_mutex_unlock(&h->lock);
			break;
		}
		upto = h->dropped_res[r - srv_resources];
		pthread_mutex_unlock(&h->lock);
		if (tries > 8) {
			err = -ESTALE;	/* writes outrun us; the client relists */
			goto err;
		}
		err = h->st->ops->history(h->st, w->last, upto, add_history, &f);
		if (!err)
			err = f.err;
		if (err)
			goto err;
		if (w->last < upto)
			w->last = upto;
	}
	*out = w;
	return 0;
err:
	watcher_destroy(w);
	return err;
}

void srv_watcher_on_free(struct srv_watcher *w, void (*fn)(void *ctx, const char *who), void *ctx,
			 const char *who)
{
	w->on_free = fn;
	w->on_free_ctx = ctx;
	snprintf(w->who, sizeof(w->who), "%s", who);
}

void srv_watcher_attach(struct srv_watcher *w, struct MHD_Connection *c)
{
	w->conn = c;
}

static struct line *next_line(struct srv_watcher *w)
{
	struct srv_hub *h = w->hub;

	if (w->iback < w->nback)
		return w->backlog[w->iback++];
	while (w->next_seq < h->seq) {
		struct hev *e;

		if (w->next_seq < h->first) {
			if (h->dropped_res[w->res - srv_resources] > w->last) {
				/* Events of this stream left the ring unsent (a client that does not
				 * read): end it; the client resumes from its last resourceVersion,
				 * from the store's history, or relists on 410. */
				pr_info("watch %s: stream too slow, ending it\n", w->res->name);
				w->ended = true;
				return NULL;
			}
			/* only other resources' events were lost to it: skip ahead */
			w->next_seq = h->first;
		}
		e = &h->ring[w->next_seq++ % h->size];
		if (e->res != w->res || e->rev <= w->last)
			continue;
		w->last = e->rev;
		return line_get(e->line);
	}
	return NULL;
}

ssize_t srv_watcher_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct srv_watcher *w = cls;
	struct srv_hub *h = w->hub;
	size_t n = 0;

	pthread_mutex_lock(&h->lock);
	while (n < max) {
		size_t k;

		if (!w->cur) {
			w->cur = w->ended ? NULL : next_line(w);
			w->off = 0;
			if (!w->cur && w->bookmark_due && !w->ended && n == 0) {
				w->bookmark_due = false;
				w->cur = bookmark_line(w->last > h->head ? w->last : h->head);
			}
			if (!w->cur)
				break;
		}
		k = w->cur->len - w->off;
		if (k > max - n)
			k = max - n;
		memcpy(buf + n, w->cur->data + w->off, k);
		n += k;
		w->off += k;
		if (w->off == w->cur->len) {
			line_put(w->cur);
			w->cur = NULL;
		}
	}
	if (n == 0 && (w->ended || h->closing)) {
		pthread_mutex_unlock(&h->lock);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	if (n == 0) {
		/* Nothing to send: park the connection until publish() or the timer resumes it. */
		w->suspended = true;
		MHD_suspend_connection(w->conn);
	}
	pthread_mutex_unlock(&h->lock);
	return (ssize_t)n;
}

void srv_watcher_free(void *cls)
{
	struct srv_watcher *w = cls;
	struct srv_hub *h = w->hub;

	pthread_mutex_lock(&h->lock);
	if (w->linked) {
		if (w->prev)
			w->prev->next = w->next;
		else
			h->watchers = w->next;
		if (w->next)
			w->next->prev = w->prev;
		h->n_watchers--;
	}
	pthread_mutex_unlock(&h->lock);
	watcher_destroy(w);
}
