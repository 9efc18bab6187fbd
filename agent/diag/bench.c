/* `subagent benchmark` (see bench.h). */
#include "agent/diag/bench.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/engine/probe.h"
#include "common/util.h"

extern char **environ;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of n sorted samples. */
static double pct(const double *v, unsigned n, double p)
{
	unsigned r = (unsigned)ceil(p / 100.0 * n);

	return v[r ? r - 1 : 0];
}

int bench_latency(uint32_t dst, unsigned count, unsigned interval_ms, int timeout_ms,
		  bench_progress_fn fn, void *ctx, struct bench_latency *out)
{
	double *ms = calloc(count ? count : 1, sizeof(*ms)), sum = 0, var = 0;
	char line[128];

	memset(out, 0, sizeof(*out));
	if (!ms)
		return -ENOMEM;
	for (unsigned i = 0; i < count; i++) {
		uint64_t t0 = util_now_ns(), rtt = 0, next = t0 + interval_ms * NSEC_PER_MSEC;
		int rc = probe_icmp(dst, 56, timeout_ms, &rtt);

		out->sent++;
		if (rc == 0) {
			ms[out->received++] = (double)rtt / 1e6;
		} else if (rc != -ETIMEDOUT && rc != -EBADMSG) {
			free(ms);
			return rc;
		}
		if (fn && rc)
			snprintf(line, sizeof(line), "%u/%u samples, %u answered", i + 1, count,
				 out->received);
		else if (fn)
			snprintf(line, sizeof(line), "%u/%u samples, %u answered, last %.3f ms", i + 1,
				 count, out->received, (double)rtt / 1e6);
		if (fn)
			fn(ctx, line);
		while (i + 1 < count && util_now_ns() < next)
			usleep((useconds_t)((next - util_now_ns()) / 1000) + 1);
	}
	if (out->received) {
		qsort(ms, out->received, sizeof(*ms), cmp_double);
		for (unsigned i = 0; i < out->received; i++)
			sum += ms[i];
		out->avg_ms = sum / out->received;
		for (unsigned i = 0; i < out->received; i++)
			var += (ms[i] - out->avg_ms) * (ms[i] - out->avg_ms);
		out->stddev_ms = sqrt(var / out->received);
		out->min_ms = ms[0];
		out->max_ms = ms[out->received - 1];
		out->p50_ms = pct(ms, out->received, 50);
		out->p90_ms = pct(ms, out->received, 90);
		out->p99_ms = pct(ms, out->received, 99);
	}
	free(ms);
	return 0;
}

int bench_iperf_line(const char *line, struct bench_iperf_line *out)
{
	static const char *const bunits[] = { "Bytes", "KBytes", "MBytes", "GBytes", "TBytes" };
	static const char *const runits[] = { "bits/sec", "Kbits/sec", "Mbits/sec", "Gbits/sec",
					      "Tbits/sec" };
	const char *close, *rest;
	char u1[16], u2[16];
	double val, rate;
	int n = 0, bi = -1, ri = -1;
	long retr;

	memset(out, 0, sizeof(*out));
	out->retransmits = -1;
	if (line[0] != '[' || !(close = strchr(line, ']')) || close - line > 8)
		return -EINVAL;
	out->sum = !strncmp(line + 1, "SUM", 3);
	for (const char *p = line + 1; !out->sum && p < close; p++)
		if (*p != ' ' && (*p < '0' || *p > '9'))
			return -EINVAL;
	if (sscanf(close + 1, " %lf-%lf sec %lf %15s %lf %15s%n", &out->start, &out->end, &val,
		   u1, &rate, u2, &n) != 6 || n <= 0)
		return -EINVAL;
	for (int i = 0; i < 5; i++) {
		if (!strcmp(u1, bunits[i]))
			bi = i;
		if (!strcmp(u2, runits[i]))
			ri = i;
	}
	if (bi < 0 || ri < 0 || !isfinite(val) || !isfinite(rate) || val < 0 || rate < 0 ||
	    !isfinite(out->start) || !isfinite(out->end))
		return -EINVAL;
	out->bytes = val * pow(1024, bi);
	out->mbps = rate * pow(1000, ri) / 1e6;
	rest = close + 1 + n;
	if (sscanf(rest, " %ld", &retr) == 1 && retr >= 0)
		out->retransmits = retr;
	if (strstr(rest, "sender"))
		out->kind = 1;
	else if (strstr(rest, "receiver"))
		out->kind = 2;
	return 0;
}

int bench_throughput(const char *dst, unsigned port, unsigned secs, unsigned parallel,
		     bool reverse, bench_progress_fn fn, void *ctx, struct bench_tput *out,
		     char *err, size_t errlen)
{
	char sp[16], st[16], spar[16], line[512], msg[256] = "";
	char *argv[16];
	int argc = 0, p[2], status = 0, rc = 0;
	uint64_t deadline = util_now_ns() + (secs + 30) * NSEC_PER_SEC;
	posix_spawn_file_actions_t fa;
	bool sender = false, receiver = false;
	FILE *f;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	out->retransmits = -1;
	snprintf(sp, sizeof(sp), "%u", port);
	snprintf(st, sizeof(st), "%u", secs);
	snprintf(spar, sizeof(spar), "%u", parallel ? parallel : 1);
	argv[argc++] = "iperf3";
	argv[argc++] = "-c";
	argv[argc++] = (char *)dst;
	argv[argc++] = "-p";
	argv[argc++] = sp;
	argv[argc++] = "-t";
	argv[argc++] = st;
	argv[argc++] = "-P";
	argv[argc++] = spar;
	argv[argc++] = "-i";
	argv[argc++] = "1";
	argv[argc++] = "-f";
	argv[argc++] = "m";
	argv[argc++] = "--forceflush";
	if (reverse)
		argv[argc++] = "-R";
	argv[argc] = NULL;
	if (pipe2(p, O_CLOEXEC))
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	rc = -posix_spawnp(&pid, "iperf3", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (rc) {
		close(p[0]);
		snprintf(err, errlen, "iperf3: %s (install Debian's iperf3)", strerror(-rc));
		return rc;
	}
	f = fdopen(p[0], "r");
	while (f) {
		struct pollfd pf = { .fd = p[0], .events = POLLIN };
		struct bench_iperf_line l;
		uint64_t now = util_now_ns();

		if (now >= deadline) {
			kill(pid, SIGKILL);
			snprintf(msg, sizeof(msg), "no result after %u s", secs + 30);
			break;
		}
		if (poll(&pf, 1, 1000) <= 0)
			continue;
		if (!fgets(line, sizeof(line), f))
			break;
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "iperf3: ", 8))
			snprintf(msg, sizeof(msg), "%.200s", line + 8);
		if (bench_iperf_line(line, &l) || l.sum != (parallel > 1))
			continue;
		if (l.kind == 0 && fn) {
			snprintf(msg, sizeof(msg), "%.0f/%u s: %.1f Mbit/s", l.end, secs, l.mbps);
			fn(ctx, msg);
			msg[0] = '\0';
		} else if (l.kind == 1) {
			out->sender_mbps = l.mbps;
			out->retransmits = l.retransmits;
			sender = true;
		} else if (l.kind == 2) {
			out->receiver_mbps = l.mbps;
			out->seconds = l.end;
			out->bytes = l.bytes;
			receiver = true;
		}
	}
	if (f)
		fclose(f);
	else
		close(p[0]);
	waitpid(pid, &status, 0);
	if (sender && receiver)
		return 0;
	snprintf(err, errlen, "iperf3 to %s port %u: %s", dst, port,
		 msg[0] ? msg : "no summary (is `subagent benchmark serve` running there?)");
	return -EIO;
}
