/* Per-cluster quotas: objects owned, open watch streams, and the write rate (a token bucket
 * per identity: each cluster, and the join token). The admin is not limited.
 *
 * Object counts follow the store's change feed (so with several replicas on one etcd every
 * replica counts the writes of every other); watches and write rates are counted by each
 * replica for the requests it serves. A count is checked before a create and may be passed
 * by the creates that run at the same moment (at most one per server thread). */
#ifndef SA_SRV_QUOTA_H
#define SA_SRV_QUOTA_H

#include <stdbool.h>
#include <stdint.h>

struct srv_quota;
struct srv_limits;
struct store;
struct store_event;

/* NULL on ENOMEM. l is copied. */
struct srv_quota *srv_quota_new(const struct srv_limits *l);
void srv_quota_free(struct srv_quota *q);
/* Counts every object in the store (at start, before the feed): 0 or a store error. */
int srv_quota_load(struct srv_quota *q, struct store *st) __attribute__((warn_unused_result));
/* Feed callback: follows the objects' owners. An event without key (history lost) makes
 * the next check count again from the store. */
void srv_quota_on_event(struct srv_quota *q, const struct store_event *ev);

/* The join token's name here: no cluster ID can be it (a cluster may be called "join"). */
#define SRV_QUOTA_JOIN "(join token)"

/* One write by who ("c1", or SRV_QUOTA_JOIN): 0, or -EAGAIN with the seconds after which the
 * bucket holds a token again (429). */
int srv_quota_write(struct srv_quota *q, const char *who, unsigned *retry_after_s)
	__attribute__((warn_unused_result));
/* One more watch stream for cluster who: 0 or -EAGAIN (429; *n = how many are open).
 * srv_quota_watch_put() when it ends. */
int srv_quota_watch_get(struct srv_quota *q, const char *who, unsigned *n)
	__attribute__((warn_unused_result));
void srv_quota_watch_put(struct srv_quota *q, const char *who);
/* May cluster cid create one more object? 0, or -EDQUOT with *n = what it owns. */
int srv_quota_objects(struct srv_quota *q, struct store *st, const char *cid, unsigned *n)
	__attribute__((warn_unused_result));
/* A create went through: count it now (the feed may bring it later; counting is by key,
 * so it is counted once). */
void srv_quota_created(struct srv_quota *q, const char *key, const char *cid);

#endif
