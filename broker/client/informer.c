/* The informer: lists a resource, then watches it from the list's resourceVersion, keeping
 * a local cache and reporting changes. Reconnects resume from the last resourceVersion;
 * a 410 Gone or a failed reconnect relists and reports the difference. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/client/client_int.h"
#include "common/log.h"
#include "common/name.h"
#include "common/util.h"

#define BACKOFF_MIN_MS 250

struct brk_informer {
	struct brk_client *c;
	char resource[64];
	struct brk_informer_ops ops;
	void *ctx;
	pthread_t thread;
	CURL *h;
	atomic_bool stop;
	pthread_mutex_t lock;		/* cache, rv, stats, synced; and the stop condvar */
	pthread_cond_t cond;
	cJSON *cache;			/* object: name -> object */
	uint64_t rv;
	bool synced;
	struct brk_informer_stats stats;
	bool gone;			/* the watch saw ERROR 410 */
	unsigned backoff_ms;
	unsigned retry_after_ms;	/* the broker said 429: wait at least this */
	uint64_t warned_ns;
};

static void sleep_backoff(struct brk_informer *inf)
{
	unsigned ms, jitter;
	struct timespec ts;
	unsigned char r[2] = { 0, 0 };

	inf->backoff_ms = (unsigned)util_backoff(inf->backoff_ms, BACKOFF_MIN_MS, BRK_BACKOFF_MAX_MS);
	/* half fixed, half random: replicas of a restarted broker are not stampeded */
	(void)!util_random(r, sizeof(r));
	jitter = ((unsigned)r[0] << 8 | r[1]) % (inf->backoff_ms / 2 + 1);
	ms = inf->backoff_ms / 2 + jitter;
	if (ms < inf->retry_after_ms)
		ms = inf->retry_after_ms + jitter;	/* a quota: come back when it allows */
	inf->retry_after_ms = 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&inf->lock);
	while (!atomic_load(&inf->stop) &&
	       pthread_cond_timedwait(&inf->cond, &inf->lock, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&inf->lock);
}

/* Warnings while the broker is away: at most one every 30 s. */
static void warn_limited(struct brk_informer *inf, const char *what, const char *msg)
{
	uint64_t now = util_now_ns();

	if (inf->warned_ns && now - inf->warned_ns < 30ull * NSEC_PER_SEC) {
		pr_debug("%s %s: %s\n", what, inf->resource, msg);
		return;
	}
	inf->warned_ns = now;
	pr_warn("%s %s: %s\n", what, inf->resource, msg);
}

static bool same_rv(const cJSON *a, const cJSON *b)
{
	const char *ra = brk_obj_rv(a), *rb = brk_obj_rv(b);

	return ra && rb && !strcmp(ra, rb);
}

/* Replaces the cache by the items of a list, reporting adds, updates and deletes. */
static int apply_list(struct brk_informer *inf, cJSON *list)
{
	cJSON *items = cJSON_GetObjectItemCaseSensitive(list, "items"), *it, *next;
	cJSON *fresh = cJSON_CreateObject(), *old;
	const char *rv_s = brk_obj_rv(list);
	uint64_t rv;

	if (!fresh)
		return -ENOMEM;
	if (!cJSON_IsArray(items) || brk_rv_parse(rv_s, &rv)) {
		cJSON_Delete(fresh);
		warn_limited(inf, "list", "the list has no items or no metadata.resourceVersion");
		return -EBADMSG;
	}
	for (it = items->child; it; it = next) {
		const char *name = brk_obj_name(it);

		next = it->next;
		if (!cJSON_IsObject(it) || !name || !name_is_dns_subdomain(name) ||
		    cJSON_GetObjectItemCaseSensitive(fresh, name)) {
			pr_warn("list %s: skipping an item without a valid, unique metadata.name\n",
				inf->resource);
			inf->stats.bad_lines++;
			continue;
		}
		cJSON_DetachItemViaPointer(items, it);
		cJSON_AddItemToObject(fresh, name, it);
	}
	pthread_mutex_lock(&inf->lock);
	old = inf->cache;
	inf->cache = fresh;
	inf->rv = rv;
	inf->synced = true;
	inf->stats.lists++;
	pthread_mutex_unlock(&inf->lock);

	for (it = fresh->child; it; it = it->next) {
		cJSON *prev = cJSON_GetObjectItemCaseSensitive(old, it->string);

		if (!prev) {
			if (inf->ops.on_add)
				inf->ops.on_add(it, inf->ctx);
		} else if (!same_rv(prev, it)) {
			if (inf->ops.on_update)
				inf->ops.on_update(it, inf->ctx);
		}
	}
	for (it = old ? old->child : NULL; it; it = it->next)
		if (!cJSON_GetObjectItemCaseSensitive(fresh, it->string) && inf->ops.on_delete)
			inf->ops.on_delete(it, inf->ctx);
	cJSON_Delete(old);
	if (inf->ops.on_synced)
		inf->ops.on_synced(inf->ctx);
	return 0;
}

static int relist(struct brk_informer *inf)
{
	struct brk_status st;
	cJSON *list;
	int ret;

	/* page by page: a list larger than one response still arrives whole */
	ret = brk_list_all(inf->c, inf->h, &inf->stop, inf->resource, &list, &st);
	if (ret == -EAGAIN)
		inf->retry_after_ms = st.retry_after_s * 1000;
	if (ret) {
		if (ret != -ECANCELED)
			warn_limited(inf, "list", st.message);
		return ret;
	}
	ret = apply_list(inf, list);
	cJSON_Delete(list);
	return ret;
}

static void apply_event(struct brk_informer *inf, struct brk_watch_event *ev)
{
	cJSON *prev, *obj = ev->object;
	const char *name = ev->name;

	pthread_mutex_lock(&inf->lock);
	if (ev->rv > inf->rv)
		inf->rv = ev->rv;
	inf->stats.events++;
	if (ev->type == BRK_EV_BOOKMARK) {
		inf->stats.bookmarks++;
		pthread_mutex_unlock(&inf->lock);
		return;
	}
	prev = cJSON_GetObjectItemCaseSensitive(inf->cache, name);
	if (ev->type == BRK_EV_DELETED) {
		if (prev)
			cJSON_DetachItemViaPointer(inf->cache, prev);
		pthread_mutex_unlock(&inf->lock);
		if (prev && inf->ops.on_delete)
			inf->ops.on_delete(obj, inf->ctx);
		cJSON_Delete(prev);
		return;
	}
	/* ADDED or MODIFIED: a replay of what the cache already holds changes nothing */
	if (prev && same_rv(prev, obj)) {
		pthread_mutex_unlock(&inf->lock);
		return;
	}
	ev->object = NULL;	/* the cache owns it now */
	if (prev)
		cJSON_ReplaceItemInObjectCaseSensitive(inf->cache, name, obj);
	else
		cJSON_AddItemToObject(inf->cache, name, obj);
	pthread_mutex_unlock(&inf->lock);
	/* obj stays valid: only this thread changes the cache */
	if (prev && inf->ops.on_update)
		inf->ops.on_update(obj, inf->ctx);
	else if (!prev && inf->ops.on_add)
		inf->ops.on_add(obj, inf->ctx);
}

static int on_line(void *arg, char *line, size_t len)
{
	struct brk_informer *inf = arg;
	struct brk_watch_event ev;
	char err[BRK_ERR_MAX];

	if (atomic_load(&inf->stop))
		return -ECANCELED;
	if (!line) {
		pr_warn("watch %s: dropped a line longer than %d bytes\n", inf->resource,
			BRK_MAX_WATCH_LINE);
		inf->stats.bad_lines++;
		return 0;
	}
	if (brk_watch_event_parse(line, len, &ev, err)) {
		pr_warn("watch %s: skipping a bad line: %s\n", inf->resource, err);
		inf->stats.bad_lines++;
		return 0;
	}
	if (ev.type == BRK_EV_ERROR) {
		long code = ev.error_code;

		cJSON_Delete(ev.object);
		if (code == 410) {
			inf->gone = true;
			return -ERANGE;	/* ends the transfer; the loop relists */
		}
		pr_warn("watch %s: the broker sent an error (code %ld)\n", inf->resource, code);
		return -EPROTO;
	}
	apply_event(inf, &ev);
	cJSON_Delete(ev.object);
	inf->backoff_ms = 0;	/* the stream works */
	return 0;
}

static int watch(struct brk_informer *inf)
{
	char path[192];
	struct brk_req r = { .method = "GET", .path = path, .watch = true, .on_line = on_line,
			     .arg = inf, .stop = &inf->stop };
	struct brk_status st;
	uint64_t rv;
	int ret;

	pthread_mutex_lock(&inf->lock);
	rv = inf->rv;
	inf->stats.watches++;
	pthread_mutex_unlock(&inf->lock);
	inf->gone = false;
	snprintf(path, sizeof(path), BRK_API_PREFIX "/%s?watch=1&resourceVersion=%llu",
		 inf->resource, (unsigned long long)rv);
	ret = brk_do_request(inf->c, inf->h, &r, &st);
	free(r.resp);
	if (ret == -EAGAIN)
		inf->retry_after_ms = st.retry_after_s * 1000;
	if (inf->gone || ret == -ERANGE) {
		pthread_mutex_lock(&inf->lock);
		inf->stats.gone++;
		pthread_mutex_unlock(&inf->lock);
		pr_info("watch %s: resourceVersion %llu is too old; relisting\n", inf->resource,
			(unsigned long long)rv);
		return -ERANGE;
	}
	if (r.streamed && ret != -ECANCELED) {
		pr_debug("watch %s: %s; resuming from %llu\n", inf->resource, st.message,
			 (unsigned long long)inf->rv);
		return 0;	/* established then ended: resume */
	}
	if (ret && ret != -ECANCELED)
		warn_limited(inf, "watch", st.message);
	return ret ? ret : -EPROTO;
}

static void *informer_main(void *arg)
{
	struct brk_informer *inf = arg;
	bool need_list = true;

	while (!atomic_load(&inf->stop)) {
		int ret;

		if (need_list) {
			ret = relist(inf);
			if (ret) {
				if (!atomic_load(&inf->stop))
					sleep_backoff(inf);
				continue;
			}
			need_list = false;
		}
		ret = watch(inf);
		if (atomic_load(&inf->stop))
			break;
		if (ret == 0) {
			/* a stream that ends at once again and again must not spin */
			if (inf->backoff_ms)
				sleep_backoff(inf);
			else
				inf->backoff_ms = BACKOFF_MIN_MS / 2;
			continue;
		}
		need_list = true;	/* 410, or the reconnect failed */
		if (ret != -ERANGE)
			sleep_backoff(inf);
	}
	return NULL;
}

struct brk_informer *brk_informer_start(struct brk_client *c, const char *resource,
					const struct brk_informer_ops *ops, void *ctx)
{
	struct brk_informer *inf;
	int err;

	if (!c || !resource || !brk_resource_ok(resource) || !ops) {
		errno = EINVAL;
		return NULL;
	}
	inf = calloc(1, sizeof(*inf));
	if (!inf)
		return NULL;
	inf->c = c;
	strcpy(inf->resource, resource);
	inf->ops = *ops;
	inf->ctx = ctx;
	pthread_mutex_init(&inf->lock, NULL);
	pthread_cond_init(&inf->cond, NULL);
	inf->cache = cJSON_CreateObject();
	inf->h = curl_easy_init();
	if (!inf->cache || !inf->h) {
		err = ENOMEM;
		goto err;
	}
	err = pthread_create(&inf->thread, NULL, informer_main, inf);
	if (err)
		goto err;
	return inf;
err:
	cJSON_Delete(inf->cache);
	if (inf->h)
		curl_easy_cleanup(inf->h);
	pthread_cond_destroy(&inf->cond);
	pthread_mutex_destroy(&inf->lock);
	free(inf);
	errno = err;
	return NULL;
}

void brk_informer_cancel(struct brk_informer *inf)
{
	if (!inf)
		return;
	pthread_mutex_lock(&inf->lock);
	atomic_store(&inf->stop, true);
	pthread_cond_broadcast(&inf->cond);
	pthread_mutex_unlock(&inf->lock);
}

void brk_informer_stop(struct brk_informer *inf)
{
	if (!inf)
		return;
	brk_informer_cancel(inf);
	pthread_join(inf->thread, NULL);
	curl_easy_cleanup(inf->h);
	cJSON_Delete(inf->cache);
	pthread_cond_destroy(&inf->cond);
	pthread_mutex_destroy(&inf->lock);
	free(inf);
}

bool brk_informer_synced(struct brk_informer *inf)
{
	bool s;

	pthread_mutex_lock(&inf->lock);
	s = inf->synced;
	pthread_mutex_unlock(&inf->lock);
	return s;
}

cJSON *brk_informer_get(struct brk_informer *inf, const char *name)
{
	cJSON *o;

	pthread_mutex_lock(&inf->lock);
	o = cJSON_GetObjectItemCaseSensitive(inf->cache, name);
	o = o ? cJSON_Duplicate(o, 1) : NULL;
	pthread_mutex_unlock(&inf->lock);
	return o;
}

cJSON *brk_informer_list(struct brk_informer *inf)
{
	cJSON *arr = cJSON_CreateArray();

	pthread_mutex_lock(&inf->lock);
	for (cJSON *it = inf->cache->child; arr && it; it = it->next) {
		cJSON *d = cJSON_Duplicate(it, 1);

		if (!d || !cJSON_AddItemToArray(arr, d)) {
			cJSON_Delete(d);
			cJSON_Delete(arr);
			arr = NULL;
		}
	}
	pthread_mutex_unlock(&inf->lock);
	return arr;
}

uint64_t brk_informer_rv(struct brk_informer *inf)
{
	uint64_t rv;

	pthread_mutex_lock(&inf->lock);
	rv = inf->rv;
	pthread_mutex_unlock(&inf->lock);
	return rv;
}

void brk_informer_get_stats(struct brk_informer *inf, struct brk_informer_stats *out)
{
	pthread_mutex_lock(&inf->lock);
	*out = inf->stats;
	pthread_mutex_unlock(&inf->lock);
}
