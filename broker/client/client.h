/* The broker client (libcurl): HTTPS with the broker CA as the only trust anchor, a bearer
 * token, failover across several broker URLs, bounded responses, Kubernetes-style Status
 * errors surfaced to the caller, and an informer (list + watch thread with a local cache).
 *
 * Errors: 0 on success, else -errno, and *st (when not NULL) says what happened:
 *   -ECONNREFUSED/-ETIMEDOUT/-EHOSTUNREACH  no broker URL answered
 *   -EKEYREJECTED  a broker's TLS certificate does not chain to the CA (or lacks the name)
 *   -EIO           every broker answered 5xx
 *   -EINVAL 400/422, -EACCES 401, -EPERM 403, -ENOENT 404, -EEXIST 409 AlreadyExists,
 *   -ESTALE 409 Conflict (resourceVersion), -ERANGE 410 Gone, -EMSGSIZE 413 or a response
 *   over BRK_MAX_RESPONSE, -EAGAIN 429 (too many requests: st->retry_after_s says when to
 *   try again), -EPROTO other status, -EBADMSG a 2xx body that is not JSON.
 * A client may be used from several threads (requests are serialised). */
#ifndef SA_BROKER_CLIENT_H
#define SA_BROKER_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "broker/creds/broker_info.h"

#define BRK_API_PREFIX		"/apis/subagent.io/v1"
#define BRK_MAX_RESPONSE	(1024 * 1024)
#define BRK_MAX_WATCH_LINE	(1024 * 1024)
#define BRK_CONNECT_TIMEOUT_MS	5000
#define BRK_REQUEST_TIMEOUT_MS	30000
#define BRK_WATCH_IDLE_S	30	/* no byte (not even a BOOKMARK) for this long: dead */
#define BRK_BACKOFF_MAX_MS	10000

struct brk_client;

struct brk_status {
	long code;			/* HTTP status; 0 when no broker answered */
	char reason[32];		/* Status.reason, e.g. "Conflict"; "" if none */
	char message[512];		/* Status.message, or the client's own sentence */
	char url[BRK_URL_MAX + 1];	/* the broker URL of the final attempt */
	unsigned retry_after_s;		/* 429: the broker's Retry-After (0: none) */
};

/* urls: 1..BRK_MAX_URLS https URLs (copied); ca_pem_path: the broker CA, the only trust
 * anchor; token: bearer token (copied, wiped at free). NULL with errno EINVAL/ENOMEM. */
struct brk_client *brk_client_new(char *const *urls, size_t n, const char *ca_pem_path,
				  const char *token);
void brk_client_free(struct brk_client *c);
/* Overrides the connect and whole-request timeouts (tests, CLI). */
void brk_client_set_timeouts(struct brk_client *c, unsigned connect_ms, unsigned request_ms);
/* Seconds without a byte after which a watch counts as dead (default BRK_WATCH_IDLE_S). */
void brk_client_set_watch_idle(struct brk_client *c, unsigned seconds);
/* How error messages name the CA (default: its path), e.g. "the CA of broker-info.subm". */
int brk_client_set_ca_label(struct brk_client *c, const char *label)
	__attribute__((warn_unused_result));
/* The URL that answered last (or the first URL). */
const char *brk_client_url(struct brk_client *c);

/* resource: "clusters", "endpoints", ...; name: the object's metadata.name.
 * *out (when out is not NULL) gets the parsed response; the caller cJSON_Delete()s it. */
int brk_get(struct brk_client *c, const char *resource, const char *name, cJSON **out,
	    struct brk_status *st) __attribute__((warn_unused_result));
int brk_list(struct brk_client *c, const char *resource, cJSON **out, struct brk_status *st)
	__attribute__((warn_unused_result));
int brk_create(struct brk_client *c, const char *resource, const cJSON *obj, cJSON **out,
	       struct brk_status *st) __attribute__((warn_unused_result));
/* obj must carry metadata.resourceVersion (optimistic concurrency). */
int brk_update(struct brk_client *c, const char *resource, const char *name, const cJSON *obj,
	       cJSON **out, struct brk_status *st) __attribute__((warn_unused_result));
int brk_delete(struct brk_client *c, const char *resource, const char *name, cJSON **out,
	       struct brk_status *st) __attribute__((warn_unused_result));
/* GET /apis/subagent.io/v1/whoami: {"kind":"WhoAmI","identity":..,"remoteAddr":..}. */
int brk_whoami(struct brk_client *c, cJSON **out, struct brk_status *st)
	__attribute__((warn_unused_result));

/* Object helpers: metadata.name / metadata.resourceVersion, or NULL. */
const char *brk_obj_name(const cJSON *obj);
const char *brk_obj_rv(const cJSON *obj);
/* Decimal resourceVersion -> number; 0 or -EINVAL. */
int brk_rv_parse(const char *s, uint64_t *out) __attribute__((warn_unused_result));
/* Resource and object names that may go into a URL path. */
bool brk_resource_ok(const char *s);

/* Parses a Status body (or any error body) into st->reason/message (bounded, control
 * characters replaced). Never fails; falls back to "HTTP <code>". */
void brk_status_parse(const char *body, size_t len, struct brk_status *st);

/* ---- watch events ---- */
enum brk_event_type { BRK_EV_ADDED, BRK_EV_MODIFIED, BRK_EV_DELETED, BRK_EV_BOOKMARK,
		      BRK_EV_ERROR };

struct brk_watch_event {
	enum brk_event_type type;
	cJSON *object;		/* owned; the event's object (a Status for ERROR) */
	const char *name;	/* metadata.name inside object (not for BOOKMARK/ERROR) */
	uint64_t rv;		/* metadata.resourceVersion (not for ERROR) */
	long error_code;	/* ERROR: Status.code */
};

/* Parses one watch line (without its newline). 0 or -EINVAL with err set; on success
 * the caller frees ev->object with cJSON_Delete(). */
int brk_watch_event_parse(const char *line, size_t len, struct brk_watch_event *ev,
			  char err[BRK_ERR_MAX]) __attribute__((warn_unused_result));

/* ---- informer ---- */

/* Called on the informer's thread, never concurrently; obj is valid only during the call
 * (cJSON_Duplicate() to keep it). After a relist only the difference is reported. */
struct brk_informer_ops {
	void (*on_add)(cJSON *obj, void *ctx);
	void (*on_update)(cJSON *obj, void *ctx);
	void (*on_delete)(cJSON *obj, void *ctx);
	void (*on_synced)(void *ctx);	/* optional: after every successful (re)list */
};

struct brk_informer_stats {
	uint64_t lists, watches, events, bookmarks, bad_lines, gone;
};

struct brk_informer;

/* Starts the thread; c must outlive the informer. NULL with errno. */
struct brk_informer *brk_informer_start(struct brk_client *c, const char *resource,
					const struct brk_informer_ops *ops, void *ctx);
/* Stops the thread (aborting a request in flight) and frees everything. NULL-safe. */
void brk_informer_stop(struct brk_informer *inf);
/* Asks the thread to stop and returns at once (a request in flight notices within about
 * a second): cancel several informers, then stop each, and they wind down together. */
void brk_informer_cancel(struct brk_informer *inf);
bool brk_informer_synced(struct brk_informer *inf);
/* A copy of the cached object, or NULL. */
cJSON *brk_informer_get(struct brk_informer *inf, const char *name);
/* A copy of every cached object (a JSON array). */
cJSON *brk_informer_list(struct brk_informer *inf);
uint64_t brk_informer_rv(struct brk_informer *inf);
void brk_informer_get_stats(struct brk_informer *inf, struct brk_informer_stats *out);

#endif
