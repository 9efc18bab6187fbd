/* `subagent diagnose`: the node's facts, then every check in turn (see diag.h). */
#include "agent/diag/diag_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/client/client.h"
#include "common/json.h"
#include "common/util.h"

/* status.json is rewritten every second by a running agent. */
#define AGENT_FRESH_S 10

void diag_add(struct diag_ctx *c, const char *check, const char *target, enum diag_res r,
	      const char *hint, const char *fmt, ...)
{
	static const char *const names[] = { "pass", "warn", "FAIL", "skip" };
	cJSON *row = cJSON_CreateObject();
	char detail[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (r == DIAG_FAIL)
		c->failed++;
	if (!row)
		return;
	cJSON_AddStringToObject(row, "check", check);
	cJSON_AddStringToObject(row, "target", target ? target : "");
	cJSON_AddStringToObject(row, "result", names[r]);
	cJSON_AddStringToObject(row, "detail", detail);
	cJSON_AddStringToObject(row, "hint", r == DIAG_FAIL || r == DIAG_WARN ? (hint ? hint : "") : "");
	cJSON_AddItemToArray(c->rows, row);
}

static void check_agent(struct diag_ctx *c)
{
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(c->status, "updated_unix");
	long age = cJSON_IsNumber(u) ? (long)(time(NULL) - (time_t)u->valuedouble) : -1;

	c->role = json_str(c->status, "role", "");
	c->agent_fresh = age >= 0 && age <= AGENT_FRESH_S;
	if (!c->status)
		diag_add(c, "agent", c->state_dir, DIAG_FAIL,
			 "start the agent (systemd: systemctl status subagent-agent; Kubernetes: the "
			 "agent DaemonSet's pod on this node), or point --state-dir at its state directory",
			 "no status.json: no agent runs with this state directory");
	else if (!c->agent_fresh)
		diag_add(c, "agent", c->state_dir, DIAG_FAIL,
			 "the agent stopped or hangs: look at its log; it rewrites status.json every second",
			 "status.json is %ld s old", age);
	else
		diag_add(c, "agent", c->state_dir, DIAG_PASS, NULL, "running: %s of cluster %s%s%s",
			 c->role, c->cfg.cluster_id,
			 strcmp(c->role, "gateway") ? ", active gateway " : "",
			 strcmp(c->role, "gateway") ? json_str(c->status, "active_gateway", "(none)") : "");
}

/* The newest endpoint (highest epoch) of every other cluster, from list items. */
static void take_remotes(struct diag_ctx *c, const cJSON *items)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, items) {
		struct sa_endpoint ep;
		char err[256];
		unsigned i;

		if (endpoint_from_json(it, &ep, err, sizeof(err)) ||
		    !strcmp(ep.cluster_id, c->cfg.cluster_id))
			continue;
		for (i = 0; i < c->n_remotes && strcmp(c->remotes[i].cluster_id, ep.cluster_id); i++)
			;
		if (i == c->n_remotes && i < DIAG_MAX_REMOTES)
			c->remotes[c->n_remotes++] = ep;
		else if (i < c->n_remotes && ep.epoch > c->remotes[i].epoch)
			c->remotes[i] = ep;
	}
}

/* The remote clusters' endpoints: from the broker, else from the gateway's cache. */
static void load_remotes(struct diag_ctx *c)
{
	struct brk_status st;
	cJSON *list = NULL, *cache;
	char path[PATH_MAX], *txt;

	if (c->broker_ok && !brk_list(c->brk, "endpoints", &list, &st)) {
		take_remotes(c, cJSON_GetObjectItemCaseSensitive(list, "items"));
		c->remotes_from = "broker";
		cJSON_Delete(list);
		return;
	}
	snprintf(path, sizeof(path), "%s/endpoints.json", c->state_dir);
	txt = util_read_file(path, 4 << 20, NULL);
	cache = txt ? cJSON_Parse(txt) : NULL;
	free(txt);
	if (cache) {
		/* a list of Endpoints, or an object holding one */
		const cJSON *items = cJSON_IsArray(cache) ? cache :
			cJSON_GetObjectItemCaseSensitive(cache, "endpoints");

		take_remotes(c, items ? items : cJSON_GetObjectItemCaseSensitive(cache, "items"));
		c->remotes_from = "cache";
	}
	cJSON_Delete(cache);
}

int diag_run(const struct diag_opts *o, cJSON **rows, char *err, size_t errlen)
{
	struct diag_ctx *c = calloc(1, sizeof(*c));
	char host[256], path[PATH_MAX], *txt, cerr[BRK_ERR_MAX];
	int rc;

	*rows = NULL;
	if (!c)
		return -ENOMEM;
	c->o = o;
	c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 1000;
	if (o->state_dir) {
		snprintf(c->state_dir, sizeof(c->state_dir), "%s", o->state_dir);
	} else {
		if (gethostname(host, sizeof(host)))
			snprintf(host, sizeof(host), "node");
		host[sizeof(host) - 1] = '\0';
		snprintf(c->state_dir, sizeof(c->state_dir), "/var/lib/subagent/%s", host);
	}
	rc = cluster_config_load_err(o->config_dir, &c->cfg, cerr);
	if (rc) {
		snprintf(err, errlen, "%s", cerr);
		free(c);
		return rc;
	}
	c->brk = brk_client_new(c->cfg.broker_urls, c->cfg.n_broker_urls, c->cfg.ca_path,
				c->cfg.token);
	c->rows = cJSON_CreateArray();
	if (!c->brk || !c->rows) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	brk_client_set_timeouts(c->brk, (unsigned)c->timeout_ms * 2, (unsigned)c->timeout_ms * 5);
	snprintf(path, sizeof(path), "%s/status.json", c->state_dir);
	txt = util_read_file(path, 4 << 20, NULL);
	c->status = txt ? cJSON_Parse(txt) : NULL;
	free(txt);

	check_agent(c);
	diag_check_broker(c);
	load_remotes(c);
	diag_check_datapath(c);
	diag_check_bpf(c);
	diag_check_firewall(c);
	diag_check_routes(c);
	if (!o->no_mtu)
		diag_check_mtu(c);
	diag_check_charon(c);
	diag_check_connections(c);
	*rows = c->rows;
	c->rows = NULL;
	rc = c->failed;
out:
	cJSON_Delete(c->rows);
	cJSON_Delete(c->status);
	brk_client_free(c->brk);
	cluster_config_free(&c->cfg);
	free(c);
	return rc;
}
