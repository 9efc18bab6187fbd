/* Per-cluster quotas (see quota.h): two trees under one lock, the identities (clusters and
 * the join token) with their counters and token buckets, and the object keys with their owners so
 * that a create seen twice (by the request and by the feed) counts once. */
#include "broker/server/quota.h"

#include <errno.h>
#include <pthread.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "broker/server/objects.h"
#include "broker/server/server.h"
#include "broker/store/store.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"

struct who {
	char name[64];
	unsigned objects, watches;
	double tokens;
	uint64_t refill_ns;
};

struct okey {
	char *key;
	struct who *owner;
};

struct srv_quota {
	pthread_mutex_t lock;
	struct srv_limits l;
	void *whos;	/* tsearch tree of struct who */
	void *keys;	/* tsearch tree of struct okey */
	bool stale;	/* the feed lost history: count again */
};

static int who_cmp(const void *a, const void *b)
{
	return strcmp(((const struct who *)a)->name, ((const struct who *)b)->name);
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(((const struct okey *)a)->key, ((const struct okey *)b)->key);
}

/* The identity named name, made on first use; NULL on ENOMEM or a name too long. */
static struct who *who_get(struct srv_quota *q, const char *name)
{
	struct who probe, *w, **slot;

	if (strlen(name) >= sizeof(probe.name))
		return NULL;
	strcpy(probe.name, name);
	slot = tfind(&probe, &q->whos, who_cmp);
	if (slot)
		return *slot;
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	strcpy(w->name, name);
	w->tokens = q->l.write_burst;
	w->refill_ns = util_now_ns();
	slot = tsearch(w, &q->whos, who_cmp);
	if (!slot) {
		free(w);
		return NULL;
	}
	return *slot;
}

struct srv_quota *srv_quota_new(const struct srv_limits *l)
{
	struct srv_quota *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->l = *l;
	pthread_mutex_init(&q->lock, NULL);
	return q;
}

static void free_key(void *p)
{
	struct okey *k = p;

	free(k->key);
	free(k);
}

static void zero_objects(const void *node, VISIT v, int depth)
{
	if (v == postorder || v == leaf)
		(*(struct who *const *)node)->objects = 0;
}

static void forget_keys(struct srv_quota *q)
{
	tdestroy(q->keys, free_key);
	q->keys = NULL;
	twalk(q->whos, zero_objects);
}

void srv_quota_free(struct srv_quota *q)
{
	if (!q)
		return;
	tdestroy(q->keys, free_key);
	tdestroy(q->whos, free);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

/* Counts key for cid unless it is counted already. Under the lock. */
static void add_key(struct srv_quota *q, const char *key, const char *cid)
{
	struct okey probe = { .key = (char *)key }, *k, **slot;
	struct who *w;

	if (tfind(&probe, &q->keys, key_cmp))
		return;
	w = who_get(q, cid);
	k = calloc(1, sizeof(*k));
	if (!w || !k || !(k->key = strdup(key))) {
		free(k);
		return;	/* out of memory: this object goes uncounted */
	}
	k->owner = w;
	slot = tsearch(k, &q->keys, key_cmp);
	if (!slot || *slot != k) {
		free_key(k);
		return;
	}
	w->objects++;
}

static void del_key(struct srv_quota *q, const char *key)
{
	struct okey probe = { .key = (char *)key }, **slot = tfind(&probe, &q->keys, key_cmp), *k;

	if (!slot)
		return;
	k = *slot;
	if (k->owner->objects)
		k->owner->objects--;
	tdelete(&probe, &q->keys, key_cmp);
	free_key(k);
}

/* An owned object's key ("r/endpoints/..."), not a cluster's. */
static bool owned_key(const char *key)
{
	const struct srv_resource *r = key ? srv_resource_of_key(key) : NULL;

	return r && !r->is_cluster;
}

static void add_value(struct srv_quota *q, const char *key, const char *value)
{
	cJSON *o = cJSON_Parse(value);
	const char *cid = json_str(o, "spec.clusterID", NULL);

	if (cid)
		add_key(q, key, cid);
	cJSON_Delete(o);
}

/* Owners read from the store, to be counted under the lock afterwards: the store must not
 * be called under the lock (SQLite delivers its feed, and so calls us, under its own). */
struct seen {
	char **keys, **cids;
	size_t n, cap;
};

static int seen_one(const char *key, const char *value, uint64_t mod_rev, void *ctx)
{
	struct seen *s = ctx;
	cJSON *o = cJSON_Parse(value);
	const char *cid = json_str(o, "spec.clusterID", NULL);
	int err = 0;

	if (!cid)
		goto out;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		char **k = realloc(s->keys, cap * sizeof(*k)), **c;

		if (!k) {
			err = -ENOMEM;
			goto out;
		}
		s->keys = k;
		c = realloc(s->cids, cap * sizeof(*c));
		if (!c) {
			err = -ENOMEM;
			goto out;
		}
		s->cids = c;
		s->cap = cap;
	}
	s->keys[s->n] = strdup(key);
	s->cids[s->n] = strdup(cid);
	if (!s->keys[s->n] || !s->cids[s->n]) {
		free(s->keys[s->n]);
		free(s->cids[s->n]);
		err = -ENOMEM;
		goto out;
	}
	s->n++;
out:
	cJSON_Delete(o);
	return err;
}

/* Counts every owned object again. Not under the lock. */
static int count_all(struct srv_quota *q, struct store *st)
{
	struct seen s = { 0 };
	int err = 0;

	for (unsigned i = 0; i < srv_n_resources && !err; i++) {
		char prefix[64];

		if (srv_resources[i].is_cluster)
			continue;
		snprintf(prefix, sizeof(prefix), "r/%s/", srv_resources[i].name);
		err = st->ops->range(st, prefix, seen_one, &s, NULL);
	}
	pthread_mutex_lock(&q->lock);
	if (!err) {
		forget_keys(q);
		for (size_t i = 0; i < s.n; i++)
			add_key(q, s.keys[i], s.cids[i]);
		q->stale = false;
	}
	pthread_mutex_unlock(&q->lock);
	for (size_t i = 0; i < s.n; i++) {
		free(s.keys[i]);
		free(s.cids[i]);
	}
	free(s.keys);
	free(s.cids);
	return err;
}

int srv_quota_load(struct srv_quota *q, struct store *st)
{
	return count_all(q, st);
}

void srv_quota_on_event(struct srv_quota *q, const struct store_event *ev)
{
	pthread_mutex_lock(&q->lock);
	if (!ev->key)
		q->stale = true;
	else if (owned_key(ev->key) && ev->type == STORE_EV_DELETED)
		del_key(q, ev->key);
	else if (owned_key(ev->key))
		add_value(q, ev->key, ev->value);	/* MODIFIED of a counted key: no-op */
	pthread_mutex_unlock(&q->lock);
}

int srv_quota_write(struct srv_quota *q, const char *who, unsigned *retry_after_s)
{
	uint64_t now = util_now_ns();
	struct who *w;
	int err = 0;

	pthread_mutex_lock(&q->lock);
	w = who_get(q, who);
	if (w) {
		w->tokens += (double)(now - w->refill_ns) / 1e9 * q->l.writes_per_s;
		if (w->tokens > q->l.write_burst)
			w->tokens = q->l.write_burst;
		w->refill_ns = now;
		if (w->tokens >= 1.0) {
			w->tokens -= 1.0;
		} else {
			*retry_after_s = (unsigned)((1.0 - w->tokens) / q->l.writes_per_s) + 1;
			err = -EAGAIN;
		}
	}
	pthread_mutex_unlock(&q->lock);
	return err;
}

int srv_quota_watch_get(struct srv_quota *q, const char *who, unsigned *n)
{
	struct who *w;
	int err = 0;

	pthread_mutex_lock(&q->lock);
	w = who_get(q, who);
	if (!w) {
		err = -ENOMEM;
	} else if (w->watches >= q->l.watches_per_cluster) {
		*n = w->watches;
		err = -EAGAIN;
	} else {
		w->watches++;
	}
	pthread_mutex_unlock(&q->lock);
	return err;
}

void srv_quota_watch_put(struct srv_quota *q, const char *who)
{
	struct who *w;

	pthread_mutex_lock(&q->lock);
	w = who_get(q, who);
	if (w && w->watches)
		w->watches--;
	pthread_mutex_unlock(&q->lock);
}

int srv_quota_objects(struct srv_quota *q, struct store *st, const char *cid, unsigned *n)
{
	struct who *w;
	int err = 0;

	pthread_mutex_lock(&q->lock);
	if (q->stale) {
		pthread_mutex_unlock(&q->lock);
		if (count_all(q, st))
			pr_warn("quota: cannot count the objects again; using the old counts\n");
		pthread_mutex_lock(&q->lock);
	}
	w = who_get(q, cid);
	if (w && w->objects >= q->l.objects_per_cluster) {
		*n = w->objects;
		err = -EDQUOT;
	}
	pthread_mutex_unlock(&q->lock);
	return err;
}

void srv_quota_created(struct srv_quota *q, const char *key, const char *cid)
{
	pthread_mutex_lock(&q->lock);
	add_key(q, key, cid);
	pthread_mutex_unlock(&q->lock);
}
