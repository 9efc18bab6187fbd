/* A scripted HTTPS peer for client tests: a real GnuTLS server on a loopback socket, in a
 * thread, that answers each request through a test-supplied handler. It only scripts
 * answers the real broker cannot be made to give on demand (5xx, malformed watch lines,
 * 410, silence); success paths are tested against the real broker in tests/e2e/.
 * One connection at a time; every response closes its connection. */
#ifndef SA_TESTS_TLS_PEER_H
#define SA_TESTS_TLS_PEER_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

struct tp_req {
	char method[16];
	char path[1024];
	char auth[512];
	char *body;
	size_t body_len;
};

struct tp_conn {
	gnutls_session_t s;
};

struct tls_peer;
typedef void (*tp_handler)(struct tls_peer *p, const struct tp_req *rq, struct tp_conn *c);

struct tls_peer {
	int lfd;
	unsigned port;
	pthread_t th;
	atomic_bool stop;
	atomic_int nreq;
	gnutls_certificate_credentials_t cred;
	tp_handler handler;
	void *ctx;
};

static inline int tp_write(struct tp_conn *c, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t w = gnutls_record_send(c->s, p, n);

		if (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* A whole response with a JSON (or any) body. */
static inline void tp_respond(struct tp_conn *c, int code, const char *body)
{
	char head[256];
	size_t n = strlen(body);

	snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
		 "Content-Length: %zu\r\nConnection: close\r\n\r\n", code, n);
	if (!tp_write(c, head, strlen(head)))
		tp_write(c, body, n);
}

/* A Kubernetes Status error. */
static inline void tp_status(struct tp_conn *c, int code, const char *reason, const char *msg)
{
	char body[1024];

	snprintf(body, sizeof(body), "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
		 "\"message\":\"%s\",\"reason\":\"%s\",\"code\":%d}", msg, reason, code);
	tp_respond(c, code, body);
}

static inline int tp_stream_start(struct tp_conn *c)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				   "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";

	return tp_write(c, head, sizeof(head) - 1);
}

/* One chunk of a chunked body (raw bytes, e.g. "...\n"). */
static inline int tp_chunk(struct tp_conn *c, const char *data, size_t n)
{
	char h[32];

	snprintf(h, sizeof(h), "%zx\r\n", n);
	if (tp_write(c, h, strlen(h)) || tp_write(c, data, n) || tp_write(c, "\r\n", 2))
		return -1;
	return 0;
}

static inline int tp_stream_end(struct tp_conn *c)
{
	return tp_write(c, "0\r\n\r\n", 5);
}

/* Sleeps up to ms, returning early (1) when the peer is stopping or the client left. */
static inline int tp_wait(struct tls_peer *p, struct tp_conn *c, int ms)
{
	int fd = (int)(long)gnutls_transport_get_int(c->s);

	for (int t = 0; t < ms; t += 20) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (atomic_load(&p->stop))
			return 1;
		/* readable here means the client closed (it sends nothing more) */
		if (poll(&pfd, 1, 20) > 0)
			return 1;
	}
	return 0;
}

static inline int tp_read_request(gnutls_session_t s, struct tp_req *rq)
{
	char buf[16384], *end, *line, *save = NULL;
	size_t len = 0, clen = 0, have;

	memset(rq, 0, sizeof(*rq));
	for (;;) {
		ssize_t n;

		buf[len] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")))
			break;
		if (len + 1 >= sizeof(buf))
			return -1;
		n = gnutls_record_recv(s, buf + len, sizeof(buf) - 1 - len);
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;
		if (n <= 0)
			return -1;
		len += (size_t)n;
	}
	*end = '\0';
	have = len - (size_t)(end + 4 - buf);
	line = strtok_r(buf, "\r\n", &save);
	if (!line || sscanf(line, "%15s %1023s", rq->method, rq->path) != 2)
		return -1;
	while ((line = strtok_r(NULL, "\r\n", &save))) {
		if (!strncasecmp(line, "Authorization: ", 15))
			snprintf(rq->auth, sizeof(rq->auth), "%s", line + 15);
		else if (!strncasecmp(line, "Content-Length: ", 16))
			clen = strtoul(line + 16, NULL, 10);
	}
	if (clen > 4 * 1024 * 1024)
		return -1;
	rq->body = calloc(1, clen + 1);
	if (!rq->body)
		return -1;
	memcpy(rq->body, end + 4, have < clen ? have : clen);
	for (size_t got = have < clen ? have : clen; got < clen;) {
		ssize_t n = gnutls_record_recv(s, rq->body + got, clen - got);

		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	rq->body_len = clen;
	return 0;
}

static inline void *tp_main(void *arg)
{
	struct tls_peer *p = arg;

	while (!atomic_load(&p->stop)) {
		struct pollfd pfd = { .fd = p->lfd, .events = POLLIN };
		struct tp_conn c;
		struct tp_req rq;
		int fd, ret;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		fd = accept(p->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		gnutls_init(&c.s, GNUTLS_SERVER | GNUTLS_NO_SIGNAL);
		gnutls_set_default_priority(c.s);
		gnutls_credentials_set(c.s, GNUTLS_CRD_CERTIFICATE, p->cred);
		gnutls_transport_set_int(c.s, fd);
		gnutls_handshake_set_timeout(c.s, 5000);
		do {
			ret = gnutls_handshake(c.s);
		} while (ret < 0 && !gnutls_error_is_fatal(ret));
		if (ret == 0 && tp_read_request(c.s, &rq) == 0) {
			atomic_fetch_add(&p->nreq, 1);
			p->handler(p, &rq, &c);
			gnutls_bye(c.s, GNUTLS_SHUT_WR);
		}
		if (ret == 0)
			free(rq.body);
		gnutls_deinit(c.s);
		close(fd);
	}
	return NULL;
}

/* Starts a peer with the PEM files cert/key on 127.0.0.1 (ephemeral port). 0 or -1. */
static inline int tls_peer_start(struct tls_peer *p, const char *cert, const char *key,
				 tp_handler h, void *ctx)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);

	memset(p, 0, sizeof(*p));
	p->handler = h;
	p->ctx = ctx;
	if (gnutls_certificate_allocate_credentials(&p->cred) < 0 ||
	    gnutls_certificate_set_x509_key_file(p->cred, cert, key, GNUTLS_X509_FMT_PEM) < 0)
		return -1;
	p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p->lfd < 0 || bind(p->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(p->lfd, 16) < 0 || getsockname(p->lfd, (struct sockaddr *)&a, &alen) < 0)
		return -1;
	p->port = ntohs(a.sin_port);
	return pthread_create(&p->th, NULL, tp_main, p) ? -1 : 0;
}

static inline void tls_peer_stop(struct tls_peer *p)
{
	atomic_store(&p->stop, true);
	pthread_join(p->th, NULL);
	close(p->lfd);
	gnutls_certificate_free_credentials(p->cred);
}

/* A loopback port with nothing listening (bound then closed). */
static inline unsigned tp_dead_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port = 0;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

#endif
