/* The DNS server's sockets and loop (dns_server.h). */
#include "agent/dns/dns_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/cidr.h"
#include "common/log.h"
#include "common/util.h"

#define BATCH		32
#define UDP_MSG_MAX	4096	/* a larger datagram is not a query we answer */
#define TCP_OUT_MAX	(256 * 1024)	/* a client that does not read gets no more answers */

enum ev_kind { EV_UDP, EV_LISTEN, EV_CONN, EV_TIMER, EV_EXTRA };

struct ev {
	enum ev_kind kind;
	int fd;
};

struct conn {
	struct ev ev;
	struct conn *next;
	uint8_t in[2 + DNS_TCP_MAX];
	size_t inlen;
	uint8_t *out;
	size_t outlen, outoff;
	uint64_t last_ns;
	uint32_t events;	/* what epoll watches for now */
};

struct extra {
	struct ev ev;
	struct extra *next;
	void (*cb)(void *ctx);
	void *ctx;
};

struct udp_batch {
	struct mmsghdr in[BATCH], out[BATCH];
	struct iovec iov_in[BATCH], iov_out[BATCH];
	struct sockaddr_in from[BATCH];
	char cin[BATCH][CMSG_SPACE(sizeof(struct in_pktinfo))];
	char cout[BATCH][CMSG_SPACE(sizeof(struct in_pktinfo))];
	uint8_t buf[BATCH][UDP_MSG_MAX];
	uint8_t *resp[BATCH];
};

struct dns_server {
	struct dns_records *db;
	int ep;
	struct ev udp, tcp, timer;
	struct conn *conns;
	unsigned n_conns;
	struct extra *extras;
	bool stop;
	uint16_t port;
	struct dns_answer ans;
	struct dns_wire_stats st;
	struct udp_batch b;
};

int dns_parse_listen(const char *s, struct sockaddr_in *addr)
{
	const char *colon = s ? strrchr(s, ':') : NULL;
	char ip[16];
	uint32_t a;
	uint64_t port;

	if (!colon || colon - s > 15 || colon == s)
		return -EINVAL;
	memcpy(ip, s, (size_t)(colon - s));
	ip[colon - s] = '\0';
	if (ip4_parse(ip, &a) || util_parse_u64(colon + 1, 65535, &port))
		return -EINVAL;
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(a);
	addr->sin_port = htons((uint16_t)port);
	return 0;
}

static int ep_add(struct dns_server *s, struct ev *ev, uint32_t events)
{
	struct epoll_event e = { .events = events, .data.ptr = ev };

	return epoll_ctl(s->ep, EPOLL_CTL_ADD, ev->fd, &e) ? -errno : 0;
}

static int bind_socket(int type, const struct sockaddr_in *addr)
{
	int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (type == SOCK_DGRAM && setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)))
		goto err;
	if (bind(fd, (const struct sockaddr *)addr, sizeof(*addr)))
		goto err;
	if (type == SOCK_STREAM && listen(fd, 128))
		goto err;
	return fd;
err:
	one = -errno;
	close(fd);
	return one;
}

struct dns_server *dns_server_open(const struct sockaddr_in *addr, struct dns_records *db)
{
	struct dns_server *s = calloc(1, sizeof(*s));
	struct sockaddr_in bound = *addr;
	struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	socklen_t sl = sizeof(bound);
	int err;

	if (!s)
		return NULL;
	s->db = db;
	s->udp.fd = s->tcp.fd = s->timer.fd = s->ep = -1;
	s->udp.kind = EV_UDP;
	s->tcp.kind = EV_LISTEN;
	s->timer.kind = EV_TIMER;
	s->udp.fd = bind_socket(SOCK_DGRAM, addr);
	if (s->udp.fd < 0) {
		err = s->udp.fd;
		goto err;
	}
	/* port 0: TCP takes the port UDP got */
	if (getsockname(s->udp.fd, (struct sockaddr *)&bound, &sl)) {
		err = -errno;
		goto err;
	}
	s->port = ntohs(bound.sin_port);
	s->tcp.fd = bind_socket(SOCK_STREAM, &bound);
	if (s->tcp.fd < 0) {
		err = s->tcp.fd;
		goto err;
	}
	s->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	if (s->timer.fd < 0 || s->ep < 0 || timerfd_settime(s->timer.fd, 0, &its, NULL)) {
		err = -errno;
		goto err;
	}
	if ((err = ep_add(s, &s->udp, EPOLLIN)) || (err = ep_add(s, &s->tcp, EPOLLIN)) ||
	    (err = ep_add(s, &s->timer, EPOLLIN)))
		goto err;
	return s;
err:
	dns_server_close(s);
	errno = -err;
	return NULL;
}

uint16_t dns_server_port(const struct dns_server *s)
{
	return s->port;
}

const struct dns_wire_stats *dns_server_stats(const struct dns_server *s)
{
	return &s->st;
}

static void conn_close(struct dns_server *s, struct conn *c)
{
	for (struct conn **pp = &s->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	close(c->ev.fd);
	free(c->out);
	free(c);
	s->n_conns--;
}

void dns_server_close(struct dns_server *s)
{
	if (!s)
		return;
	while (s->conns)
		conn_close(s, s->conns);
	for (struct extra *e = s->extras, *n; e; e = n) {
		n = e->next;
		free(e);
	}
	if (s->udp.fd >= 0)
		close(s->udp.fd);
	if (s->tcp.fd >= 0)
		close(s->tcp.fd);
	if (s->timer.fd >= 0)
		close(s->timer.fd);
	if (s->ep >= 0)
		close(s->ep);
	free(s);
}

int dns_server_add_fd(struct dns_server *s, int fd, void (*cb)(void *ctx), void *ctx)
{
	struct extra *e = calloc(1, sizeof(*e));
	int err;

	if (!e)
		return -ENOMEM;
	e->ev.kind = EV_EXTRA;
	e->ev.fd = fd;
	e->cb = cb;
	e->ctx = ctx;
	err = ep_add(s, &e->ev, EPOLLIN);
	if (err) {
		free(e);
		return err;
	}
	e->next = s->extras;
	s->extras = e;
	return 0;
}

void dns_server_stop(struct dns_server *s)
{
	s->stop = true;
}

/* ---- UDP ---- */

/* The destination address of a query, to answer from it (a wildcard socket on a
 * multi-homed host would otherwise answer from the route's source). */
static void reply_from(struct msghdr *in, struct msghdr *out, char *cbuf)
{
	struct cmsghdr *c;

	out->msg_control = NULL;
	out->msg_controllen = 0;
	for (c = CMSG_FIRSTHDR(in); c; c = CMSG_NXTHDR(in, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi, *o;
			struct cmsghdr *oc;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			out->msg_control = cbuf;
			out->msg_controllen = CMSG_SPACE(sizeof(pi));
			oc = CMSG_FIRSTHDR(out);
			oc->cmsg_level = IPPROTO_IP;
			oc->cmsg_type = IP_PKTINFO;
			oc->cmsg_len = CMSG_LEN(sizeof(pi));
			o = (struct in_pktinfo *)CMSG_DATA(oc);
			memset(o, 0, sizeof(*o));
			o->ipi_spec_dst = pi.ipi_addr;
			return;
		}
	}
}

static void udp_ready(struct dns_server *s)
{
	struct udp_batch *b = &s->b;

	/* a bounded number of batches per wakeup: TCP and the feed get their turn */
	for (int round = 0; round < 8; round++) {
		int n, m = 0;

		for (int i = 0; i < BATCH; i++) {
			b->iov_in[i] = (struct iovec){ b->buf[i], sizeof(b->buf[i]) };
			b->in[i].msg_hdr = (struct msghdr){
				.msg_name = &b->from[i], .msg_namelen = sizeof(b->from[i]),
				.msg_iov = &b->iov_in[i], .msg_iovlen = 1,
				.msg_control = b->cin[i], .msg_controllen = sizeof(b->cin[i]),
			};
		}
		n = recvmmsg(s->udp.fd, b->in, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				pr_debug("dns udp receive: %s\n", strerror(errno));
			return;
		}
		for (int i = 0; i < n; i++) {
			size_t len;

			if (b->in[i].msg_hdr.msg_flags & MSG_TRUNC) {
				s->st.dropped++;
				continue;
			}
			len = dns_wire_answer(s->db, b->buf[i], b->in[i].msg_len, true, &s->ans,
					      &b->resp[m], &s->st);
			if (!len)
				continue;
			b->iov_out[m] = (struct iovec){ b->resp[m], len };
			b->out[m].msg_hdr = (struct msghdr){
				.msg_name = &b->from[i], .msg_namelen = b->in[i].msg_hdr.msg_namelen,
				.msg_iov = &b->iov_out[m], .msg_iovlen = 1,
			};
			reply_from(&b->in[i].msg_hdr, &b->out[m].msg_hdr, b->cout[m]);
			m++;
		}
		for (int sent = 0; sent < m;) {
			int k = sendmmsg(s->udp.fd, b->out + sent, (unsigned)(m - sent), MSG_DONTWAIT);

			if (k <= 0) {
				pr_debug("dns udp send: %s\n", strerror(errno));
				break;
			}
			sent += k;
		}
		for (int i = 0; i < m; i++)
			free(b->resp[i]);
		if (n < BATCH)
			return;
	}
}

/* ---- TCP ---- */

/* Output waiting: watch for room to write; too much of it (a client that sends and does
 * not read): stop reading its queries until it has taken its answers. */
static void conn_events(struct dns_server *s, struct conn *c)
{
	uint32_t want = (c->outlen > TCP_OUT_MAX ? 0 : EPOLLIN) | (c->outlen ? EPOLLOUT : 0);
	struct epoll_event e = { .events = want, .data.ptr = &c->ev };

	if (want != c->events && !epoll_ctl(s->ep, EPOLL_CTL_MOD, c->ev.fd, &e))
		c->events = want;
}

static int conn_flush(struct dns_server *s, struct conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t k = send(c->ev.fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);

		if (k < 0) {
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		c->outoff += (size_t)k;
	}
	if (c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	conn_events(s, c);
	return 0;
}

static int conn_queue(struct conn *c, const uint8_t *msg, size_t len)
{
	uint8_t *n = realloc(c->out, c->outlen + 2 + len);

	if (!n)
		return -ENOMEM;
	c->out = n;
	n[c->outlen] = (uint8_t)(len >> 8);
	n[c->outlen + 1] = (uint8_t)len;
	memcpy(n + c->outlen + 2, msg, len);
	c->outlen += 2 + len;
	return 0;
}

static void conn_ready(struct dns_server *s, struct conn *c, uint32_t events)
{
	ssize_t k;

	c->last_ns = util_now_ns();
	if ((events & EPOLLOUT) && conn_flush(s, c))
		goto close;
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)) || c->outlen > TCP_OUT_MAX)
		return;
	k = recv(c->ev.fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0);
	if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
		goto close;
	if (k > 0)
		c->inlen += (size_t)k;
	while (c->inlen >= 2) {
		size_t len = (size_t)c->in[0] << 8 | c->in[1], rlen;
		uint8_t *resp = NULL;
		int err;

		if (c->inlen < 2 + len)
			break;
		rlen = dns_wire_answer(s->db, c->in + 2, len, false, &s->ans, &resp, &s->st);
		err = rlen ? conn_queue(c, resp, rlen) : 0;
		free(resp);
		if (err)
			goto close;
		memmove(c->in, c->in + 2 + len, c->inlen - 2 - len);
		c->inlen -= 2 + len;
	}
	if (conn_flush(s, c))
		goto close;
	return;
close:
	conn_close(s, c);
}

static void accept_ready(struct dns_server *s)
{
	for (;;) {
		int fd = accept4(s->tcp.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0)
			return;
		if (s->n_conns >= DNS_TCP_CONNS_MAX || !(c = calloc(1, sizeof(*c)))) {
			close(fd);	/* the client retries, or uses UDP */
			continue;
		}
		c->ev.kind = EV_CONN;
		c->ev.fd = fd;
		c->events = EPOLLIN;
		c->last_ns = util_now_ns();
		if (ep_add(s, &c->ev, EPOLLIN)) {
			close(fd);
			free(c);
			continue;
		}
		c->next = s->conns;
		s->conns = c;
		s->n_conns++;
	}
}

static void timer_ready(struct dns_server *s)
{
	uint64_t n, now = util_now_ns();

	if (read(s->timer.fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		pr_debug("dns timer: %s\n", strerror(errno));
	for (struct conn *c = s->conns, *next; c; c = next) {
		next = c->next;
		if (now - c->last_ns > DNS_TCP_IDLE_S * NSEC_PER_SEC)
			conn_close(s, c);
	}
}

int dns_server_run(struct dns_server *s)
{
	struct epoll_event evs[64];

	while (!s->stop) {
		int n = epoll_wait(s->ep, evs, 64, -1);
		bool sweep = false;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n && !s->stop; i++) {
			struct ev *ev = evs[i].data.ptr;

			switch (ev->kind) {
			case EV_UDP: udp_ready(s); break;
			case EV_LISTEN: accept_ready(s); break;
			case EV_CONN: conn_ready(s, (struct conn *)ev, evs[i].events); break;
			case EV_TIMER: sweep = true; break;
			case EV_EXTRA: {
				struct extra *e = (struct extra *)ev;

				e->cb(e->ctx);
				break;
			}
			}
		}
		/* after the batch: a connection closed here may have had an event in it */
		if (sweep)
			timer_ready(s);
	}
	return 0;
}
