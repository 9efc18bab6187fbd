/* A UDP prober for the failover benchmark (tests/bench/bench_failover.sh).
 *
 *   udp_probe server PORT
 *       echoes every datagram back to its sender.
 *   udp_probe client ADDR PORT [INTERVAL_MS]
 *       sends a numbered probe every INTERVAL_MS (default 10) until SIGINT/SIGTERM, then
 *       prints one line:
 *         sent=N answered=N lost=N outage_ms=X
 *       outage_ms: the longest time between two answered probes' send times, less one
 *       interval: how long the path was down as the probes saw it (with 10 ms probes,
 *       to within 10 ms). Answers that come back out of order or twice count once.
 *
 * Not a test program: run-all.sh runs only test_* programs. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROBES (1u << 20)

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int server(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("udp_probe server");
		return 1;
	}
	while (!stop) {
		char buf[64];
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);

		if (n > 0)
			(void)!sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
	}
	return 0;
}

static int client(const char *addr, int port, int interval_ms)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	uint64_t *sent_at = calloc(MAX_PROBES, sizeof(*sent_at));
	uint8_t *answered = calloc(MAX_PROBES, 1);
	uint64_t interval = (uint64_t)interval_ms * 1000000ull, next, gap = 0, last = 0;
	uint32_t seq = 0, n_ans = 0;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (!sent_at || !answered || fd < 0 || inet_pton(AF_INET, addr, &to.sin_addr) != 1) {
		fprintf(stderr, "udp_probe client: bad address or no memory\n");
		return 1;
	}
	next = now_ns();
	while (!stop && seq < MAX_PROBES) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = now_ns();
		int wait = now >= next ? 0 : (int)((next - now) / 1000000ull) + 1;

		if (now >= next) {
			uint32_t be = htonl(seq);

			sent_at[seq++] = now;
			(void)!sendto(fd, &be, sizeof(be), 0, (struct sockaddr *)&to, sizeof(to));
			next += interval;
			continue;
		}
		if (poll(&p, 1, wait) > 0) {
			uint32_t be;

			if (recv(fd, &be, sizeof(be), 0) == (ssize_t)sizeof(be)) {
				uint32_t s = ntohl(be);

				if (s < seq && !answered[s]) {
					answered[s] = 1;
					n_ans++;
				}
			}
		}
	}
	/* the longest stretch between two answered probes, by when they were sent */
	for (uint32_t s = 0; s < seq; s++) {
		if (!answered[s])
			continue;
		if (last && sent_at[s] - last > gap)
			gap = sent_at[s] - last;
		last = sent_at[s];
	}
	printf("sent=%u answered=%u lost=%u outage_ms=%llu\n", seq, n_ans, seq - n_ans,
	       (unsigned long long)(gap > interval ? (gap - interval) / 1000000ull : 0));
	free(sent_at);
	free(answered);
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "server"))
		return server(atoi(argv[2]));
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "client"))
		return client(argv[2], atoi(argv[3]), argc == 5 ? atoi(argv[4]) : 10);
	fprintf(stderr, "usage: udp_probe server PORT | udp_probe client ADDR PORT [INTERVAL_MS]\n");
	return 2;
}
