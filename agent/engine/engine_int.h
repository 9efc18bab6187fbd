/* The gateway engine's state, shared by its files: engine.c (start, stop, events),
 * remote.c (the table of remote clusters), cache.c (that table on disk), publish.c (this
 * cluster's Endpoint), conns.c (connection status) and certs.c (this gateway's IKE
 * certificate). Not a public interface. */
#ifndef SA_ENGINE_INT_H
#define SA_ENGINE_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "agent/cable/cable.h"
#include "agent/cable/strongswan/charon.h"
#include "agent/engine/admit.h"
#include "agent/engine/engine.h"
#include "broker/client/endpoint.h"
#include "broker/creds/origin.h"

#define ENGINE_MAX_REMOTES 64
#define ENGINE_MAX_CLUSTERS 256

enum { ENG_SRC_ENDPOINTS, ENG_SRC_CLUSTERS };

struct eng_remote {
	struct sa_endpoint ep;
	uint32_t use_ip;	/* the remote address the cable uses */
	bool nat;		/* either side is behind NAT */
	bool connected;		/* the cable accepted the connection */
	uint64_t since_ns;	/* when the connection was (re)made */
};

/* This gateway's IKE key and certificate (certs.c). */
struct eng_certs {
	bool wanted;			/* ipsec with certificates (no PSK) */
	char *key, *cert, *chain;	/* key: a secret; cert NULL: none yet */
	time_t not_before, not_after;
	uint64_t next_ns, backoff_ns;	/* next renewal or retry (monotonic) */
	bool expired_logged;
};

struct engine {
	struct engine_cfg c;
	const struct cable_ops *cops;
	struct cable_driver *cable;
	int cable_fd;
	struct charon_opts charon;
	char charon_dir[PATH_MAX];
	struct health *health;
	struct responder *responder;	/* echo for `subagent verify` */
	struct gn_agent *gn;		/* globalnet */
	struct brk_queue *q;
	struct brk_informer *inf;		/* endpoints */
	struct brk_informer *inf_clusters;
	bool synced_once;
	struct origin origin;			/* what the caches must name (cache.c) */
	unsigned flags;			/* ENGINE_F_* gathered for engine_on_fd() */

	struct sa_endpoint local;
	uint32_t private_ip, public_ip;
	bool local_published;
	uint64_t next_publish_ns, publish_backoff_ns;

	struct eng_remote r[ENGINE_MAX_REMOTES];
	unsigned n;

	/* every registered cluster, as the broker (or the cache) says: what a remote
	 * Endpoint may claim (clusters.c, admit.h) */
	struct admit_cluster *clusters;
	unsigned n_clusters;
	bool clusters_synced;

	struct eng_certs certs;
};

/* remote.c: 1 when the table changed. */
int eng_remote_upsert(struct engine *e, const cJSON *obj);
int eng_remote_delete(struct engine *e, const cJSON *obj);
/* After a (re)list: remotes that came from the disk cache but are gone from the broker. */
int eng_remote_reconcile(struct engine *e);
void eng_remote_drop(struct engine *e, struct eng_remote *r, const char *why);
/* After the registered clusters changed: remotes that no longer pass are dropped, and
 * endpoints the informer holds that were refused are tried again. */
int eng_remote_recheck(struct engine *e);

/* clusters.c: 1 when the table changed. */
int eng_cluster_upsert(struct engine *e, const cJSON *obj);
int eng_cluster_delete(struct engine *e, const cJSON *obj);
/* After a (re)list of clusters: the ones gone from the broker. */
int eng_cluster_reconcile(struct engine *e);
const struct admit_cluster *eng_cluster_find(const struct engine *e, const char *id);
void eng_clusters_free(struct engine *e);
void eng_to_cable(const struct sa_endpoint *ep, struct cable_endpoint *out);

/* cache.c */
void eng_cache_save(struct engine *e);
void eng_cache_load(struct engine *e);

/* certs.c */
/* Loads the certificate kept in the state directory or gets one from the broker (never
 * fails: without one the tunnels wait and it is retried). */
void eng_certs_init(struct engine *e);
/* What the cable authenticates with (pointers into e and its configuration). */
void eng_certs_creds(const struct engine *e, struct cable_creds *out);
/* Renews when due and hands the new certificate to the cable. */
void eng_certs_tick(struct engine *e, uint64_t now);
void eng_certs_free(struct engine *e);

/* publish.c */
int eng_local_init(struct engine *e) __attribute__((warn_unused_result));
void eng_publish_endpoint(struct engine *e, uint64_t now);

#endif
