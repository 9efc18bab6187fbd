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

struct srv_config {
	char *dir;
	char *listen;		/* "ADDR:PORT" */
	char *metrics_listen;	/* "ADDR:PORT" of the plain-HTTP /metrics, or NULL: none */
	char *store;		/* "sqlite" | "etcd://h:p[,h:p]" */
	bool gn_enabled;
	struct cidr4 gn_range;
	uint8_t gn_prefix;	/* prefix length of one cluster's global CIDR */
	unsigned history_limit;	/* changes kept for watch resume */
	unsigned bookmark_ms;
	unsigned threads;
	unsigned ike_cert_s;	/* lifetime of gateways' IKE certificates */
};

/* Reads DIR/config.json; 0 or -errno (with a message logged). */
int srv_config_load(const char *dir, struct srv_config *cfg) __attribute__((warn_unused_result));
void srv_config_free(struct srv_config *cfg);

struct srv_server {
	struct srv_config cfg;
	char *admin_token, *join_token;
	struct store *store;
	struct srv_hub *hub;
	char *ike_ca_pem, *ike_ca_key;	/* the IKE signing CA; NULL: none (api_cert.c) */
};

/* What api.c needs from one HTTP request. */
struct srv_request {
	const char *method, *path;
	const char *authorization;	/* header value or NULL */
	const char *watch, *resource_version;	/* query parameters or NULL */
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
};

void srv_api_handle(struct srv_server *srv, const struct srv_request *rq, struct srv_reply *rp);

/* Runs the daemon until SIGTERM/SIGINT; the overrides (or NULL) replace config.json's
 * "listen" and "metricsListen". 0 or -errno. */
int srv_server_run(const char *dir, const char *listen_override,
		   const char *metrics_listen_override) __attribute__((warn_unused_result));

#endif
