/* Internals shared by broker/client/client.c and broker/informer.c. */
#ifndef SA_BROKER_CLIENT_INTERNAL_H
#define SA_BROKER_CLIENT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <curl/curl.h>

#include "broker/client/client.h"

struct brk_client {
	char *urls[BRK_MAX_URLS];
	size_t n_urls;
	char *ca_path;
	char *ca_label;			/* for messages; NULL: ca_path */
	char *token;			/* secret */
	unsigned connect_ms, request_ms, watch_idle_s;
	pthread_mutex_t lock;		/* serialises use of h */
	CURL *h;			/* kept between requests for connection reuse */
	atomic_size_t preferred;	/* index of the URL that answered last */
};

struct brk_req {
	const char *method;		/* "GET", "POST", "PUT", "DELETE" */
	const char *path;		/* starts with '/' */
	const char *body;		/* NULL for none */
	size_t body_len;
	bool watch;			/* no total timeout; idle timeout instead */
	/* A watch: each complete line of a 200 response (without '\n'), or NULL/0 for a line
	 * that was too long and dropped. A negative return aborts the transfer. */
	int (*on_line)(void *arg, char *line, size_t len);
	void *arg;
	atomic_bool *stop;		/* optional: set -> abort (-ECANCELED) */
	/* results */
	char *resp;			/* non-streamed body, NUL-terminated (malloc'd) */
	size_t resp_len;
	bool streamed;			/* a watch got its 200 and streamed lines */
	int line_err;			/* what on_line returned when it aborted */
};

/* Runs r against the client's URLs with failover, on handle h (NULL: the client's shared
 * handle, under its lock). 0 for a 2xx, else -errno as in client.h; st is filled. */
int brk_do_request(struct brk_client *c, CURL *h, struct brk_req *r, struct brk_status *st);
/* Items asked for per page of a list, and the longest continue token accepted. */
#define BRK_LIST_PAGE		250
#define BRK_CONTINUE_MAX	1024
/* GETs every page of a collection (on handle h, NULL: the shared one) and merges them into
 * one list object (*out, the caller's). 0 or -errno as brk_do_request. */
int brk_list_all(struct brk_client *c, CURL *h, atomic_bool *stop, const char *resource,
		 cJSON **out, struct brk_status *st);
/* errno for an HTTP status and Status reason. */
int brk_http_errno(long code, const char *reason);

#endif
