/* The state of every connection: addresses, subnets, status (from the cable and the health
 * checker), RTT and counters, for the status file, the broker and `subagent show`. */
#include <stdlib.h>
#include <string.h>

#include "agent/engine/engine_int.h"
#include "agent/engine/health.h"

static const char *conn_status(struct engine *e, struct eng_remote *r, const struct cable_status *cs,
			       struct health_stats *hs)
{
	bool have_hc;

	memset(hs, 0, sizeof(*hs));
	if (!r->connected)
		return "error";
	have_hc = health_get(e->health, r->ep.cluster_id, hs) == 0;
	if (!have_hc)
		return cs->connected ? "connected" : "connecting";
	if (hs->status == HEALTH_ERROR)
		return "error";
	if (hs->status == HEALTH_CONNECTED && cs->connected)
		return "connected";
	return "connecting";
}

cJSON *engine_connections_json(struct engine *e)
{
	cJSON *arr = cJSON_CreateArray();
	struct cable_status *all = NULL;
	size_t nall = 0;

	if (!e->cable || e->cops->list(e->cable, &all, &nall))
		nall = 0;
	for (unsigned i = 0; arr && i < e->n; i++) {
		struct eng_remote *r = &e->r[i];
		struct cable_status cs = { 0 };
		struct health_stats hs;
		const char *status;

		for (size_t j = 0; j < nall; j++)
			if (!strcmp(all[j].cluster_id, r->ep.cluster_id))
				cs = all[j];
		status = conn_status(e, r, &cs, &hs);
		cJSON *c = cJSON_CreateObject(), *subs, *rtt;
		char ip[16];

		if (!c)
			break;
		cJSON_AddItemToArray(arr, c);
		cJSON_AddStringToObject(c, "cluster", r->ep.cluster_id);
		cJSON_AddStringToObject(c, "gateway", r->ep.hostname);
		ip4_format(r->use_ip, ip);
		cJSON_AddStringToObject(c, "remote_ip", ip);
		cJSON_AddStringToObject(c, "public_ip", r->ep.public_ip);
		cJSON_AddStringToObject(c, "private_ip", r->ep.private_ip);
		cJSON_AddBoolToObject(c, "nat", r->nat);
		cJSON_AddStringToObject(c, "cable_driver", r->ep.cable_driver);
		subs = cJSON_AddArrayToObject(c, "subnets");
		for (unsigned j = 0; subs && j < r->ep.n_subnets; j++) {
			char b[CIDR4_STRLEN];

			cidr4_format(&r->ep.subnets[j], b);
			cJSON_AddItemToArray(subs, cJSON_CreateString(b));
		}
		cJSON_AddStringToObject(c, "status", status);
		rtt = cJSON_AddObjectToObject(c, "rtt");
		if (rtt) {
			cJSON_AddNumberToObject(rtt, "last_ns", (double)hs.last_ns);
			cJSON_AddNumberToObject(rtt, "min_ns", (double)hs.min_ns);
			cJSON_AddNumberToObject(rtt, "avg_ns", (double)hs.avg_ns);
			cJSON_AddNumberToObject(rtt, "max_ns", (double)hs.max_ns);
			cJSON_AddNumberToObject(rtt, "stddev_ns", (double)hs.stddev_ns);
		}
		cJSON_AddBoolToObject(c, "encrypted", e->cops->encrypts);
		cJSON_AddNumberToObject(c, "bytes_in", (double)cs.bytes_in);
		cJSON_AddNumberToObject(c, "bytes_out", (double)cs.bytes_out);
		cJSON_AddNumberToObject(c, "packets_in", (double)cs.packets_in);
		cJSON_AddNumberToObject(c, "packets_out", (double)cs.packets_out);
		cJSON_AddNumberToObject(c, "epoch", (double)r->ep.epoch);
		cJSON_AddNumberToObject(c, "established_s", (double)cs.established_s);
	}
	free(all);
	return arr;
}

