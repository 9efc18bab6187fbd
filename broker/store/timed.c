/* A store that times every call of another one into the broker's store metrics
 * (subagent_broker_store_duration_seconds, subagent_broker_store_errors_total), so the
 * backends stay free of metrics code. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "broker/store/store.h"
#include "common/metrics.h"
#include "common/util.h"

struct timed {
	struct store_ops ops;	/* the backend's name, these functions */
	struct store *in;
};

static const double bounds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
				 0.25, 0.5, 1, 2.5 };

static struct store *inner(struct store *st)
{
	return ((struct timed *)st->priv)->in;
}

/* -ENOENT (absent) and -ECANCELED (a condition failed) are answers, not failures. */
static int done(struct store *st, const char *op, uint64_t t0, int err)
{
	double s = (double)(util_now_ns() - t0) / 1e9;

	metrics_observe("subagent_broker_store_duration_seconds", s, st->ops->name, op);
	if (err && err != -ENOENT && err != -ECANCELED)
		metrics_inc("subagent_broker_store_errors_total", st->ops->name, op);
	return err;
}

static int t_open(struct store *st, const char *spec, const char *dir)
{
	return -EOPNOTSUPP;	/* opened by store_timed() */
}

static void t_close(struct store *st)
{
	store_close(inner(st));
	free(st->priv);
}

static int t_get(struct store *st, const char *key, char **value, uint64_t *mod_rev)
{
	uint64_t t0 = util_now_ns();

	return done(st, "get", t0, inner(st)->ops->get(inner(st), key, value, mod_rev));
}

static int t_range(struct store *st, const char *prefix, store_kv_fn fn, void *ctx,
		   uint64_t *rev)
{
	uint64_t t0 = util_now_ns();

	return done(st, "range", t0, inner(st)->ops->range(inner(st), prefix, fn, ctx, rev));
}

static int t_page(struct store *st, const char *prefix, const char *after, uint64_t at_rev,
		  size_t limit, store_kv_fn fn, void *ctx, uint64_t *rev, bool *more)
{
	uint64_t t0 = util_now_ns();

	return done(st, "page", t0, inner(st)->ops->page(inner(st), prefix, after, at_rev, limit,
							   fn, ctx, rev, more));
}

static int t_txn(struct store *st, const struct store_txn_op *ops, size_t n, uint64_t *rev,
		 size_t *failed)
{
	uint64_t t0 = util_now_ns();

	return done(st, "txn", t0, inner(st)->ops->txn(inner(st), ops, n, rev, failed));
}

static int t_history(struct store *st, uint64_t after, uint64_t upto, store_event_fn fn,
		     void *ctx)
{
	uint64_t t0 = util_now_ns();

	return done(st, "history", t0,
		    inner(st)->ops->history(inner(st), after, upto, fn, ctx));
}

static int t_revision(struct store *st, uint64_t *rev)
{
	uint64_t t0 = util_now_ns();

	return done(st, "revision", t0, inner(st)->ops->revision(inner(st), rev));
}

static int t_feed_start(struct store *st, uint64_t after, store_event_fn fn, void *ctx)
{
	return inner(st)->ops->feed_start(inner(st), after, fn, ctx);
}

struct store *store_timed(struct store *in)
{
	struct store *st = calloc(1, sizeof(*st));
	struct timed *t = calloc(1, sizeof(*t));
	int err;

	if (!in || !st || !t)
		goto fail;
	err = metrics_define_histogram("subagent_broker_store_duration_seconds",
				       "Time the broker's store took per call, by store and operation",
				       "store,op", bounds, ARRAY_SIZE(bounds));
	if (!err)
		err = metrics_define("subagent_broker_store_errors_total", METRICS_COUNTER,
				     "Store calls that failed, by store and operation", "store,op");
	if (err) {
		errno = -err;
		goto fail;
	}
	t->in = in;
	t->ops = (struct store_ops){
		.name = in->ops->name, .open = t_open, .close = t_close, .get = t_get,
		.range = t_range, .page = t_page, .txn = t_txn, .history = t_history, .revision = t_revision,
		.feed_start = t_feed_start,
	};
	st->ops = &t->ops;
	st->priv = t;
	st->history_limit = in->history_limit;
	st->history_bytes = in->history_bytes;
	return st;
fail:
	free(st);
	free(t);
	store_close(in);
	return NULL;
}
