/* ICMP/TCP/UDP probes with deadlines, and the echo responder they talk to. */
#include "agent/engine/probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

#define MAX_PAYLOAD 65000

static void fill(uint8_t *buf, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(seed + i * 7);
}

static int remaining_ms(uint64_t deadline)
{
	uint64_t now = util_now_ns();

	return now >= deadline ? 0 : (int)((deadline - now) / 1000000) + 1;
}

static int wait_fd(int fd, short ev, uint64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int ms = remaining_ms(deadline), n;

	if (!ms)
		return -ETIMEDOUT;
	n = poll(&p, 1, ms);
	if (n < 0)
		return -errno;
	return n ? 0 : -ETIMEDOUT;
}

int probe_icmp(uint32_t dst, size_t payload, int timeout_ms, uint64_t *rtt_ns)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(dst) };
	uint64_t start = util_now_ns(), deadline = start + (uint64_t)timeout_ms * NSEC_PER_MSEC;
	size_t len = sizeof(struct icmphdr) + payload;
	uint8_t *pkt, *rx;
	uint16_t id;
	int fd, rc;

	if (payload > MAX_PAYLOAD)
		return -EMSGSIZE;
	pkt = calloc(1, len);
	rx = malloc(len + 128);
	fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (!pkt || !rx || fd < 0) {
		rc = fd < 0 ? -errno : -ENOMEM;
		goto out;
	}
	if (util_random(&id, sizeof(id)))
		id = (uint16_t)getpid();
	struct icmphdr *ih = (struct icmphdr *)pkt;
	ih->type = ICMP_ECHO;
	ih->un.echo.id = htons(id);
	ih->un.echo.sequence = htons(1);
	fill(pkt + sizeof(*ih), payload, id);
	ih->checksum = util_inet_csum(pkt, len);
	if (sendto(fd, pkt, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		rc = -errno;
		goto out;
	}
	for (;;) {
		struct icmphdr rh;
		ssize_t n;
		size_t ihl;

		rc = wait_fd(fd, POLLIN, deadline);
		if (rc)
			goto out;
		n = recv(fd, rx, len + 128, MSG_DONTWAIT);
		if (n < 20)
			continue;
		ihl = (size_t)(rx[0] & 15) * 4;
		if (ihl < 20 || (size_t)n < ihl + sizeof(rh))
			continue;
		memcpy(&rh, rx + ihl, sizeof(rh));
		if (rh.type != ICMP_ECHOREPLY || ntohs(rh.un.echo.id) != id)
			continue;
		if ((size_t)n - ihl != len || memcmp(rx + ihl + sizeof(rh), pkt + sizeof(*ih), payload)) {
			rc = -EBADMSG;
			goto out;
		}
		*rtt_ns = util_now_ns() - start;
		rc = 0;
		goto out;
	}
out:
	if (fd >= 0)
		close(fd);
	free(pkt);
	free(rx);
	return rc;
}

int probe_tcp(uint32_t dst, uint16_t port, size_t payload, int timeout_ms, uint64_t *rtt_ns)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(dst) };
	uint64_t start = util_now_ns(), deadline = start + (uint64_t)timeout_ms * NSEC_PER_MSEC;
	uint8_t *tx = malloc(payload + 1), *rx = malloc(payload + 1);
	size_t sent = 0, got = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), rc;
	int err = 0;
	socklen_t el = sizeof(err);

	if (!tx || !rx || fd < 0) {
		rc = fd < 0 ? -errno : -ENOMEM;
		goto out;
	}
	fill(tx, payload, port);
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0 && errno != EINPROGRESS) {
		rc = -errno;
		goto out;
	}
	rc = wait_fd(fd, POLLOUT, deadline);
	if (rc)
		goto out;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
		rc = err ? -err : -errno;
		goto out;
	}
	while (got < payload) {
		struct pollfd p = { .fd = fd, .events = POLLIN | (sent < payload ? POLLOUT : 0) };
		int ms = remaining_ms(deadline);
		ssize_t n;

		if (!ms || poll(&p, 1, ms) <= 0) {
			rc = -ETIMEDOUT;
			goto out;
		}
		if (sent < payload && (p.revents & POLLOUT)) {
			n = send(fd, tx + sent, payload - sent, MSG_NOSIGNAL);
			if (n < 0 && errno != EAGAIN) {
				rc = -errno;
				goto out;
			}
			if (n > 0)
				sent += (size_t)n;
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(fd, rx + got, payload - got, 0);
			if (n == 0) {
				rc = -ECONNRESET;
				goto out;
			}
			if (n < 0 && errno != EAGAIN) {
				rc = -errno;
				goto out;
			}
			if (n > 0)
				got += (size_t)n;
		}
	}
	rc = memcmp(tx, rx, payload) ? -EBADMSG : 0;
	*rtt_ns = util_now_ns() - start;
out:
	if (fd >= 0)
		close(fd);
	free(tx);
	free(rx);
	return rc;
}

int probe_udp(uint32_t dst, uint16_t port, size_t payload, int timeout_ms, uint64_t *rtt_ns)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(dst) };
	uint64_t start = util_now_ns(), deadline = start + (uint64_t)timeout_ms * NSEC_PER_MSEC;
	uint8_t *tx = malloc(payload + 1), *rx = malloc(payload + 1);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc;
	uint64_t next_send = 0;

	if (!tx || !rx || fd < 0 || payload > MAX_PAYLOAD) {
		rc = fd < 0 ? -errno : payload > MAX_PAYLOAD ? -EMSGSIZE : -ENOMEM;
		goto out;
	}
	fill(tx, payload, port + 1);
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0) {
		rc = -errno;
		goto out;
	}
	for (;;) {
		ssize_t n;

		/* UDP may be lost: send again every 500 ms until the deadline. */
		if (util_now_ns() >= next_send) {
			if (send(fd, tx, payload, 0) < 0 && errno != ECONNREFUSED) {
				rc = -errno;
				goto out;
			}
			next_send = util_now_ns() + 500000000ull;
		}
		{
			struct pollfd p = { .fd = fd, .events = POLLIN };
			int ms = remaining_ms(deadline);

			if (!ms) {
				rc = -ETIMEDOUT;
				goto out;
			}
			if (ms > 500)
				ms = 500;
			if (poll(&p, 1, ms) <= 0)
				continue;
		}
		n = recv(fd, rx, payload + 1, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == ECONNREFUSED || errno == EAGAIN)
				continue;
			rc = -errno;
			goto out;
		}
		rc = (size_t)n != payload || memcmp(tx, rx, payload) ? -EBADMSG : 0;
		*rtt_ns = util_now_ns() - start;
		goto out;
	}
out:
	if (fd >= 0)
		close(fd);
	free(tx);
	free(rx);
	return rc;
}

/* ---- responder ---- */

struct responder {
	pthread_t thr;
	int tcp, udp, stop[2];
};

static void serve_tcp(int lfd)
{
	uint8_t buf[16384];
	uint64_t deadline = util_now_ns() + 5000000000ull;
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	/* Echo until the client closes or 5 s pass; one client at a time is enough for
	 * verify and bounds what a stranger can make us do. */
	for (;;) {
		ssize_t n;

		if (wait_fd(fd, POLLIN, deadline))
			break;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w;

			if (wait_fd(fd, POLLOUT, deadline))
				goto done;
			w = send(fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
			if (w < 0 && errno != EAGAIN)
				goto done;
			if (w > 0)
				off += w;
		}
	}
done:
	close(fd);
}

static void serve_udp(int fd)
{
	static uint8_t buf[MAX_PAYLOAD + 1];
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);

	if (n > 0)
		(void)!sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
}

static void *responder_main(void *arg)
{
	struct responder *r = arg;

	for (;;) {
		struct pollfd p[3] = { { .fd = r->tcp, .events = POLLIN },
				       { .fd = r->udp, .events = POLLIN },
				       { .fd = r->stop[0], .events = POLLIN } };

		if (poll(p, 3, -1) < 0 && errno != EINTR)
			break;
		if (p[2].revents)
			break;
		if (p[0].revents & POLLIN)
			serve_tcp(r->tcp);
		if (p[1].revents & POLLIN)
			serve_udp(r->udp);
	}
	return NULL;
}

struct responder *responder_start(uint32_t addr, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(addr) };
	struct responder *r = calloc(1, sizeof(*r));
	int one = 1, e;

	if (!r)
		return NULL;
	r->tcp = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	r->udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	r->stop[0] = r->stop[1] = -1;
	if (r->tcp < 0 || r->udp < 0)
		goto err;
	setsockopt(r->tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(r->tcp, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(r->tcp, 8) < 0 ||
	    bind(r->udp, (struct sockaddr *)&sa, sizeof(sa)) < 0 || pipe2(r->stop, O_CLOEXEC) < 0)
		goto err;
	e = pthread_create(&r->thr, NULL, responder_main, r);
	if (e) {
		errno = e;
		goto err;
	}
	return r;
err:
	e = errno;
	if (r->tcp >= 0)
		close(r->tcp);
	if (r->udp >= 0)
		close(r->udp);
	if (r->stop[0] >= 0) {
		close(r->stop[0]);
		close(r->stop[1]);
	}
	free(r);
	errno = e;
	return NULL;
}

void responder_stop(struct responder *r)
{
	if (!r)
		return;
	(void)!write(r->stop[1], "x", 1);
	pthread_join(r->thr, NULL);
	close(r->tcp);
	close(r->udp);
	close(r->stop[0]);
	close(r->stop[1]);
	free(r);
}
