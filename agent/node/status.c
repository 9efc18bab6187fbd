/* What the node tells others: its GatewayStatus in the broker (gateway-capable nodes), and
 * STATE/status.json on the node (read by `subagent verify` and `subagent show`). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/cable/cable.h"
#include "agent/election/elector.h"
#include "agent/engine/engine.h"
#include "agent/node/node_int.h"
#include "broker/client/client.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/name.h"
#include "common/util.h"

#define NODE_STATUS_PERIOD (5 * NSEC_PER_SEC)

void node_publish_status(struct node *n, uint64_t now, const cJSON *conns,
			 const cJSON *faults)
{
	struct brk_status st;
	cJSON *obj, *meta, *spec, *cur = NULL;
	char name[2 * EP_NAME_MAX];
	int rc;

	if (now < n->next_status_ns)
		return;
	n->next_status_ns = now + NODE_STATUS_PERIOD;
	if (name_owned(name, sizeof(name), n->cfg.cluster_id, n->o->node))
		return;
	obj = cJSON_CreateObject();
	if (!obj)
		return;
	cJSON_AddStringToObject(obj, "apiVersion", "subagent.io/v1");
	cJSON_AddStringToObject(obj, "kind", "GatewayStatus");
	meta = cJSON_AddObjectToObject(obj, "metadata");
	spec = cJSON_AddObjectToObject(obj, "spec");
	if (!meta || !spec)
		goto out;
	cJSON_AddStringToObject(meta, "name", name);
	cJSON_AddStringToObject(spec, "clusterID", n->cfg.cluster_id);
	cJSON_AddStringToObject(spec, "hostname", n->o->node);
	cJSON_AddStringToObject(spec, "haStatus", n->eng ? "active" : "passive");
	cJSON_AddStringToObject(spec, "publicIP", n->local.public_ip);
	cJSON_AddStringToObject(spec, "privateIP", n->local.private_ip);
	cJSON_AddStringToObject(spec, "cableDriver", n->cops->name);
	cJSON_AddNumberToObject(spec, "epoch", (double)n->local.epoch);
	cJSON_AddNumberToObject(spec, "updatedUnix", (double)time(NULL));
	cJSON_AddItemToObject(spec, "connections", cJSON_Duplicate(conns, 1));
	cJSON_AddBoolToObject(spec, "converged", cJSON_GetArraySize(faults) == 0);
	cJSON_AddItemToObject(spec, "notConverged", cJSON_Duplicate(faults, 1));

	rc = brk_get(n->brk, "gatewaystatuses", name, &cur, &st);
	if (rc == 0) {
		cJSON_AddStringToObject(meta, "resourceVersion", brk_obj_rv(cur) ? brk_obj_rv(cur) : "0");
		rc = brk_update(n->brk, "gatewaystatuses", name, obj, NULL, &st);
	} else if (rc == -ENOENT) {
		rc = brk_create(n->brk, "gatewaystatuses", obj, NULL, &st);
	}
	if (rc)
		pr_debug("publish gateway status: %s\n", st.message);
	metrics_inc("subagent_gateway_status_updates_total", rc ? "error" : "ok");
	n->status_failed = rc != 0;
out:
	cJSON_Delete(cur);
	cJSON_Delete(obj);
}

void node_write_status_file(struct node *n, const cJSON *conns, const cJSON *faults)
{
	cJSON *o = cJSON_CreateObject();
	char path[PATH_MAX], *s;
	bool published = false;

	if (!o)
		return;
	if (n->eng)
		engine_local(n->eng, &published);
	cJSON_AddStringToObject(o, "cluster", n->cfg.cluster_id);
	cJSON_AddStringToObject(o, "node", n->o->node);
	cJSON_AddStringToObject(o, "role", n->eng ? "gateway" :
				n->o->gateway_capable ? "standby" : "node");
	{
		struct election_peer a;
		bool have;

		elector_role(n->el, &a, &have);
		if (have)
			cJSON_AddStringToObject(o, "active_gateway", a.node);
		cJSON_AddNumberToObject(o, "epoch", (double)elector_epoch(n->el));
	}
	cJSON_AddStringToObject(o, "cable_driver", n->cops->name);
	cJSON_AddStringToObject(o, "public_ip", n->local.public_ip);
	cJSON_AddStringToObject(o, "private_ip", n->local.private_ip);
	cJSON_AddStringToObject(o, "health_ip", n->local.health_ip);
	if (n->pod_cidr.len) {
		char buf[CIDR4_STRLEN];

		cidr4_format(&n->pod_cidr, buf);
		cJSON_AddStringToObject(o, "pod_cidr", buf);
	}
	cJSON_AddBoolToObject(o, "endpoint_published", published);
	cJSON_AddBoolToObject(o, "broker_synced", n->eng && engine_synced(n->eng));
	cJSON_AddNumberToObject(o, "updated_unix", (double)time(NULL));
	cJSON_AddItemToObject(o, "connections", cJSON_Duplicate(conns, 1));
	cJSON_AddBoolToObject(o, "converged", cJSON_GetArraySize(faults) == 0);
	cJSON_AddItemToObject(o, "not_converged", cJSON_Duplicate(faults, 1));
	s = cJSON_Print(o);
	cJSON_Delete(o);
	if (!s)
		return;
	snprintf(path, sizeof(path), "%s/status.json", n->o->state_dir);
	if (util_write_file(path, s, strlen(s), 0644))
		pr_debug("write %s failed\n", path);
	free(s);
}
