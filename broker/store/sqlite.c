/* SQLite store: one database file DIR/broker.db in WAL mode with synchronous=FULL, so a
 * write the API acknowledged is on disk (it survives kill -9 and power loss). Every changed
 * key gets the next value of one revision counter; public changes also go into a change
 * log, trimmed to the last history_limit revisions and history_bytes bytes, that serves
 * watch resume. One
 * connection behind one mutex: the broker's write rate is small and this keeps the
 * revision order and the change feed order the same by construction. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/store/store.h"
#include "common/log.h"

struct sq {
	sqlite3 *db;
	pthread_mutex_t lock;
	uint64_t rev, compacted;
	uint64_t log_bytes;	/* bytes of values in the change log */
	store_event_fn feed;
	void *feed_ctx;
	sqlite3_stmt *get, *put, *del, *log, *setmeta, *trim, *sum_upto;
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL,"
	" mod_rev INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS changes (rev INTEGER PRIMARY KEY, type INTEGER NOT NULL,"
	" key TEXT NOT NULL, value TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
	"INSERT OR IGNORE INTO meta VALUES ('rev', 0), ('compacted', 0);";

static bool is_public(const char *key)
{
	return key[0] == 'r' && key[1] == '/';
}

static int sq_err(struct sq *s, const char *what)
{
	pr_err("sqlite %s: %s\n", what, sqlite3_errmsg(s->db));
	return -EIO;
}

static int exec(struct sq *s, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		pr_err("sqlite exec %.40s: %s\n", sql, msg ? msg : "?");
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

static int prep(struct sq *s, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
		return sq_err(s, "prepare");
	return 0;
}

static int meta_get(struct sq *s, const char *k, uint64_t *v)
{
	sqlite3_stmt *st;
	int err = -EIO;

	if (sqlite3_prepare_v2(s->db, "SELECT v FROM meta WHERE k = ?", -1, &st, NULL) != SQLITE_OK)
		return sq_err(s, "prepare");
	sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*v = (uint64_t)sqlite3_column_int64(st, 0);
		err = 0;
	}
	sqlite3_finalize(st);
	return err;
}

static int log_size(struct sq *s)
{
	sqlite3_stmt *st;
	int err = -EIO;

	if (sqlite3_prepare_v2(s->db, "SELECT COALESCE(SUM(length(value)), 0) FROM changes", -1, &st,
			       NULL) != SQLITE_OK)
		return sq_err(s, "prepare");
	if (sqlite3_step(st) == SQLITE_ROW) {
		s->log_bytes = (uint64_t)sqlite3_column_int64(st, 0);
		err = 0;
	}
	sqlite3_finalize(st);
	return err;
}

/* The bytes of the changes up to revision upto (the count trim's: one or two rows). */
static int bytes_upto(struct sq *s, uint64_t upto, uint64_t *bytes)
{
	int err = -EIO;

	sqlite3_bind_int64(s->sum_upto, 1, (sqlite3_int64)upto);
	if (sqlite3_step(s->sum_upto) == SQLITE_ROW) {
		*bytes = (uint64_t)sqlite3_column_int64(s->sum_upto, 0);
		err = 0;
	}
	sqlite3_reset(s->sum_upto);
	return err ? sq_err(s, "sum") : 0;
}

/* The revision up to which the oldest changes must go for the log to hold at most max
 * bytes (0: none need to), and the bytes they hold. In the transaction. */
static int log_trim_point(struct sq *s, uint64_t max, uint64_t *upto, uint64_t *freed)
{
	sqlite3_stmt *st;
	int rc;

	*upto = 0;
	*freed = 0;
	if (s->log_bytes <= max)
		return 0;
	if (sqlite3_prepare_v2(s->db, "SELECT rev, length(value) FROM changes ORDER BY rev", -1, &st,
			       NULL) != SQLITE_OK)
		return sq_err(s, "prepare");
	while (s->log_bytes - *freed > max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*upto = (uint64_t)sqlite3_column_int64(st, 0);
		*freed += (uint64_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return 0;
}

static void sq_close(struct store *bs)
{
	struct sq *s = bs->priv;

	if (!s)
		return;
	sqlite3_finalize(s->get);
	sqlite3_finalize(s->put);
	sqlite3_finalize(s->del);
	sqlite3_finalize(s->log);
	sqlite3_finalize(s->setmeta);
	sqlite3_finalize(s->trim);
	sqlite3_finalize(s->sum_upto);
	sqlite3_close(s->db);
	pthread_mutex_destroy(&s->lock);
	free(s);
	bs->priv = NULL;
}

static int sq_open(struct store *bs, const char *spec, const char *dir)
{
	char path[PATH_MAX];
	struct sq *s;
	int err;

	if (snprintf(path, sizeof(path), "%s/broker.db", dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	bs->priv = s;
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		pr_err("open %s: %s\n", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
		err = -EIO;
		goto err;
	}
	sqlite3_busy_timeout(s->db, 5000);
	err = exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
	if (!err)
		err = exec(s, schema);
	if (!err)
		err = meta_get(s, "rev", &s->rev);
	if (!err)
		err = meta_get(s, "compacted", &s->compacted);
	if (!err)
		err = log_size(s);
	if (!err)
		err = prep(s, "SELECT value, mod_rev FROM kv WHERE key = ?", &s->get);
	if (!err)
		err = prep(s, "INSERT OR REPLACE INTO kv (key, value, mod_rev) VALUES (?, ?, ?)", &s->put);
	if (!err)
		err = prep(s, "DELETE FROM kv WHERE key = ?", &s->del);
	if (!err)
		err = prep(s, "INSERT INTO changes (rev, type, key, value) VALUES (?, ?, ?, ?)", &s->log);
	if (!err)
		err = prep(s, "UPDATE meta SET v = ? WHERE k = ?", &s->setmeta);
	if (!err)
		err = prep(s, "DELETE FROM changes WHERE rev <= ?", &s->trim);
	if (!err)
		err = prep(s, "SELECT COALESCE(SUM(length(value)), 0) FROM changes WHERE rev <= ?",
			   &s->sum_upto);
	if (err)
		goto err;
	pr_info("store sqlite %s: revision %llu\n", path, (unsigned long long)s->rev);
	return 0;
err:
	sq_close(bs);
	return err;
}

/* Looks a key up; returns 0, -ENOENT or -EIO. *value (optional) is malloc'd. */
static int lookup(struct sq *s, const char *key, char **value, uint64_t *mod_rev)
{
	int rc, err;

	sqlite3_reset(s->get);
	sqlite3_bind_text(s->get, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s->get);
	if (rc == SQLITE_DONE) {
		err = -ENOENT;
	} else if (rc == SQLITE_ROW) {
		err = 0;
		if (mod_rev)
			*mod_rev = (uint64_t)sqlite3_column_int64(s->get, 1);
		if (value) {
			*value = strdup((const char *)sqlite3_column_text(s->get, 0));
			if (!*value)
				err = -ENOMEM;
		}
	} else {
		err = sq_err(s, "get");
	}
	sqlite3_reset(s->get);
	return err;
}

static int sq_get(struct store *bs, const char *key, char **value, uint64_t *mod_rev)
{
	struct sq *s = bs->priv;
	int err;

	pthread_mutex_lock(&s->lock);
	err = lookup(s, key, value, mod_rev);
	pthread_mutex_unlock(&s->lock);
	return err;
}

static int sq_range(struct store *bs, const char *prefix, store_kv_fn fn, void *ctx,
		    uint64_t *rev)
{
	struct sq *s = bs->priv;
	sqlite3_stmt *st = NULL;
	char hi[STORE_KEY_MAX + 2];
	size_t n = strlen(prefix);
	int rc, err = 0;

	if (n == 0 || n >= STORE_KEY_MAX)
		return -EINVAL;
	/* [prefix, prefix with its last byte + 1): every key starting with prefix. */
	memcpy(hi, prefix, n + 1);
	hi[n - 1]++;
	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db, "SELECT key, value, mod_rev FROM kv WHERE key >= ? AND key < ?"
			       " ORDER BY key", -1, &st, NULL) != SQLITE_OK) {
		err = sq_err(s, "prepare");
		goto out;
	}
	sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, hi, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		err = fn((const char *)sqlite3_column_text(st, 0),
			 (const char *)sqlite3_column_text(st, 1),
			 (uint64_t)sqlite3_column_int64(st, 2), ctx);
		if (err)
			goto out;
	}
	if (rc != SQLITE_DONE)
		err = sq_err(s, "range");
	if (rev)
		*rev = s->rev;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->lock);
	return err;
}

static int sq_page(struct store *bs, const char *prefix, const char *after, uint64_t at_rev,
		   size_t limit, store_kv_fn fn, void *ctx, uint64_t *rev, bool *more)
{
	struct sq *s = bs->priv;
	sqlite3_stmt *st = NULL;
	char hi[STORE_KEY_MAX + 2];
	size_t n = strlen(prefix), got = 0;
	int rc, err = 0;

	*more = false;
	if (n == 0 || n >= STORE_KEY_MAX || (after && strncmp(after, prefix, n)))
		return -EINVAL;
	memcpy(hi, prefix, n + 1);
	hi[n - 1]++;
	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db, after ?
			       "SELECT key, value, mod_rev FROM kv WHERE key > ? AND key < ? ORDER BY key LIMIT ?" :
			       "SELECT key, value, mod_rev FROM kv WHERE key >= ? AND key < ? ORDER BY key LIMIT ?",
			       -1, &st, NULL) != SQLITE_OK) {
		err = sq_err(s, "prepare");
		goto out;
	}
	sqlite3_bind_text(st, 1, after ? after : prefix, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, hi, -1, SQLITE_STATIC);
	/* one more row than asked says whether the page is the last */
	sqlite3_bind_int64(st, 3, limit ? (sqlite3_int64)limit + 1 : -1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (limit && got == limit) {
			*more = true;
			break;
		}
		err = fn((const char *)sqlite3_column_text(st, 0),
			 (const char *)sqlite3_column_text(st, 1),
			 (uint64_t)sqlite3_column_int64(st, 2), ctx);
		if (err > 0) {
			*more = true;
			err = 0;
			break;
		}
		if (err)
			goto out;
		got++;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		err = sq_err(s, "page");
	if (rev)
		*rev = s->rev;
	(void)at_rev;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->lock);
	return err;
}

static int step_done(struct sq *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : sq_err(s, what);
}

static int set_meta(struct sq *s, const char *k, uint64_t v)
{
	sqlite3_bind_int64(s->setmeta, 1, (sqlite3_int64)v);
	sqlite3_bind_text(s->setmeta, 2, k, -1, SQLITE_STATIC);
	return step_done(s, s->setmeta, "set meta");
}

struct pending {
	struct store_event ev;
	char *old;
};

static int sq_txn(struct store *bs, const struct store_txn_op *ops, size_t n, uint64_t *rev_out,
		  size_t *failed)
{
	struct sq *s = bs->priv;
	struct pending *evs = calloc(n ? n : 1, sizeof(*evs));
	size_t nev = 0;
	uint64_t rev, compacted, log_bytes, upto, freed;
	int err = 0;

	if (!evs)
		return -ENOMEM;
	pthread_mutex_lock(&s->lock);
	rev = s->rev;
	compacted = s->compacted;
	log_bytes = s->log_bytes;
	err = exec(s, "BEGIN IMMEDIATE");
	if (err)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct store_txn_op *op = &ops[i];
		uint64_t cur = 0;
		char *old = NULL;
		int found = lookup(s, op->key, is_public(op->key) ? &old : NULL, &cur);

		if (found && found != -ENOENT) {
			err = found;
			goto rollback;
		}
		if ((op->cond == STORE_IF_ABSENT && found == 0) ||
		    (op->cond == STORE_IF_REV && (found || cur != op->rev))) {
			free(old);
			if (failed)
				*failed = i;
			err = -ECANCELED;
			goto rollback;
		}
		if (op->del && found) {	/* deleting nothing is a no-op, like etcd */
			free(old);
			continue;
		}
		rev++;
		if (op->del) {
			sqlite3_bind_text(s->del, 1, op->key, -1, SQLITE_STATIC);
			err = step_done(s, s->del, "delete");
		} else {
			sqlite3_bind_text(s->put, 1, op->key, -1, SQLITE_STATIC);
			sqlite3_bind_text(s->put, 2, op->value, -1, SQLITE_STATIC);
			sqlite3_bind_int64(s->put, 3, (sqlite3_int64)rev);
			err = step_done(s, s->put, "put");
		}
		if (!err && is_public(op->key)) {
			struct store_event *ev = &evs[nev].ev;

			ev->rev = rev;
			ev->key = op->key;
			ev->type = op->del ? STORE_EV_DELETED : found ? STORE_EV_ADDED : STORE_EV_MODIFIED;
			ev->value = op->del ? old : op->value;
			evs[nev++].old = old;
			old = NULL;
			sqlite3_bind_int64(s->log, 1, (sqlite3_int64)rev);
			sqlite3_bind_int(s->log, 2, (int)ev->type);
			sqlite3_bind_text(s->log, 3, ev->key, -1, SQLITE_STATIC);
			sqlite3_bind_text(s->log, 4, ev->value, -1, SQLITE_STATIC);
			err = step_done(s, s->log, "log");
			s->log_bytes += strlen(ev->value);
		}
		free(old);
		if (err)
			goto rollback;
	}
	err = set_meta(s, "rev", rev);
	if (!err && bs->history_limit && rev > s->compacted + bs->history_limit) {
		uint64_t c = rev - bs->history_limit;

		err = bytes_upto(s, c, &freed);
		sqlite3_bind_int64(s->trim, 1, (sqlite3_int64)c);
		if (!err)
			err = step_done(s, s->trim, "trim");
		if (!err)
			err = set_meta(s, "compacted", c);
		if (!err)
			s->log_bytes -= freed < s->log_bytes ? freed : s->log_bytes;
		compacted = c;
	}
	/* the change log's bytes are bounded too: large objects written often must not make
	 * the database grow without end (watch resume past the bound gets 410, and relists) */
	if (!err && bs->history_bytes)
		err = log_trim_point(s, bs->history_bytes, &upto, &freed);
	if (!err && bs->history_bytes && upto) {
		sqlite3_bind_int64(s->trim, 1, (sqlite3_int64)upto);
		err = step_done(s, s->trim, "trim");
		if (!err && upto > compacted)
			err = set_meta(s, "compacted", upto);
		if (!err && upto > compacted)
			compacted = upto;
		s->log_bytes -= freed;
	}
	if (err)
		goto rollback;
	err = exec(s, "COMMIT");
	if (err)
		goto rollback;
	s->rev = rev;
	s->compacted = compacted;
	if (rev_out)
		*rev_out = rev;
	/* Still under the lock: the feed sees changes in revision order. */
	for (size_t i = 0; i < nev && s->feed; i++)
		s->feed(&evs[i].ev, s->feed_ctx);
	goto out;
rollback:
	if (exec(s, "ROLLBACK"))
		pr_err("sqlite rollback failed\n");
	s->log_bytes = log_bytes;
out:
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < nev; i++)
		free(evs[i].old);
	free(evs);
	return err;
}

static int sq_history(struct store *bs, uint64_t after, uint64_t upto, store_event_fn fn,
		      void *ctx)
{
	struct sq *s = bs->priv;
	sqlite3_stmt *st = NULL;
	int rc, err = 0;

	pthread_mutex_lock(&s->lock);
	if (after < s->compacted) {
		err = -ESTALE;
		goto out;
	}
	if (sqlite3_prepare_v2(s->db, "SELECT rev, type, key, value FROM changes WHERE rev > ?"
			       " AND rev <= ? ORDER BY rev", -1, &st, NULL) != SQLITE_OK) {
		err = sq_err(s, "prepare");
		goto out;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)after);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)(upto > INT64_MAX ? INT64_MAX : upto));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_event ev = {
			.rev = (uint64_t)sqlite3_column_int64(st, 0),
			.type = (enum store_ev_type)sqlite3_column_int(st, 1),
			.key = (const char *)sqlite3_column_text(st, 2),
			.value = (const char *)sqlite3_column_text(st, 3),
		};
		fn(&ev, ctx);
	}
	if (rc != SQLITE_DONE)
		err = sq_err(s, "history");
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->lock);
	return err;
}

static int sq_revision(struct store *bs, uint64_t *rev)
{
	struct sq *s = bs->priv;

	pthread_mutex_lock(&s->lock);
	*rev = s->rev;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int sq_feed_start(struct store *bs, uint64_t after, store_event_fn fn, void *ctx)
{
	struct sq *s = bs->priv;

	pthread_mutex_lock(&s->lock);
	/* Only this process writes the file, so nothing can have happened since `after`
	 * that the caller did not see, unless it passed an old revision on purpose. */
	s->feed = fn;
	s->feed_ctx = ctx;
	pthread_mutex_unlock(&s->lock);
	return after > s->rev ? -EINVAL : 0;
}

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.get = sq_get,
	.range = sq_range,
	.page = sq_page,
	.txn = sq_txn,
	.history = sq_history,
	.revision = sq_revision,
	.feed_start = sq_feed_start,
};
