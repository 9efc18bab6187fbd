/* What the node tells a monitoring system: Prometheus metrics on /metrics (connections,
 * election, charon, reconciliation; globalnet adds its own), /healthz (liveness: the
 * event loop turned recently) and /readyz (readiness: this node does its part), served
 * over plain HTTP on --metrics-listen.
 *
 * The loop owns the node's state; the HTTP thread never touches it. The loop refreshes
 * the registry once a second and at every connection change (node_metrics_update), and
 * publishes its heartbeat and its readiness through this module's own small state. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/election/elector.h"
#include "agent/engine/engine.h"
#include "agent/node/node_int.h"
#include "common/httpd.h"
#include "common/json.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"
#include "common/version.h"

/* The loop may block a few seconds in a broker call or a charon start; a liveness probe
 * must not kill the agent for that, only for a loop that stopped turning. */
#define STALL_NS	(15 * NSEC_PER_SEC)

/* The labels Submariner puts on its connection metrics, so that dashboards port. */
#define CONN_LABELS "cable_driver,local_cluster,local_hostname,local_endpoint_ip," \
		    "remote_cluster,remote_hostname,remote_endpoint_ip"

struct node_metrics {
	struct httpd *http;
	_Atomic uint64_t alive_ns;
	pthread_mutex_t mu;		/* guards ready and why */
	bool ready;
	char why[160];
	char last_active[ELECTION_NAME_MAX + 1];
	uint64_t last_epoch;
};

static const struct fam {
	const char *name;
	enum metrics_type type;
	const char *labels, *help;
} fams[] = {
	{ "subagent_build_info", METRICS_GAUGE, "version,cluster,node",
	  "Always 1; the labels say which agent this is" },
	{ "subagent_ready", METRICS_GAUGE, NULL,
	  "1 when this node does its part (what /readyz answers)" },
	{ "subagent_gateway_active", METRICS_GAUGE, NULL,
	  "1 while this node is its cluster's active gateway" },
	{ "subagent_gateway_capable", METRICS_GAUGE, NULL,
	  "1 when this node may become its cluster's gateway" },
	{ "subagent_gateway_activations_total", METRICS_COUNTER, NULL,
	  "Times this node became its cluster's active gateway" },
	{ "subagent_election_epoch", METRICS_GAUGE, NULL,
	  "The active gateway's term as this node knows it (grows at every failover)" },
	{ "subagent_election_peers", METRICS_GAUGE, NULL,
	  "Nodes of the cluster this node hears (itself included)" },
	{ "subagent_election_failovers_total", METRICS_COUNTER, NULL,
	  "Times this node saw the cluster's active gateway move to another node" },
	{ "subagent_charon_restarts_total", METRICS_COUNTER, NULL,
	  "Times the agent found its charon dead and started it again" },
	{ "subagent_reconcile_errors_total", METRICS_COUNTER, "resource",
	  "Steps towards the desired state that failed (retried)" },
	{ "subagent_gateway_status_updates_total", METRICS_COUNTER, "result",
	  "GatewayStatus writes to the broker, by result (ok, error)" },
	{ "subagent_connections", METRICS_GAUGE, CONN_LABELS ",status",
	  "Connections to remote clusters by status (connecting, connected, error): 1 each" },
	{ "subagent_connection_up", METRICS_GAUGE, CONN_LABELS,
	  "1 while the connection is connected (tunnel up and health probes answered)" },
	{ "subagent_connection_latency_seconds", METRICS_GAUGE, CONN_LABELS,
	  "Round-trip time of the last health probe through the tunnel" },
	{ "subagent_connection_latency_average_seconds", METRICS_GAUGE, CONN_LABELS,
	  "Average round-trip time of the recent health probes through the tunnel" },
	{ "subagent_connection_established_timestamp_seconds", METRICS_GAUGE, CONN_LABELS,
	  "When the connection's current IKE SA was established (unix time)" },
	{ "subagent_connection_rx_bytes_total", METRICS_COUNTER, CONN_LABELS,
	  "Bytes received through the connection's current SAs" },
	{ "subagent_connection_tx_bytes_total", METRICS_COUNTER, CONN_LABELS,
	  "Bytes sent through the connection's current SAs" },
	{ "subagent_connection_rx_packets_total", METRICS_COUNTER, CONN_LABELS,
	  "Packets received through the connection's current SAs" },
	{ "subagent_connection_tx_packets_total", METRICS_COUNTER, CONN_LABELS,
	  "Packets sent through the connection's current SAs" },
};

/* The families whose series come from the connection list (rebuilt at every update). */
static const char *const conn_fams[] = {
	"subagent_connections", "subagent_connection_up", "subagent_connection_latency_seconds",
	"subagent_connection_latency_average_seconds",
	"subagent_connection_established_timestamp_seconds",
	"subagent_connection_rx_bytes_total", "subagent_connection_tx_bytes_total",
	"subagent_connection_rx_packets_total", "subagent_connection_tx_packets_total",
};

static void serve(void *ctx, const char *path, struct httpd_reply *r)
{
	struct node_metrics *m = ctx;
	char msg[200];

	if (!strcmp(path, "/metrics")) {
		r->body = metrics_render(&r->len);
		r->code = r->body ? 200 : 500;
		r->content_type = METRICS_CONTENT_TYPE;
	} else if (!strcmp(path, "/healthz")) {
		uint64_t age = util_now_ns() - atomic_load(&m->alive_ns);

		if (age < STALL_NS) {
			httpd_reply_text(r, 200, "ok\n");
		} else {
			snprintf(msg, sizeof(msg), "event loop stalled for %llu s\n",
				 (unsigned long long)(age / NSEC_PER_SEC));
			httpd_reply_text(r, 503, msg);
		}
	} else if (!strcmp(path, "/readyz")) {
		pthread_mutex_lock(&m->mu);
		snprintf(msg, sizeof(msg), "%s\n", m->ready ? "ready" : m->why);
		httpd_reply_text(r, m->ready ? 200 : 503, msg);
		pthread_mutex_unlock(&m->mu);
	}
}

int node_metrics_start(struct node *n)
{
	struct node_metrics *m = calloc(1, sizeof(*m));
	int err = 0;

	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->mu, NULL);
	snprintf(m->why, sizeof(m->why), "starting");
	atomic_store(&m->alive_ns, util_now_ns());
	n->nm = m;
	for (size_t i = 0; i < ARRAY_SIZE(fams) && !err; i++)
		err = metrics_define(fams[i].name, fams[i].type, fams[i].help, fams[i].labels);
	if (!err)
		err = metrics_process_collector();
	if (err) {
		pr_err("metrics: %s\n", strerror(-err));
		return err;
	}
	metrics_set("subagent_build_info", 1, SUBAGENT_VERSION, n->cfg.cluster_id, n->o->node);
	metrics_set("subagent_gateway_capable", n->o->gateway_capable);
	if (!n->o->metrics_listen)
		return 0;
	m->http = httpd_start(n->o->metrics_listen, serve, m);
	if (!m->http) {
		err = -errno;
		pr_err("metrics: listen on %s: %s\n", n->o->metrics_listen,
		       err == -EINVAL ? "want ADDR:PORT" : strerror(-err));
		return err;
	}
	pr_info("metrics, /healthz and /readyz on http://%s\n", n->o->metrics_listen);
	return 0;
}

void node_metrics_stop(struct node *n)
{
	struct node_metrics *m = n->nm;

	if (!m)
		return;
	httpd_stop(m->http);
	pthread_mutex_destroy(&m->mu);
	free(m);
	n->nm = NULL;
}

void node_metrics_alive(struct node *n, uint64_t now)
{
	if (n->nm)
		atomic_store(&n->nm->alive_ns, now);
}

/* Called when the election reports a change: counts failovers and activations. */
void node_metrics_roles(struct node *n)
{
	struct node_metrics *m = n->nm;
	struct election_peer a;
	bool have, self;

	if (!m)
		return;
	self = elector_role(n->el, &a, &have);
	if (!have)
		return;
	if (m->last_active[0] && (strcmp(m->last_active, a.node) || a.epoch > m->last_epoch))
		metrics_inc("subagent_election_failovers_total");
	if (self && (strcmp(m->last_active, a.node) || !m->last_active[0]))
		metrics_inc("subagent_gateway_activations_total");
	snprintf(m->last_active, sizeof(m->last_active), "%s", a.node);
	m->last_epoch = a.epoch;
}

static void conn_metrics(struct node *n, const cJSON *c, time_t now)
{
	const char *v[7] = {
		json_str(c, "cable_driver", ""), n->cfg.cluster_id, n->o->node,
		n->local.private_ip, json_str(c, "cluster", ""), json_str(c, "gateway", ""),
		json_str(c, "remote_ip", ""),
	};
	const cJSON *est = json_at(c, "established_s");
	const char *status = json_str(c, "status", "error");
	double num[6];
	static const char *const keys[6] = {
		"rtt.last_ns", "rtt.avg_ns", "bytes_in", "bytes_out", "packets_in", "packets_out",
	};

	for (int i = 0; i < 6; i++) {
		const cJSON *x = json_at(c, keys[i]);

		num[i] = cJSON_IsNumber(x) ? x->valuedouble : 0;
	}
#define L v[0], v[1], v[2], v[3], v[4], v[5], v[6]
	metrics_set("subagent_connections", 1, L, status);
	metrics_set("subagent_connection_up", !strcmp(status, "connected"), L);
	if (num[0] > 0) {
		metrics_set("subagent_connection_latency_seconds", num[0] / 1e9, L);
		metrics_set("subagent_connection_latency_average_seconds", num[1] / 1e9, L);
	}
	if (cJSON_IsNumber(est) && est->valuedouble > 0 && !strcmp(status, "connected"))
		metrics_set("subagent_connection_established_timestamp_seconds",
			    (double)(now - (time_t)est->valuedouble), L);
	metrics_set("subagent_connection_rx_bytes_total", num[2], L);
	metrics_set("subagent_connection_tx_bytes_total", num[3], L);
	metrics_set("subagent_connection_rx_packets_total", num[4], L);
	metrics_set("subagent_connection_tx_packets_total", num[5], L);
#undef L
}

/* Whether this node does its part, and if not why (into why). */
static bool readiness(struct node *n, char *why, size_t len)
{
	struct election_peer a;
	struct cidr4 subs[1];
	bool have, self = elector_role(n->el, &a, &have);

	if (!have) {
		snprintf(why, len, "no active gateway in cluster %s yet", n->cfg.cluster_id);
		return false;
	}
	if (self) {
		if (!n->eng) {
			snprintf(why, len, "active gateway, but the gateway engine is not running");
			return false;
		}
		if (!engine_synced(n->eng) && !engine_remote_subnets(n->eng, subs, 1)) {
			snprintf(why, len, "gateway engine waiting for the broker's endpoints");
			return false;
		}
		return true;
	}
	if (!n->ra) {
		snprintf(why, len, "the route agent is not running (see the log)");
		return false;
	}
	return true;
}

void node_metrics_update(struct node *n, const cJSON *conns)
{
	struct node_metrics *m = n->nm;
	struct election_peer peers[1];
	time_t now = time(NULL);
	const cJSON *c;
	char why[160];
	bool ready;

	if (!m)
		return;
	ready = readiness(n, why, sizeof(why));
	pthread_mutex_lock(&m->mu);
	m->ready = ready;
	snprintf(m->why, sizeof(m->why), "%s", ready ? "" : why);
	pthread_mutex_unlock(&m->mu);

	metrics_lock();
	metrics_set("subagent_ready", ready);
	metrics_set("subagent_gateway_active", n->eng != NULL);
	metrics_set("subagent_election_epoch", (double)elector_epoch(n->el));
	metrics_set("subagent_election_peers", elector_peers(n->el, peers, 1));
	for (size_t i = 0; i < ARRAY_SIZE(conn_fams); i++)
		metrics_clear(conn_fams[i]);
	cJSON_ArrayForEach(c, conns)
		conn_metrics(n, c, now);
	metrics_unlock();
}
