/* flowgen: load for the globalnet benchmark (tests/bench/bench_globalnet.sh), the shape of
 * traffic a mesh of sidecars puts on a gateway rather than one bulk stream:
 *   flowgen tcp-serve PORT
 *       answers every connection: reads one byte, writes one byte back, closes.
 *   flowgen tcp-rate DST PORT SECS CONC
 *       keeps CONC connections in flight for SECS seconds, each a new connection: connect,
 *       one byte each way, close. Prints "conns N secs S rate R errors E".
 *   flowgen udp-sink PORT SECS
 *       counts datagrams from the first one to the last (half a second of silence, or SECS
 *       seconds, ends it). Prints "pkts N secs S pps R" over that span.
 *   flowgen udp-blast DST PORT SECS FLOWS SIZE
 *       sends SIZE-byte datagrams from FLOWS sockets (FLOWS source ports: FLOWS flows) in
 *       turn, as fast as it can, for SECS seconds. Prints "sent N secs S pps R errors E".
 * Single-threaded, epoll; not a pass/fail test. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int addr_of(const char *ip, const char *port, struct sockaddr_in *sa)
{
	long p = strtol(port, NULL, 10);

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)p);
	if (p <= 0 || p > 65535 || inet_pton(AF_INET, ip, &sa->sin_addr) != 1) {
		fprintf(stderr, "flowgen: bad address %s:%s\n", ip, port);
		return -1;
	}
	return 0;
}

static void more_files(void)
{
	struct rlimit r;

	if (!getrlimit(RLIMIT_NOFILE, &r)) {
		r.rlim_cur = r.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &r);
	}
}

static int tcp_serve(const char *port)
{
	struct sockaddr_in sa;
	int one = 1, ls, ep;
	struct epoll_event ev = { .events = EPOLLIN }, evs[64];

	if (addr_of("0.0.0.0", port, &sa))
		return 2;
	ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, 4096)) {
		perror("flowgen: listen");
		return 1;
	}
	ep = epoll_create1(0);
	ev.data.fd = ls;
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	for (;;) {
		int n = epoll_wait(ep, evs, 64, -1);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			char b;

			if (fd == ls) {
				int c;

				while ((c = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					struct epoll_event cev = { .events = EPOLLIN, .data.fd = c };

					epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
				}
				continue;
			}
			if (read(fd, &b, 1) == 1 && write(fd, &b, 1) != 1)
				b = 0;
			close(fd);
		}
	}
}

/* One connection of tcp-rate: connecting, then waiting for the answer byte. */
static int tcp_open(const struct sockaddr_in *sa, int ep)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct epoll_event ev = { .events = EPOLLOUT };

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	ev.data.u64 = (uint64_t)fd;	/* high bit clear: connecting */
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	return fd;
}

static int tcp_rate(const char *dst, const char *port, double secs, int conc)
{
	struct sockaddr_in sa;
	struct epoll_event evs[256];
	long done = 0, errs = 0;
	double t0, end;
	int ep, open = 0;

	if (addr_of(dst, port, &sa) || conc < 1 || secs <= 0)
		return 2;
	ep = epoll_create1(0);
	t0 = now_s();
	end = t0 + secs;
	for (int i = 0; i < conc; i++)
		open += tcp_open(&sa, ep) >= 0;
	while (now_s() < end) {
		int n = epoll_wait(ep, evs, 256, 100);

		for (int i = 0; i < n; i++) {
			int fd = (int)(evs[i].data.u64 & 0xffffffff), err = 0;
			bool connecting = !(evs[i].data.u64 >> 32);
			socklen_t l = sizeof(err);
			char b = 'x';

			if (connecting) {
				struct epoll_event ev = { .events = EPOLLIN,
							  .data.u64 = (1ULL << 32) | (uint32_t)fd };

				getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
				if (!err && write(fd, &b, 1) == 1) {
					epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
					continue;
				}
				errs++;
			} else if (read(fd, &b, 1) == 1) {
				done++;
			} else {
				errs++;
			}
			epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
			close(fd);
			open--;
			open += tcp_open(&sa, ep) >= 0;
		}
	}
	secs = now_s() - t0;
	printf("conns %ld secs %.2f rate %.1f errors %ld\n", done, secs, done / secs, errs);
	return 0;
}

static int udp_sink(const char *port, double secs)
{
	struct timeval tv = { .tv_usec = 500000 };
	struct sockaddr_in sa;
	int fd, rcvbuf = 8 << 20;
	long n = 1;
	double t0, last, end;
	char buf[2048];

	if (addr_of("0.0.0.0", port, &sa))
		return 2;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("flowgen: bind");
		return 1;
	}
	if (recv(fd, buf, sizeof(buf), 0) < 0)
		return 1;
	t0 = last = now_s();
	end = t0 + secs;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (last < end) {
		if (recv(fd, buf, sizeof(buf), 0) < 0)
			break;	/* silence: the sender is done */
		n++;
		last = now_s();
	}
	secs = last > t0 ? last - t0 : 1e-9;
	printf("pkts %ld secs %.2f pps %.1f\n", n, secs, n / secs);
	return 0;
}

static int udp_blast(const char *dst, const char *port, double secs, int flows, int size)
{
	struct sockaddr_in sa;
	char buf[2048] = { 0 };
	long sent = 0, errs = 0;
	double t0, end;
	int *fds;

	if (addr_of(dst, port, &sa) || flows < 1 || size < 1 || size > (int)sizeof(buf))
		return 2;
	fds = calloc((size_t)flows, sizeof(*fds));
	if (!fds)
		return 1;
	for (int i = 0; i < flows; i++) {
		fds[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&sa, sizeof(sa))) {
			perror("flowgen: udp socket");
			return 1;
		}
	}
	t0 = now_s();
	end = t0 + secs;
	for (long k = 0;; k++) {
		if ((k & 255) == 0 && now_s() >= end)
			break;
		if (send(fds[k % flows], buf, (size_t)size, 0) == size)
			sent++;
		else
			errs++;	/* a full socket buffer: the path does not keep up */
	}
	secs = now_s() - t0;
	printf("sent %ld secs %.2f pps %.1f errors %ld\n", sent, secs, sent / secs, errs);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	more_files();
	if (argc == 3 && !strcmp(argv[1], "tcp-serve"))
		return tcp_serve(argv[2]);
	if (argc == 6 && !strcmp(argv[1], "tcp-rate"))
		return tcp_rate(argv[2], argv[3], atof(argv[4]), atoi(argv[5]));
	if (argc == 4 && !strcmp(argv[1], "udp-sink"))
		return udp_sink(argv[2], atof(argv[3]));
	if (argc == 7 && !strcmp(argv[1], "udp-blast"))
		return udp_blast(argv[2], argv[3], atof(argv[4]), atoi(argv[5]), atoi(argv[6]));
	fprintf(stderr, "usage: flowgen tcp-serve PORT | tcp-rate DST PORT SECS CONC |\n"
		"       udp-sink PORT SECS | udp-blast DST PORT SECS FLOWS SIZE\n");
	return 2;
}
