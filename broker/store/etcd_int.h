/* Internals of the etcd store, shared by etcd.c (KV, open/close), etcd_http.c (requests,
 * encodings) and etcd_watch.c (watch streams, history, the change feed). */
#ifndef SA_STORE_ETCD_INT_H
#define SA_STORE_ETCD_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "broker/store/store.h"

#define PREFIX		"/subagent/"
#define MAX_EP		8
#define RESP_MAX	(256u << 20)

struct handle {
	CURL *c;
	struct handle *next;
};

struct etcd {
	char *ep[MAX_EP];
	unsigned nep;
	unsigned cur;		/* endpoint that worked last */
	/* TLS with a client certificate (etcd://), or plain HTTP (etcd+http://) */
	bool tls;
	char *ca, *cert, *key;	/* file paths */
	pthread_mutex_t lock;	/* cur, free handles */
	struct handle *free;
	pthread_t feed;
	bool feed_running;
	volatile bool stop;
	store_event_fn fn;
	void *ctx;
	uint64_t feed_last;
};

struct etcd_buf {
	char *p;
	size_t n, cap;
};

/* Base64 (etcd's JSON gateway carries keys and values so). etcd_b64_dec: NUL-terminated
 * decoded bytes, NULL on bad input. */
char *etcd_b64_enc(const char *s, size_t n);
char *etcd_b64_dec(const char *s, size_t *len);
/* An int64 field (a decimal string in proto3 JSON), 0 when absent. */
uint64_t etcd_j_u64(const cJSON *o, const char *f);
/* A base64 field, decoded (NULL on bad input). */
char *etcd_j_b64(const cJSON *o, const char *f);
int etcd_add_b64(cJSON *o, const char *f, const char *s);
/* The key just after every key starting with s (etcd's range_end for a prefix). */
void etcd_prefix_end(const char *s, char *out, size_t len);
/* A curl write callback into a struct etcd_buf (at most RESP_MAX). */
size_t etcd_buf_write(char *data, size_t sz, size_t nm, void *ud);
/* "https://EP/path" (or http:// without TLS) for endpoint ep. */
void etcd_url(const struct etcd *e, unsigned ep, const char *path, char *out, size_t len);
/* TLS options on a curl handle: etcd's CA as the only trust anchor, our client
 * certificate and key. Nothing for plain HTTP. */
void etcd_curl_tls(const struct etcd *e, CURL *c);
/* POSTs a JSON body to one of the endpoints; *out is the parsed answer. 0, -ESTALE (a read
 * at a compacted revision) or -EIO. */
int etcd_post(struct etcd *e, const char *path, cJSON *body, cJSON **out);

/* The head revision as that of a write under "r/" (see etcd.c). */
int etcd_sync_revision(struct store *st, uint64_t *rev);
int etcd_history(struct store *st, uint64_t after, uint64_t upto, store_event_fn fn, void *ctx);
int etcd_feed_start(struct store *st, uint64_t after, store_event_fn fn, void *ctx);

#endif
