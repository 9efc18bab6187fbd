/* The broker's storage: a small key/value interface with a global revision, conditional
 * transactions and a change feed, implemented by SQLite (store_sqlite.c) and by etcd v3
 * (store_etcd.c). Keys are "r/<resource>/<name>" for API objects (these are logged and
 * watched) and "x/..." for internal records (token hashes, locks), which are not. */
#ifndef SA_BRK_STORE_H
#define SA_BRK_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct brk_store;

enum brk_ev_type { BRK_EV_ADDED, BRK_EV_MODIFIED, BRK_EV_DELETED };

/* One change of a public key. For DELETED, value is the last value before the delete. */
struct brk_event {
	uint64_t rev;
	enum brk_ev_type type;
	const char *key;
	const char *value;
};

/* An event with key == NULL means the feed lost history (etcd compacted it while the feed
 * was reconnecting): consumers must restart from rev, the new head. */
typedef void (*brk_event_fn)(const struct brk_event *ev, void *ctx);
/* Called per key of a range; non-zero stops the range and is returned. */
typedef int (*brk_kv_fn)(const char *key, const char *value, uint64_t mod_rev, void *ctx);

enum brk_cond {
	BRK_IF_ANY,	/* no condition */
	BRK_IF_ABSENT,	/* key must not exist */
	BRK_IF_REV,	/* key must exist with mod revision == rev */
};

struct brk_txn_op {
	bool del;		/* delete key, else put value */
	const char *key;
	const char *value;
	enum brk_cond cond;
	uint64_t rev;
};

struct brk_store_ops {
	const char *name;
	int (*open)(struct brk_store *st, const char *spec, const char *dir);
	void (*close)(struct brk_store *st);
	/* -ENOENT when absent. */
	int (*get)(struct brk_store *st, const char *key, char **value, uint64_t *mod_rev);
	/* Every key under prefix in key order, from one snapshot whose revision goes to *rev. */
	int (*range)(struct brk_store *st, const char *prefix, brk_kv_fn fn, void *ctx,
		     uint64_t *rev);
	/* All or nothing. -ECANCELED with *failed = index of the first op whose condition
	 * failed. *rev = the revision of the change. A transaction changes at most one
	 * public key: etcd gives all keys of a txn one revision, and a watch resumes
	 * "after revision N", so two public changes must never share one. */
	int (*txn)(struct brk_store *st, const struct brk_txn_op *ops, size_t n, uint64_t *rev,
		   size_t *failed);
	/* Public changes with after < rev <= upto, in order; -ESTALE when history before
	 * `after` is no longer kept (compacted). */
	int (*history)(struct brk_store *st, uint64_t after, uint64_t upto, brk_event_fn fn,
		       void *ctx);
	/* The current revision. */
	int (*revision)(struct brk_store *st, uint64_t *rev);
	/* Starts delivering every public change with rev > after, in order, to fn (from any
	 * thread, one at a time). Writes made through this store and through any other client
	 * of the same backend both arrive here. */
	int (*feed_start)(struct brk_store *st, uint64_t after, brk_event_fn fn, void *ctx);
};

struct brk_store {
	const struct brk_store_ops *ops;
	void *priv;
	unsigned history_limit;	/* changes kept for watch resume (SQLite) */
};

/* spec: "sqlite" (DIR/broker.db) or "etcd://host:port[,host:port]". Returns NULL and
 * sets errno. history_limit: how many changes SQLite keeps for resume (0: default). */
struct brk_store *brk_store_open(const char *spec, const char *dir, unsigned history_limit);
void brk_store_close(struct brk_store *st);

extern const struct brk_store_ops brk_store_sqlite_ops;
extern const struct brk_store_ops brk_store_etcd_ops;

#define BRK_KEY_MAX 512

#endif
