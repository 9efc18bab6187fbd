/* subagent benchmark latency|throughput|serve: latency and throughput from here (a node,
 * or a pod's network namespace) to an address of another cluster, with a progress line
 * while it runs (agent/diag/bench.c); serve runs the iperf3 server for the other end. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/cli/cli.h"
#include "agent/cli/cmd.h"
#include "agent/cli/print.h"
#include "agent/diag/bench.h"
#include "common/util.h"

#define PROG "subagent benchmark"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: subagent benchmark latency (--to IP | --cluster ID) [--config-dir DIR]\n"
		"                                  [--count N] [--interval-ms N] [-o json]\n"
		"       subagent benchmark throughput --to IP [--config-dir DIR] [--port P]\n"
		"                                  [--duration S] [--parallel N] [--reverse] [-o json]\n"
		"       subagent benchmark serve [--bind IP] [--port P] [--once]\n\n"
		"Measures from where it runs (this node, or a pod: run it in the pod's network\n"
		"namespace) to an address in another cluster: a pod, a node, or with --cluster that\n"
		"cluster's gateway. latency: ICMP echo samples (min, avg, p50, p90, p99, max).\n"
		"throughput: iperf3 (TCP) to an iperf3 server there: start one with 'subagent\n"
		"benchmark serve' on the other end. A progress line runs on stderr meanwhile.\n\n"
		"Options:\n"
		"  --to IP            the other end\n"
		"  --cluster ID       latency: the gateway of remote cluster ID (needs --config-dir)\n"
		"  --config-dir DIR   this cluster's configuration: names the remote cluster\n"
		"  --count N          latency samples (default 20)\n"
		"  --interval-ms N    between samples (default 100)\n"
		"  --port P           iperf3's port (default 5201)\n"
		"  --duration S       throughput seconds (default 10)\n"
		"  --parallel N       throughput streams (default 1)\n"
		"  --reverse          throughput from the other end to here\n"
		"  --bind IP          serve: listen on this address only\n"
		"  --once             serve: exit after one test\n"
		"  -o json            JSON instead of a table\n");
}

/* On a terminal one line rewritten in place; elsewhere (logs) a line a second. */
static void progress(void *ctx, const char *line)
{
	static uint64_t last;
	uint64_t now = util_now_ns();

	if (isatty(STDERR_FILENO)) {
		fprintf(stderr, "\r\033[K%s: %s", (const char *)ctx, line);
	} else if (now - last >= NSEC_PER_SEC) {
		fprintf(stderr, "%s: %s\n", (const char *)ctx, line);
		last = now;
	}
}

static void progress_end(void)
{
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "\r\033[K");
}

static void fmt_ms(const cJSON *v, char *buf, size_t len)
{
	snprintf(buf, len, "%.3fms", cJSON_IsNumber(v) ? v->valuedouble : 0);
}

static void fmt_mbps(const cJSON *v, char *buf, size_t len)
{
	snprintf(buf, len, "%.1f Mbit/s", cJSON_IsNumber(v) ? v->valuedouble : 0);
}

struct bopts {
	const char *to, *cluster, *dir, *bind;
	unsigned count, interval, port, secs, parallel;
	bool reverse, once, json;
};

static int serve(const struct bopts *b)
{
	char port[16];
	char *argv[10];
	int n = 0;

	snprintf(port, sizeof(port), "%u", b->port);
	argv[n++] = "iperf3";
	argv[n++] = "-s";
	argv[n++] = "-p";
	argv[n++] = port;
	if (b->bind) {
		argv[n++] = "-B";
		argv[n++] = (char *)b->bind;
	}
	if (b->once)
		argv[n++] = "-1";
	argv[n] = NULL;
	fprintf(stderr, "%s: iperf3 server on %s:%u%s\n", PROG, b->bind ? b->bind : "*", b->port,
		b->once ? " for one test" : "");
	fflush(stderr);
	execvp("iperf3", argv);
	return cli_error(PROG, 1, "iperf3: %m (install Debian's iperf3)");
}

static int run(const char *what, const struct bopts *b)
{
	static const struct print_col lcols[] = {
		{ "FROM", "from", NULL }, { "TO", "to", NULL }, { "CLUSTER", "cluster", NULL },
		{ "SENT", "sent", NULL }, { "ANSWERED", "answered", NULL },
		{ "MIN", "min_ms", fmt_ms }, { "AVG", "avg_ms", fmt_ms }, { "P50", "p50_ms", fmt_ms },
		{ "P90", "p90_ms", fmt_ms }, { "P99", "p99_ms", fmt_ms }, { "MAX", "max_ms", fmt_ms },
	};
	static const struct print_col tcols[] = {
		{ "FROM", "from", NULL }, { "TO", "to", NULL }, { "CLUSTER", "cluster", NULL },
		{ "DIRECTION", "direction", NULL }, { "SECONDS", "seconds", NULL },
		{ "SENDER", "sender_mbps", fmt_mbps }, { "RECEIVER", "receiver_mbps", fmt_mbps },
		{ "RETRANSMITS", "retransmits", NULL },
	};
	bool lat = !strcmp(what, "latency");
	char err[512], label[96];
	cJSON *row, *rows;
	uint32_t dst;
	int rc;

	if (!lat && !b->to)
		return cli_error(PROG, 2, "throughput needs --to IP (an iperf3 server there)");
	row = bench_target(b->dir, b->to, b->cluster, &dst, err, sizeof(err));
	if (!row)
		return cli_error(PROG, 1, "%s", err);
	snprintf(label, sizeof(label), "%s %s", what, cJSON_GetObjectItem(row, "to")->valuestring);
	if (lat) {
		struct bench_latency l;

		rc = bench_latency(dst, b->count, b->interval, 1000, progress, label, &l);
		progress_end();
		if (rc) {
			cJSON_Delete(row);
			return cli_error(PROG, 1, "latency: %s", strerror(-rc));
		}
		cJSON_AddNumberToObject(row, "sent", l.sent);
		cJSON_AddNumberToObject(row, "answered", l.received);
		cJSON_AddNumberToObject(row, "min_ms", l.min_ms);
		cJSON_AddNumberToObject(row, "avg_ms", l.avg_ms);
		cJSON_AddNumberToObject(row, "p50_ms", l.p50_ms);
		cJSON_AddNumberToObject(row, "p90_ms", l.p90_ms);
		cJSON_AddNumberToObject(row, "p99_ms", l.p99_ms);
		cJSON_AddNumberToObject(row, "max_ms", l.max_ms);
		cJSON_AddNumberToObject(row, "stddev_ms", l.stddev_ms);
		rc = l.received ? 0 : 1;
	} else {
		struct bench_tput t;

		rc = bench_throughput(cJSON_GetObjectItem(row, "to")->valuestring, b->port, b->secs,
				      b->parallel, b->reverse, progress, label, &t, err, sizeof(err));
		progress_end();
		if (rc) {
			cJSON_Delete(row);
			return cli_error(PROG, 1, "%s", err);
		}
		cJSON_AddStringToObject(row, "direction", b->reverse ? "from them" : "to them");
		cJSON_AddNumberToObject(row, "seconds", t.seconds);
		cJSON_AddNumberToObject(row, "sender_mbps", t.sender_mbps);
		cJSON_AddNumberToObject(row, "receiver_mbps", t.receiver_mbps);
		cJSON_AddNumberToObject(row, "bytes", t.bytes);
		cJSON_AddNumberToObject(row, "retransmits", (double)t.retransmits);
		cJSON_AddNumberToObject(row, "streams", b->parallel);
	}
	rows = cJSON_CreateArray();
	cJSON_AddItemToArray(rows, row);
	if (b->json)
		(void)print_json(stdout, row);
	else if (lat)
		print_table(stdout, rows, lcols, ARRAY_SIZE(lcols));
	else
		print_table(stdout, rows, tcols, ARRAY_SIZE(tcols));
	cJSON_Delete(rows);
	if (rc)
		fprintf(stderr, "%s: no echo came back\n", PROG);
	return rc;
}

static int number(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!*s || *end || v < lo || v > hi)
		return -1;
	*out = (unsigned)v;
	return 0;
}

int cmd_benchmark(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' }, { "cluster", required_argument, NULL, 'C' },
		{ "config-dir", required_argument, NULL, 'c' },
		{ "count", required_argument, NULL, 'n' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "port", required_argument, NULL, 'p' }, { "duration", required_argument, NULL, 'd' },
		{ "parallel", required_argument, NULL, 'P' }, { "reverse", no_argument, NULL, 'R' },
		{ "bind", required_argument, NULL, 'b' }, { "once", no_argument, NULL, '1' },
		{ "output", required_argument, NULL, 'o' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bopts b = { .count = 20, .interval = 100, .port = 5201, .secs = 10, .parallel = 1 };
	const char *what;
	int c, bad = 0;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	what = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 't': b.to = optarg; break;
		case 'C': b.cluster = optarg; break;
		case 'c': b.dir = optarg; break;
		case 'n': bad |= number(optarg, 1, 100000, &b.count); break;
		case 'i': bad |= number(optarg, 1, 60000, &b.interval); break;
		case 'p': bad |= number(optarg, 1, 65535, &b.port); break;
		case 'd': bad |= number(optarg, 1, 3600, &b.secs); break;
		case 'P': bad |= number(optarg, 1, 128, &b.parallel); break;
		case 'R': b.reverse = true; break;
		case 'b': b.bind = optarg; break;
		case '1': b.once = true; break;
		case 'o':
			if (strcmp(optarg, "json"))
				return cli_error(PROG, 2, "-o takes only 'json'");
			b.json = true;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (bad)
		return cli_error(PROG, 2, "a number option is out of range (see --help)");
	if (optind != argc)
		return cli_error(PROG, 2, "unexpected argument '%s'", argv[optind]);
	if (!strcmp(what, "serve"))
		return serve(&b);
	if (strcmp(what, "latency") && strcmp(what, "throughput"))
		return cli_error(PROG, 2, "unknown '%s' (latency, throughput or serve)", what);
	if (b.cluster && !b.dir)
		return cli_error(PROG, 2, "--cluster needs --config-dir");
	return run(what, &b);
}
