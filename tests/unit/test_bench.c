/* Unit tests for `subagent benchmark`'s pieces (agent/diag/bench.c): iperf3's report lines,
 * and both measurements against real peers on a private loopback (ICMP echo from the
 * kernel, a real iperf3 server). */
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/diag/bench.h"
#include "tests/unit/harness.h"

static int private_netns(void)
{
	static int ready;
	struct ifreq ifr = { 0 };
	int s;

	if (ready)
		return 0;
	if (unshare(CLONE_NEWNET))
		return -1;
	s = socket(AF_INET, SOCK_DGRAM, 0);
	strcpy(ifr.ifr_name, "lo");
	ioctl(s, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	ioctl(s, SIOCSIFFLAGS, &ifr);
	close(s);
	ready = 1;
	return 0;
}

static void test_iperf_lines(void)
{
	struct bench_iperf_line l;

	CHECK(bench_iperf_line("[  5]   0.00-1.01   sec   260 MBytes  2166 Mbits/sec    1    767 KBytes       ", &l) == 0);
	CHECK(!l.sum && l.kind == 0 && l.start == 0 && l.end > 1.0 && l.end < 1.02);
	CHECK(l.bytes == 260.0 * 1024 * 1024 && l.mbps == 2166 && l.retransmits == 1);
	CHECK(bench_iperf_line("[SUM]   0.00-2.01   sec   811 MBytes  3392 Mbits/sec    2             sender", &l) == 0);
	CHECK(l.sum && l.kind == 1 && l.mbps == 3392 && l.retransmits == 2);
	CHECK(bench_iperf_line("[  5]   0.00-2.02   sec   1.50 GBytes  6.40 Gbits/sec                  receiver", &l) == 0);
	CHECK(l.kind == 2 && l.mbps == 6400 && l.retransmits == -1 && l.bytes == 1.5 * 1024 * 1024 * 1024);
	CHECK(bench_iperf_line("[  5] local 127.0.0.1 port 56906 connected to 127.0.0.1 port 25201", &l) == -EINVAL);
	CHECK(bench_iperf_line("[ ID] Interval           Transfer     Bitrate         Retr  Cwnd", &l) == -EINVAL);
	CHECK(bench_iperf_line("- - - - - - - - -", &l) == -EINVAL);
	CHECK(bench_iperf_line("[  5]   0.00-1.00   sec  18 furlongs  9 Mbits/sec", &l) == -EINVAL);
	CHECK(bench_iperf_line("[  5]   0.00-1.00   sec  nan MBytes  9 Mbits/sec", &l) == -EINVAL);
	CHECK(bench_iperf_line("iperf3: error - unable to connect to server: Connection refused", &l) == -EINVAL);
}

static void count(void *ctx, const char *line)
{
	(*(int *)ctx)++;
}

static void test_latency_loopback(void)
{
	struct bench_latency l;
	int calls = 0;

	if (geteuid() || private_netns())
		SKIP_TEST("needs root for a private netns and raw sockets");
	CHECK(bench_latency(0x7f000001, 5, 10, 500, count, &calls, &l) == 0);
	CHECK_EQ_INT(l.sent, 5);
	CHECK_EQ_INT(l.received, 5);
	CHECK_EQ_INT(calls, 5);
	CHECK(l.min_ms > 0 && l.min_ms <= l.p50_ms && l.p50_ms <= l.p90_ms && l.p90_ms <= l.max_ms);
	CHECK(l.avg_ms >= l.min_ms && l.avg_ms <= l.max_ms && l.max_ms < 500);
	/* no route at all: an error, not a measurement */
	CHECK(bench_latency(0xc0000201, 2, 10, 100, NULL, NULL, &l) == -ENETUNREACH);
}

static void test_throughput_loopback(void)
{
	struct bench_tput t;
	char err[256] = "";
	int calls = 0, st;
	pid_t srv;

	if (geteuid() || private_netns())
		SKIP_TEST("needs root for a private netns");
	if (access("/usr/bin/iperf3", X_OK))
		SKIP_TEST("no iperf3 (make deps)");
	/* nothing listens: a clear error */
	CHECK(bench_throughput("127.0.0.1", 25299, 1, 1, false, NULL, NULL, &t, err, sizeof(err)) == -EIO);
	CHECK(strstr(err, "127.0.0.1 port 25299") != NULL);
	srv = fork();
	REQUIRE(srv >= 0);
	if (!srv) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		execlp("iperf3", "iperf3", "-s", "-1", "-p", "25298", "-B", "127.0.0.1", (char *)NULL);
		_exit(127);
	}
	usleep(300000);
	CHECK(bench_throughput("127.0.0.1", 25298, 2, 2, false, count, &calls, &t, err, sizeof(err)) == 0);
	if (err[0])
		fprintf(stderr, "  %s\n", err);
	CHECK(t.sender_mbps > 0 && t.receiver_mbps > 0 && t.bytes > 0);
	CHECK(t.seconds >= 1.9 && t.retransmits >= 0);
	CHECK(calls >= 1);
	kill(srv, SIGTERM);
	waitpid(srv, &st, 0);
}

int main(void)
{
	RUN(test_iperf_lines);
	RUN(test_latency_loopback);
	RUN(test_throughput_loopback);
	return harness_done();
}
