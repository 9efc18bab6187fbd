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

#include "agent/cli/cmd.h"
#include "agent/cli/print.h"
#include "agent/engine/endpoint.h"
#include "agent/engine/probe.h"
#include "broker/client/client.h"
#include "broker/creds/cluster_config.h"
#include "common/log.h"
#include "common/util.h"

#define BIG 3000

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

int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config-dir", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *state = NULL;
	char status_path[PATH_MAX], host[256], cerr[BRK_ERR_MAX];
	struct cluster_config cfg = { 0 };
	struct brk_client *brk = NULL;
	struct brk_status st;
	cJSON *list = NULL, *rows = cJSON_CreateArray(), *before = NULL;
	struct sa_endpoint remotes[64];
	unsigned nr = 0;
	int timeout = 3000, json = 0, c, all_ok = 1, rc = 1;
	double t0;
	struct source src = { 0 };

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': dir = optarg; break;
		case 's': state = optarg; break;
		case 't':
			timeout = atoi(optarg);
			if (timeout < 100 || timeout > 60000) {
				fprintf(stderr, "subagent verify: --timeout-ms must be 100..60000\n");
				return 2;
			}
			break;
		case 'o':
			if (strcmp(optarg, "json")) {
				fprintf(stderr, "subagent verify: -o takes only 'json'\n");
				return 2;
			}
			json = 1;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || !dir) {
		fprintf(stderr, "subagent verify: %s\n", dir ? "unexpected argument" :
			"--config-dir is required");
		return 2;
	}
	if (cluster_config_load_err(dir, &cfg, cerr)) {
		fprintf(stderr, "subagent verify: %s\n", cerr);
		return 1;
	}
	brk = brk_client_new(cfg.broker_urls, cfg.n_broker_urls,
			     cfg.ca_path, cfg.token);
	if (!brk || !rows)
		goto out;
	brk_client_set_timeouts(brk, 3000, 10000);
	if (brk_list(brk, "endpoints", &list, &st)) {
		fprintf(stderr, "subagent verify: list endpoints from %s: %s\n", st.url, st.message);
		goto out;
	}
	/* The newest endpoint (highest epoch) of every other cluster. */
	{
		const cJSON *it;

		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(list, "items")) {
			struct sa_endpoint ep;
			char err[256];
			unsigned i;

			if (endpoint_from_json(it, &ep, err, sizeof(err)) ||
			    !strcmp(ep.cluster_id, cfg.cluster_id))
				continue;
			for (i = 0; i < nr && strcmp(remotes[i].cluster_id, ep.cluster_id); i++)
				;
			if (i == nr && nr < ARRAY_SIZE(remotes))
				remotes[nr++] = ep;
			else if (i < nr && ep.epoch > remotes[i].epoch)
				remotes[i] = ep;
		}
	}
	if (!nr) {
		fprintf(stderr, "subagent verify: no remote cluster has published an endpoint\n");
		goto out;
	}

	if (!state) {
		if (gethostname(host, sizeof(host)))
			strcpy(host, "node");
		host[sizeof(host) - 1] = '\0';
		snprintf(status_path, sizeof(status_path), "/var/lib/subagent/%s/status.json", host);
	} else {
		snprintf(status_path, sizeof(status_path), "%s/status.json", state);
	}
	/* Counters are local on the active gateway; anywhere else they come from the broker. */
	src.status_path = NULL;
	{
		char *txt = util_read_file(status_path, 4 << 20, NULL);
		cJSON *o = txt ? cJSON_Parse(txt) : NULL;
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(o, "role");

		if (cJSON_IsString(role) && !strcmp(role->valuestring, "gateway"))
			src.status_path = status_path;
		cJSON_Delete(o);
		free(txt);
	}
	src.brk = brk;
	src.cluster = cfg.cluster_id;
	before = read_conns(&src, &t0);

	for (unsigned i = 0; i < nr; i++) {
		struct sa_endpoint *ep = &remotes[i];
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

	/* Encryption: wait for a report newer than the checks, then compare the counters. */
	{
		uint64_t deadline = util_now_ns() + (src.status_path ? 4 : 12) * 1000000000ull;
		double t1 = 0, checks_done = (double)time(NULL);
		cJSON *after = NULL;

		do {
			cJSON_Delete(after);
			after = read_conns(&src, &t1);
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
	}

	if (json) {
		char *s = cJSON_Print(rows);

		if (s)
			printf("%s\n", s);
		free(s);
	} else {
		static const struct print_col cols[] = {
			{ "CLUSTER", "cluster", NULL }, { "CHECK", "check", NULL },
			{ "RESULT", "result", NULL }, { "DETAIL", "detail", NULL },
		};
		print_table(stdout, rows, cols, ARRAY_SIZE(cols));
		printf("%s\n", all_ok ? "verify: all checks passed" : "verify: some checks FAILED");
	}
	rc = all_ok ? 0 : 1;
out:
	cJSON_Delete(before);
	cJSON_Delete(list);
	cJSON_Delete(rows);
	brk_client_free(brk);
	cluster_config_free(&cfg);
	return rc;
}
