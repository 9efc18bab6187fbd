/* `subagent benchmark`: latency (ICMP echo samples) and throughput (iperf3 from Debian,
 * its per-second reports read as they come for the progress line) from wherever it runs
 * (a node, or a pod's network namespace) to an address in another cluster, and the
 * iperf3 server for the other end. */
#ifndef SA_BENCH_H
#define SA_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Called with a one-line progress report ("12/20 samples", "3/10 s: 152 Mbit/s"). */
typedef void (*bench_progress_fn)(void *ctx, const char *line);

struct bench_latency {
	unsigned sent, received;
	double min_ms, avg_ms, p50_ms, p90_ms, p99_ms, max_ms, stddev_ms;
};

/* count ICMP echoes (56 bytes) to dst (host order), one every interval_ms, each waited for
 * at most timeout_ms. 0 (out filled; received may be 0) or -errno. */
int bench_latency(uint32_t dst, unsigned count, unsigned interval_ms, int timeout_ms,
		  bench_progress_fn fn, void *ctx, struct bench_latency *out)
	__attribute__((warn_unused_result));

struct bench_tput {
	double sender_mbps, receiver_mbps;	/* iperf3's summary lines */
	double seconds;
	double bytes;				/* received */
	long retransmits;			/* TCP retransmissions of the sender, -1: unknown */
};

/* iperf3 -c dst -p port -t secs [-P parallel] [-R] (the server sends with reverse).
 * 0, or -errno with err saying why (iperf3 missing, refused, no summary). */
int bench_throughput(const char *dst, unsigned port, unsigned secs, unsigned parallel,
		     bool reverse, bench_progress_fn fn, void *ctx, struct bench_tput *out,
		     char *err, size_t errlen) __attribute__((warn_unused_result));

/* One line of iperf3's text report (-f m). */
struct bench_iperf_line {
	bool sum;		/* [SUM], several streams together */
	int kind;		/* 0: an interval, 1: the sender's summary, 2: the receiver's */
	double start, end;	/* seconds */
	double bytes;
	double mbps;
	long retransmits;	/* -1 when the line has none */
};

/* 0 when line is one of those, -EINVAL otherwise. Reads what a remote iperf3 server can
 * influence: fuzzed. */
int bench_iperf_line(const char *line, struct bench_iperf_line *out)
	__attribute__((warn_unused_result));

struct cJSON;

/* What the benchmark measures between: a row {"from", "to", "cluster"} for dst, or for the
 * remote cluster `cluster`'s gateway (its health-check IP, where the agent answers echo)
 * when to is NULL. config_dir may be NULL with to set (then "cluster" is ""). *dst gets
 * the address. NULL with err set. */
struct cJSON *bench_target(const char *config_dir, const char *to, const char *cluster,
			   uint32_t *dst, char *err, size_t errlen);

#endif
