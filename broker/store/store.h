/* The broker's storage: a small key/value interface with a global revision, conditional
 * transactions and a change feed, implemented by SQLite (store_sqlite.c) and by etcd v3
 * (store_etcd.c). Keys are "r/<resource>/<name>" for API objects (these are logged and
 * watched) and "x/..." for internal records (token hashes, locks), which are not. */
#ifndef SA_BRK_STORE_H
#define SA_BRK_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

enum store_ev_type { STORE_EV_ADDED, STORE_EV_MODIFIED, STORE_EV_DELETED };

/* One change of a public key. For DELETED, value is the last value before the delete. */
struct store_event {
	uint64_t rev;
	enum store_ev_type type;
	const char *key;
	const char *value;
};

/* An event with key == NULL means the feed lost history (etcd compacted it while the feed
 * was reconnecting): consumers must restart from rev, the new head. */
typedef void (*store_event_fn)(const struct store_event *ev, void *ctx);
/* Called per key of a range; non-zero stops the range and is returned. */
typedef int (*store_kv_fn)(const char *key, const char *value, uint64_t mod_rev, void *ctx);

enum store_cond {
	STORE_IF_ANY,	/* no condition */
	STORE_IF_ABSENT,	/* key must not exist */
	STORE_IF_REV,	/* key must exist with mod revision == rev */
};

struct store_txn_op {
	bool del;		/* delete key, else put value */
	const char *key;
	const char *value;
	enum store_cond cond;
	uint64_t rev;
};

struct store_ops {
	const char *name;
	int (*open)(struct store *st, const char *spec, const char *dir);
	void (*close)(struct store *st);
	/* -ENOENT when absent. */
	int (*get)(struct store *st, const char *key, char **value, uint64_t *mod_rev);
	/* Every key under prefix in key order, from one snapshot whose revision goes to *rev. */
	int (*range)(struct store *st, const char *prefix, store_kv_fn fn, void *ctx,
		     uint64_t *rev);
	/* One page of the keys under prefix: those after `after` (NULL: from the first), in
	 * key order, at most limit of them (0: no limit). fn returning > 0 refuses the key it
	 * was given and ends the page there (the caller's byte budget); < 0 is an error,
	 * returned. *more: keys remain after the page. at_rev != 0: etcd reads at that
	 * revision (-ESTALE when compacted); SQLite keeps no old versions and reads the
	 * current state. *rev: the revision read. */
	int (*page)(struct store *st, const char *prefix, const char *after, uint64_t at_rev,
		    size_t limit, store_kv_fn fn, void *ctx, uint64_t *rev, bool *more);
	/* All or nothing. -ECANCELED with *failed = index of the first op whose condition
	 * failed. *rev = the revision of the change. A transaction changes at most one
	 * public key: etcd gives all keys of a txn one revision, and a watch resumes
	 * "after revision N", so two public changes must never share one. */
	int (*txn)(struct store *st, const struct store_txn_op *ops, size_t n, uint64_t *rev,
		   size_t *failed);
	/* Public changes with after < rev <= upto, in order; -ESTALE when history before
	 * `after` is no longer kept (compacted). */
	int (*history)(struct store *st, uint64_t after, uint64_t upto, store_event_fn fn,
		       void *ctx);
	/* The current revision. */
	int (*revision)(struct store *st, uint64_t *rev);
	/* Starts delivering every public change with rev > after, in order, to fn (from any
	 * thread, one at a time). Writes made through this store and through any other client
	 * of the same backend both arrive here. */
	int (*feed_start)(struct store *st, uint64_t after, store_event_fn fn, void *ctx);
};

struct store {
	const struct store_ops *ops;
	void *priv;
	unsigned history_limit;	/* changes kept for watch resume (SQLite) */
	uint64_t history_bytes;	/* and at most about this many bytes of them (0: no bound) */
};

/* The store named plain etcd over HTTP, for tests and networks already private; etcd://
 * is TLS with a client certificate (DIR/etcd-ca.pem, etcd-client.pem, etcd-client-key.pem). */
#define ETCD_PLAIN "etcd+http://"

/* spec: "sqlite" (DIR/broker.db), "etcd://host:port[,host:port]" or ETCD_PLAIN "host:port...".
 * Returns NULL and
 * sets errno. history_limit: how many changes SQLite keeps for resume (0: default). */
struct store *store_open(const char *spec, const char *dir, unsigned history_limit);
void store_close(struct store *st);
/* Wraps in (taking it over): every call is timed into the broker's store metrics. NULL with
 * errno (in is then closed). */
struct store *store_timed(struct store *in);

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_etcd_ops;

#define STORE_KEY_MAX 512

#endif
