/* The broker daemon: configuration, the HTTPS server (libmicrohttpd + GnuTLS) and the
 * request handlers (api.c) it dispatches to. */
#ifndef SA_BRK_SERVER_H
#define SA_BRK_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "common/cidr.h"

struct store;
struct srv_hub;
struct srv_watcher;

/* What one client may use ("limits" in config.json; README, security). */
struct srv_limits {
	unsigned conns_per_addr;	/* open connections from one address */
	unsigned conn_timeout_s;	/* idle connections are closed after this */
	unsigned max_conns;		/* open connections in all */
	unsigned body_bytes;		/* request body (<= SRV_BODY_MAX) */
	unsigned object_bytes;		/* one stored object */
	unsigned objects_per_cluster;	/* objects a cluster owns */
	unsigned watches_per_cluster;	/* watch streams a cluster holds open (per replica) */
	unsigned writes_per_s, write_burst;	/* writes of a cluster or the join token */
	unsigned page_bytes;		/* one page of a paged list, about */
	unsigned history_bytes;		/* change history kept for watch resume, about */
};

struct srv_config {
	char *dir;
	char *listen;		/* "ADDR:PORT" */
	char *metrics_listen;	/* "ADDR:PORT" of the plain-HTTP /metrics, or NULL: none */
	char *store;		/* "sqlite" | "etcd://h:p[,h:p]" */
	bool gn_enabled;
	struct cidr4 gn_range;
	uint8_t gn_prefix;	/* prefix length of one cluster's global CIDR */
	uint64_t gn_max_cluster;	/* addresses one cluster may hold (maxClusterSize) */
	unsigned history_limit;	/* changes kept for watch resume */
	unsigned bookmark_ms;
	unsigned threads;
	unsigned ike_cert_s;	/* lifetime of gateways' IKE certificates */
	struct srv_limits limits;
};

/* Reads DIR/config.json; 0 or -errno (with a message logged). */
int srv_config_load(const char *dir, struct srv_config *cfg) __attribute__((warn_unused_result));
void srv_config_free(struct srv_config *cfg);

struct srv_quota;

struct srv_server {
	struct srv_config cfg;
	char *admin_token, *join_token;
	uint8_t page_key[32];	/* continue tokens (page.h) */
	struct store *store;
	struct srv_hub *hub;
	struct srv_quota *quota;
	char *ike_ca_pem, *ike_ca_key;	/* the IKE signing CA; NULL: none (api_cert.c) */
};

enum srv_ident_kind { SRV_ID_NONE, SRV_ID_ADMIN, SRV_ID_JOIN, SRV_ID_CLUSTER };

/* Who sent a request (auth.c): the admin, the join token, or a cluster's token. */
struct srv_ident {
	enum srv_ident_kind kind;
	char cluster[64];
};

/* What api.c needs from one HTTP request. */
struct srv_request {
	const char *method, *path;
	const char *authorization;	/* header value or NULL */
	const char *content_length;	/* header value or NULL */
	const char *watch, *resource_version;	/* query parameters or NULL */
	const char *limit, *cont;	/* paging: "limit", "continue" */
	const char *remote_addr;
	const char *body;
	size_t body_len;
	bool body_too_large;
};

/* What it answers: JSON (or text) with a code, or a watch stream. */
struct srv_reply {
	int code;
	cJSON *json;
	const char *text;
	struct srv_watcher *watch;
	unsigned retry_after;	/* seconds, for a 429 */
};

/* The headers of a request, before any byte of its body is read: the path, the identity
 * (Authorization), what it may do, the write rate, the announced body size. Either fills
 * rp (the answer: the body is never read) or leaves rp->code 0 and sets *id. */
void srv_api_begin(struct srv_server *srv, const struct srv_request *rq, struct srv_reply *rp,
		   struct srv_ident *id);
/* The whole request of an identity srv_api_begin() accepted. */
void srv_api_handle(struct srv_server *srv, const struct srv_request *rq,
		    const struct srv_ident *id, struct srv_reply *rp);

/* Runs the daemon until SIGTERM/SIGINT; the overrides (or NULL) replace config.json's
 * "listen" and "metricsListen". 0 or -errno. */
int srv_server_run(const char *dir, const char *listen_override,
		   const char *metrics_listen_override) __attribute__((warn_unused_result));

#endif
