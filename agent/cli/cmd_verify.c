/* subagent verify: from the node it runs on, to every remote cluster's gateway: ICMP, TCP
 * and UDP exchanges, 3000-byte payloads (fragmentation, path MTU), and proof that the
 * traffic was encrypted (the IPsec SA counters of the connection moved). Every check has a
 * deadline; exit 0 only when all passed. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/cli/cli.h"
#include "agent/cli/cmd.h"
#include "agent/cli/print.h"
#include "agent/engine/probe.h"
#include "broker/client/client.h"
#include "broker/client/endpoint.h"
#include "broker/creds/cluster_config.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"

#define BIG 3000
#define PROG "subagent verify"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: subagent verify --config-dir DIR [OPTIONS]\n\n"
		"Checks the connection from this node to every remote cluster's gateway: ICMP echo,\n"
		"a TCP and a UDP exchange, %d-byte payloads, and that the traffic was encrypted\n"
		"(the connection's SA counters moved). Exits 0 only when every check passed.\n\n"
		"Options:\n"
		"  --config-dir DIR   the cluster configuration written by 'subagent join'\n"
		"  --state-dir DIR    the local agent's state directory, for its SA counters\n"
		"                     (default /var/lib/subagent/<hostname>; without it the counters\n"
		"                     come from the gateway's status in the broker)\n"
		"  --timeout-ms N     deadline of each check (default 3000)\n"
		"  -o json            JSON instead of a table\n", BIG);
}

struct counters {
	double out, in;
	bool known, encrypted;
	char driver[16];
};

/* The connection to cluster in a list of connections (status file or GatewayStatus). */
static void conn_counters(const cJSON *conns, const char *cluster, struct counters *c)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, conns) {
		const cJSON *cl = cJSON_GetObjectItemCaseSensitive(it, "cluster");
		const cJSON *bo = cJSON_GetObjectItemCaseSensitive(it, "bytes_out");
		const cJSON *bi = cJSON_GetObjectItemCaseSensitive(it, "bytes_in");
		const cJSON *cd = cJSON_GetObjectItemCaseSensitive(it, "cable_driver");

		if (!cJSON_IsString(cl) || strcmp(cl->valuestring, cluster))
			continue;
		c->known = cJSON_IsNumber(bo) && cJSON_IsNumber(bi);
		c->out = c->known ? bo->valuedouble : 0;
		c->in = c->known ? bi->valuedouble : 0;
		c->encrypted = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "encrypted"));
		snprintf(c->driver, sizeof(c->driver), "%s", cJSON_IsString(cd) ? cd->valuestring : "");
	}
}

struct source {
	const char *status_path;	/* local status file, or NULL: the broker */
	struct brk_client *brk;
	const char *cluster;
};

/* Reads the connections and the time they were reported at. NULL when unavailable. */
static cJSON *read_conns(const struct source *s, double *updated)
{
	cJSON *conns = NULL;

	*updated = 0;
	if (s->status_path) {
		char *txt = util_read_file(s->status_path, 4 << 20, NULL);
		cJSON *o = txt ? cJSON_Parse(txt) : NULL;

		free(txt);
		if (o) {
			const cJSON *u = cJSON_GetObjectItemCaseSensitive(o, "updated_unix");

			*updated = cJSON_IsNumber(u) ? u->valuedouble : 0;
			conns = cJSON_DetachItemFromObjectCaseSensitive(o, "connections");
			cJSON_Delete(o);
		}
		return conns;
	}
	{
		struct brk_status st;
		cJSON *list = NULL;
		const cJSON *gs;

		if (brk_list(s->brk, "gatewaystatuses", &list, &st))
			return NULL;
		cJSON_ArrayForEach(gs, cJSON_GetObjectItemCaseSensitive(list, "items")) {
			const cJSON *spec = cJSON_GetObjectItemCaseSensitive(gs, "spec");
			const cJSON *cl = cJSON_GetObjectItemCaseSensitive(spec, "clusterID");
			const cJSON *ha = cJSON_GetObjectItemCaseSensitive(spec, "haStatus");
			const cJSON *u = cJSON_GetObjectItemCaseSensitive(spec, "updatedUnix");

			if (cJSON_IsString(cl) && !strcmp(cl->valuestring, s->cluster) &&
			    cJSON_IsString(ha) && !strcmp(ha->valuestring, "active")) {
				*updated = cJSON_IsNumber(u) ? u->valuedouble : 0;
				conns = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(spec, "connections"), 1);
			}
		}
		cJSON_Delete(list);
		return conns;
	}
}

static void add_result(cJSON *rows, const char *cluster, const char *check, int ok,
		       const char *detail)
{
	cJSON *r = cJSON_CreateObject();

	if (!r)
		return;
	cJSON_AddStringToObject(r, "cluster", cluster);
	cJSON_AddStringToObject(r, "check", check);
	cJSON_AddStringToObject(r, "result", ok > 0 ? "pass" : ok == 0 ? "FAIL" : "skip");
	cJSON_AddStringToObject(r, "detail", detail);
	cJSON_AddItemToArray(rows, r);
}

static int run_probe(cJSON *rows, const char *cluster, const char *check, int rc, uint64_t rtt)
{
	char d[128];

	if (rc)
		snprintf(d, sizeof(d), "%s", rc == -ETIMEDOUT ? "no answer before the deadline" :
			 rc == -EBADMSG ? "the answer differs from what was sent" : strerror(-rc));
	else
		snprintf(d, sizeof(d), "%.3f ms", (double)rtt / 1e6);
	add_result(rows, cluster, check, rc == 0, d);
	return rc == 0;
}

struct vopts {
	const char *dir, *state;
	int timeout, json;
};

/* 0, -1 (help printed) or an exit code. */
static int parse_opts(int argc, char **argv, struct vopts *vo)
{
	static const struct option opts[] = {
		{ "config-dir", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	vo->timeout = 3000;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': vo->dir = optarg; break;
		case 's': vo->state = optarg; break;
		case 't':
			vo->timeout = atoi(optarg);
			if (vo->timeout < 100 || vo->timeout > 60000)
				return cli_error(PROG, 2, "--timeout-ms must be 100..60000");
			break;
		case 'o':
			if (strcmp(optarg, "json"))
				return cli_error(PROG, 2, "-o takes only 'json'");
			vo->json = 1;
			break;
		case 'h': usage(stdout); return -1;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || !vo->dir)
		return cli_error(PROG, 2, "%s", vo->dir ? "unexpected argument" :
				 "--config-dir is required");
	return 0;
}

/* The newest endpoint (highest epoch) of every other cluster; returns how many. */
static unsigned newest_remotes(const cJSON *list, const char *self, struct sa_endpoint *out,
			       unsigned max)
{
	const cJSON *it;
	unsigned nr = 0;

	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(list, "items")) {
		struct sa_endpoint ep;
		char err[256];
		unsigned i;

		if (endpoint_from_json(it, &ep, err, sizeof(err)) || !strcmp(ep.cluster_id, self))
			continue;
		for (i = 0; i < nr && strcmp(out[i].cluster_id, ep.cluster_id); i++)
			;
		if (i == nr && nr < max)
			out[nr++] = ep;
		else if (i < nr && ep.epoch > out[i].epoch)
			out[i] = ep;
	}
	return nr;
}

/* Counters are local on the active gateway (its status file); anywhere else they come
 * from the broker. */
static void counter_source(const char *state, char *path, size_t len, struct source *src)
{
	char host[256], *txt;
	cJSON *o;

	if (!state) {
		if (gethostname(host, sizeof(host)))
			strcpy(host, "node");
		host[sizeof(host) - 1] = '\0';
		snprintf(path, len, "/var/lib/subagent/%s/status.json", host);
	} else {
		snprintf(path, len, "%s/status.json", state);
	}
	txt = util_read_file(path, 4 << 20, NULL);
	o = txt ? cJSON_Parse(txt) : NULL;
	src->status_path = !strcmp(json_str(o, "role", ""), "gateway") ? path : NULL;
	cJSON_Delete(o);
	free(txt);
}

/* ICMP, then 3000-byte ICMP, TCP and UDP exchanges with every remote gateway's health IP.
 * Returns 1 when all passed. */
static int probe_all(cJSON *rows, const struct sa_endpoint *remotes, unsigned nr, int timeout)
{
	int all_ok = 1;

	for (unsigned i = 0; i < nr; i++) {
		const struct sa_endpoint *ep = &remotes[i];
		uint32_t dst;
		uint64_t rtt = 0;
		int prc;

		if (!ep->health_ip[0] || ip4_parse(ep->health_ip, &dst)) {
			add_result(rows, ep->cluster_id, "target", 0,
				   "the remote gateway publishes no health-check IP");
			all_ok = 0;
			continue;
		}
		/* (each probe runs before its result is passed on: argument order is unspecified) */
		prc = probe_icmp(dst, 56, timeout, &rtt);
		all_ok &= run_probe(rows, ep->cluster_id, "icmp", prc, rtt);
		prc = probe_icmp(dst, BIG, timeout, &rtt);
		all_ok &= run_probe(rows, ep->cluster_id, "icmp 3000 bytes", prc, rtt);
		prc = probe_tcp(dst, PROBE_PORT, BIG, timeout, &rtt);
		all_ok &= run_probe(rows, ep->cluster_id, "tcp 3000 bytes", prc, rtt);
		prc = probe_udp(dst, PROBE_PORT, BIG, timeout, &rtt);
		all_ok &= run_probe(rows, ep->cluster_id, "udp 3000 bytes", prc, rtt);
	}
	return all_ok;
}

/* Encryption: waits for a report newer than the checks, then compares each connection's
 * SA counters with before. Returns 1 when all passed. */
static int check_encryption(cJSON *rows, const struct sa_endpoint *remotes, unsigned nr,
			    const struct source *src, const cJSON *before)
{
	uint64_t deadline = util_now_ns() + (src->status_path ? 4 : 12) * NSEC_PER_SEC;
	double t1 = 0, checks_done = (double)time(NULL);
	cJSON *after = NULL;
	int all_ok = 1;

	do {
		cJSON_Delete(after);
		after = read_conns(src, &t1);
		if (t1 > checks_done)
			break;
		usleep(250000);
	} while (util_now_ns() < deadline);
	for (unsigned i = 0; i < nr; i++) {
		struct counters b = { 0 }, a = { 0 };
		char d[160];

		conn_counters(before, remotes[i].cluster_id, &b);
		conn_counters(after, remotes[i].cluster_id, &a);
		if (!a.known || !b.known || t1 <= checks_done) {
			add_result(rows, remotes[i].cluster_id, "encrypted", 0,
				   "no fresh SA counters from the gateway");
			all_ok = 0;
		} else if (!a.encrypted) {
			snprintf(d, sizeof(d), "cable driver %s does not encrypt", a.driver);
			add_result(rows, remotes[i].cluster_id, "encrypted", -1, d);
		} else {
			int ok = a.out - b.out >= 3 * BIG && a.in - b.in >= 3 * BIG;

			snprintf(d, sizeof(d), "SA bytes out +%.0f, in +%.0f", a.out - b.out,
				 a.in - b.in);
			add_result(rows, remotes[i].cluster_id, "encrypted", ok, d);
			all_ok &= ok;
		}
	}
	cJSON_Delete(after);
	return all_ok;
}

int cmd_verify(int argc, char **argv)
{
	static const struct print_col cols[] = {
		{ "CLUSTER", "cluster", NULL }, { "CHECK", "check", NULL },
		{ "RESULT", "result", NULL }, { "DETAIL", "detail", NULL },
	};
	struct vopts vo = { 0 };
	char status_path[PATH_MAX];
	struct cluster_config cfg = { 0 };
	struct brk_client *brk = NULL;
	struct brk_status st;
	cJSON *list = NULL, *rows = NULL, *before = NULL;
	struct sa_endpoint remotes[64];
	struct source src = { 0 };
	unsigned nr;
	int all_ok, rc;
	double t0;

	rc = parse_opts(argc, argv, &vo);
	if (rc)
		return rc < 0 ? 0 : rc;
	rc = cli_open_cluster("verify", vo.dir, &cfg, &brk);
	if (rc)
		return rc;
	rc = 1;
	rows = cJSON_CreateArray();
	if (!rows)
		goto out;
	if (brk_list(brk, "endpoints", &list, &st)) {
		cli_error(PROG, 1, "list endpoints from %s: %s", st.url, st.message);
		goto out;
	}
	nr = newest_remotes(list, cfg.cluster_id, remotes, ARRAY_SIZE(remotes));
	if (!nr) {
		cli_error(PROG, 1, "no remote cluster has published an endpoint");
		goto out;
	}
	counter_source(vo.state, status_path, sizeof(status_path), &src);
	src.brk = brk;
	src.cluster = cfg.cluster_id;
	before = read_conns(&src, &t0);
	all_ok = probe_all(rows, remotes, nr, vo.timeout);
	all_ok &= check_encryption(rows, remotes, nr, &src, before);
	print_rows(stdout, rows, cols, ARRAY_SIZE(cols), vo.json);
	if (!vo.json)
		printf("%s\n", all_ok ? "verify: all checks passed" : "verify: some checks FAILED");
	rc = all_ok ? 0 : 1;
out:
	cJSON_Delete(before);
	cJSON_Delete(list);
	cJSON_Delete(rows);
	cli_close_cluster(&cfg, brk);
	return rc;
}
