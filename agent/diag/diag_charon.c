/* Diagnose: charon's health on the active gateway (its VICI socket answers, how long it
 * has run, the IKE SAs it holds against the remote clusters) and every connection's
 * status as the gateway reports it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cable/strongswan/vici_conn.h"
#include "agent/diag/diag_int.h"
#include "broker/client/client.h"
#include "common/json.h"
#include "common/util.h"

struct sas {
	unsigned ike, child;
	char peers[512];	/* remote IDs of established IKE SAs */
};

static void on_sa(void *ctx, const char *name, const struct vici_node *msg)
{
	struct sas *s = ctx;

	for (const struct vici_node *sa = msg ? msg->child : NULL; sa; sa = sa->next) {
		const char *st = vici_get_str(sa, "state"), *rid = vici_get_str(sa, "remote-id");
		const struct vici_node *ch = vici_child(sa, "child-sas");
		size_t off = strlen(s->peers);

		if (!st || strcmp(st, "ESTABLISHED"))
			continue;
		s->ike++;
		if (rid && off + strlen(rid) + 2 < sizeof(s->peers))
			snprintf(s->peers + off, sizeof(s->peers) - off, "%s%s", off ? "," : "", rid);
		for (const struct vici_node *c = ch ? ch->child : NULL; c; c = c->next) {
			const char *cs = vici_get_str(c, "state");

			s->child += cs && !strcmp(cs, "INSTALLED");
		}
	}
}

void diag_check_charon(struct diag_ctx *c)
{
	char path[PATH_MAX];
	struct vici_conn *vc;
	struct vici_node *ver = NULL, *stats = NULL;
	struct sas s = { 0 };
	int rc;

	if (strcmp(c->cfg.cable_driver, "ipsec") || strcmp(c->role, "gateway")) {
		diag_add(c, "charon", "", DIAG_SKIP, NULL, "%s", strcmp(c->cfg.cable_driver, "ipsec") ?
			 "the cable is not ipsec" : "not the active gateway: no charon on this node");
		return;
	}
	snprintf(path, sizeof(path), "%s/charon/charon.vici", c->state_dir);
	vc = vici_conn_open(path);
	if (!vc) {
		diag_add(c, "charon", path, DIAG_FAIL,
			 "the agent starts charon and restarts it when it dies: see charon.log next to "
			 "the socket and the agent's log", "VICI socket does not answer: %s", strerror(errno));
		return;
	}
	rc = vici_conn_cmd(vc, "version", NULL, &ver, c->timeout_ms * 2);
	if (!rc)
		rc = vici_conn_cmd(vc, "stats", NULL, &stats, c->timeout_ms * 2);
	if (!rc)
		rc = vici_conn_cmd_stream(vc, "list-sas", NULL, "list-sa", on_sa, &s, NULL,
					  c->timeout_ms * 2);
	if (rc) {
		diag_add(c, "charon", path, DIAG_FAIL, "charon hangs: see charon.log; the agent's "
			 "charon_restarts metric counts restarts", "VICI: %s", strerror(-rc));
	} else {
		/* "uptime": { "running": "...", "since": "Nov 30 08:52:40 2026" } */
		const char *run = vici_get_str(stats, "uptime.running");

		diag_add(c, "charon", "", s.ike < c->n_remotes ? DIAG_WARN : DIAG_PASS,
			 "a remote cluster has no IKE SA: see the connection checks",
			 "%s %s up %s; %u IKE SA(s) established (%s), %u CHILD SA(s) installed, "
			 "%u remote cluster(s)", vici_get_str(ver, "daemon") ? vici_get_str(ver, "daemon") : "charon",
			 vici_get_str(ver, "version") ? vici_get_str(ver, "version") : "?",
			 run ? run : "?", s.ike, s.peers[0] ? s.peers : "none", s.child, c->n_remotes);
	}
	vici_node_free(ver);
	vici_node_free(stats);
	vici_conn_close(vc);
}

/* This cluster's connections: the local gateway's own report, else the broker's copy of
 * the active gateway's. */
static cJSON *connections(struct diag_ctx *c, const char **from)
{
	struct brk_status st;
	cJSON *list = NULL, *conns = NULL;
	const cJSON *gs;

	if (c->agent_fresh && !strcmp(c->role, "gateway")) {
		*from = "this gateway";
		return cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(c->status, "connections"), 1);
	}
	if (!c->broker_ok || brk_list(c->brk, "gatewaystatuses", &list, &st))
		return NULL;
	cJSON_ArrayForEach(gs, cJSON_GetObjectItemCaseSensitive(list, "items"))
		if (!strcmp(json_str(gs, "spec.clusterID", ""), c->cfg.cluster_id) &&
		    !strcmp(json_str(gs, "spec.haStatus", ""), "active")) {
			cJSON_Delete(conns);
			conns = cJSON_Duplicate(json_at(gs, "spec.connections"), 1);
			*from = "the active gateway, through the broker";
		}
	cJSON_Delete(list);
	return conns;
}

void diag_check_connections(struct diag_ctx *c)
{
	const char *from = "";
	cJSON *conns = connections(c, &from);
	const cJSON *x;

	if (!conns) {
		diag_add(c, "connection", "", c->n_remotes ? DIAG_WARN : DIAG_SKIP,
			 "no report from this cluster's active gateway: see the agent checks on it",
			 "no connection status known");
		return;
	}
	for (unsigned i = 0; i < c->n_remotes; i++) {
		const char *id = c->remotes[i].cluster_id, *status = NULL;
		double rtt = 0;

		cJSON_ArrayForEach(x, conns)
			if (!strcmp(json_str(x, "cluster", ""), id)) {
				const cJSON *r = json_at(x, "rtt.avg_ns");

				status = json_str(x, "status", "?");
				rtt = cJSON_IsNumber(r) ? r->valuedouble / 1e6 : 0;
			}
		if (!status)
			diag_add(c, "connection", id, DIAG_FAIL,
				 "the gateway does not connect to this cluster: see its log (endpoint ignored?)",
				 "no connection (reported by %s)", from);
		else if (!strcmp(status, "connected"))
			diag_add(c, "connection", id, DIAG_PASS, NULL, "connected, rtt %.3f ms (reported by %s)",
				 rtt, from);
		else
			diag_add(c, "connection", id, DIAG_FAIL,
				 "see the firewall and MTU checks above, charon.log on the gateway, and run "
				 "subagent verify", "%s (reported by %s)", status, from);
	}
	cJSON_Delete(conns);
}
