/* A small plain-HTTP server (libmicrohttpd, one internal thread) for what monitoring
 * systems read: /metrics, /healthz, /readyz. GET and HEAD only, no request bodies, a few
 * connections at a time. Shared by the agent and the broker (whose API listener is HTTPS
 * and stays separate). */
#ifndef SA_HTTPD_H
#define SA_HTTPD_H

#include <stddef.h>
#include <stdint.h>

struct sockaddr_in;
struct httpd;

struct httpd_reply {
	int code;			/* 0: 404 */
	const char *content_type;	/* NULL: text/plain */
	char *body;			/* malloc'd (freed by the server), or NULL */
	size_t len;
};

/* Called on the server's thread for every GET/HEAD, with the path (no query string). */
typedef void (*httpd_handler)(void *ctx, const char *path, struct httpd_reply *r);

/* "ADDR:PORT" (ADDR an IPv4 address, "" or "*" for any; PORT 0 picks a free one).
 * 0 or -EINVAL. */
int httpd_parse_listen(const char *s, struct sockaddr_in *sa) __attribute__((warn_unused_result));

/* Starts serving; NULL with errno (EINVAL: bad address; EADDRINUSE or other: the listen
 * failed). */
struct httpd *httpd_start(const char *listen, httpd_handler fn, void *ctx);
/* Stops the thread and closes the socket. NULL-safe. */
void httpd_stop(struct httpd *h);
/* The port it listens on (the one picked for port 0). */
uint16_t httpd_port(const struct httpd *h);

/* A reply with a copy of text (code, text/plain). */
void httpd_reply_text(struct httpd_reply *r, int code, const char *text);

#endif
