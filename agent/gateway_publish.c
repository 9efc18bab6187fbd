/* What the gateway tells others: its Endpoint and GatewayStatus in the broker, and a status
 * file on the node (read by `subagent verify`). */
#include "agent/gateway_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/netlink.h"
#include "common/log.h"
#include "common/util.h"

#define SEC 1000000000ull
#define STATUS_PERIOD (5 * SEC)

/* The first broker URL's host as an IPv4 address (resolving a name if needed). */
static int broker_addr(struct gateway *g, uint32_t *out)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res;
	char host[BRK_URL_MAX + 1];
	unsigned port;

	if (brk_url_parse(g->cfg.broker_urls[0], host, sizeof(host), &port))
		return -EINVAL;
	if (!ip4_parse(host, out))
		return 0;
	if (getaddrinfo(host, NULL, &hints, &res))
		return -EHOSTUNREACH;
	*out = ntohl(((struct sockaddr_in *)res->ai_addr)->sin_addr.s_addr);
	freeaddrinfo(res);
	return 0;
}

static int local_cache_path(struct gateway *g, char *buf, size_t len)
{
	return snprintf(buf, len, "%s/local-endpoint.json", g->o->state_dir) >= (int)len;
}

/* The public address: as the operator set it, else as the broker sees us (the way STUN
 * does it), else as we published it last time, else the private address. */
static void find_public_ip(struct gateway *g)
{
	char path[PATH_MAX], *s;
	cJSON *who = NULL;
	struct brk_status st;

	if (g->o->public_ip) {
		if (ip4_parse(g->o->public_ip, &g->public_ip) == 0)
			return;
		pr_warn("--public-ip %s is not an IPv4 address; ignoring it\n", g->o->public_ip);
	}
	if (brk_whoami(g->brk, &who, &st) == 0) {
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(who, "remoteAddr");

		if (cJSON_IsString(a) && ip4_parse(a->valuestring, &g->public_ip) == 0) {
			pr_info("public address %s (as the broker sees it)\n", a->valuestring);
			cJSON_Delete(who);
			return;
		}
		cJSON_Delete(who);
	} else {
		pr_warn("broker whoami: %s\n", st.message);
	}
	if (!local_cache_path(g, path, sizeof(path)) && (s = util_read_file(path, 65536, NULL))) {
		cJSON *o = cJSON_Parse(s);
		struct sa_endpoint ep;
		char err[128];

		free(s);
		if (o && !endpoint_from_json(o, &ep, err, sizeof(err)) &&
		    !ip4_parse(ep.public_ip, &g->public_ip)) {
			pr_info("public address %s (from the last run; broker unreachable)\n", ep.public_ip);
			cJSON_Delete(o);
			return;
		}
		cJSON_Delete(o);
	}
	g->public_ip = g->private_ip;
	pr_warn("public address unknown; using the private one\n");
}

int gw_local_init(struct gateway *g)
{
	struct sa_endpoint *ep = &g->local;
	uint32_t baddr;
	int rc;

	if (g->o->private_ip) {
		if (ip4_parse(g->o->private_ip, &g->private_ip)) {
			pr_err("--private-ip %s is not an IPv4 address\n", g->o->private_ip);
			return -EINVAL;
		}
	} else {
		rc = broker_addr(g, &baddr);
		if (!rc)
			rc = netlink_source_for(baddr, &g->private_ip);
		if (rc) {
			pr_err("no route towards the broker to pick a private address (%s); "
			       "set --private-ip\n", strerror(-rc));
			return rc;
		}
	}
	/* g->health_ip was found at start (election_setup): the health checker's source must
	 * be inside our subnets so that probes go through the tunnel. */
	if (!g->health_ip)
		pr_warn("no local address inside the cluster CIDRs: health checks are off\n");
	find_public_ip(g);

	memset(ep, 0, sizeof(*ep));
	snprintf(ep->name, sizeof(ep->name), "%s-%s", g->cfg.cluster_id, g->o->node);
	snprintf(ep->cluster_id, sizeof(ep->cluster_id), "%s", g->cfg.cluster_id);
	snprintf(ep->hostname, sizeof(ep->hostname), "%s", g->o->node);
	ip4_format(g->private_ip, ep->private_ip);
	ip4_format(g->public_ip, ep->public_ip);
	if (g->health_ip)
		ip4_format(g->health_ip, ep->health_ip);
	ep->nat_t_port = (uint16_t)(g->cfg.ike.natt_port ? g->cfg.ike.natt_port : 4500);
	snprintf(ep->cable_driver, sizeof(ep->cable_driver), "%s", g->cfg.cable_driver);
	if (g->cfg.n_global_cidrs) {
		for (size_t i = 0; i < g->cfg.n_global_cidrs && ep->n_subnets < EP_MAX_SUBNETS; i++)
			ep->subnets[ep->n_subnets++] = g->cfg.global_cidrs[i];
	} else {
		for (size_t i = 0; i < g->cfg.n_cluster_cidrs && ep->n_subnets < EP_MAX_SUBNETS; i++)
			ep->subnets[ep->n_subnets++] = g->cfg.cluster_cidrs[i];
		for (size_t i = 0; i < g->cfg.n_service_cidrs && ep->n_subnets < EP_MAX_SUBNETS; i++)
			ep->subnets[ep->n_subnets++] = g->cfg.service_cidrs[i];
	}
	return 0;
}

/* The highest epoch any endpoint of our cluster has in the broker (0: none). */
static uint64_t broker_max_epoch(struct gateway *g, cJSON **list_out)
{
	cJSON *list = NULL, *items;
	const cJSON *it;
	uint64_t max = 0;
	struct brk_status st;

	*list_out = NULL;
	if (brk_list(g->brk, "endpoints", &list, &st))
		return 0;
	items = cJSON_GetObjectItemCaseSensitive(list, "items");
	cJSON_ArrayForEach(it, items) {
		struct sa_endpoint ep;
		char err[64];

		if (!endpoint_from_json(it, &ep, err, sizeof(err)) &&
		    !strcmp(ep.cluster_id, g->cfg.cluster_id) && ep.epoch > max)
			max = ep.epoch;
	}
	*list_out = list;
	return max;
}

/* Older endpoints of our cluster (other gateways before a failover) go away, so that no
 * remote cluster can pick them up again. */
static void delete_stale(struct gateway *g, const cJSON *list)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(list, "items")) {
		struct sa_endpoint ep;
		struct brk_status st;
		char err[64];

		if (endpoint_from_json(it, &ep, err, sizeof(err)) ||
		    strcmp(ep.cluster_id, g->cfg.cluster_id) || !strcmp(ep.name, g->local.name) ||
		    ep.epoch >= g->local.epoch)
			continue;
		if (brk_delete(g->brk, "endpoints", ep.name, NULL, &st) == 0)
			pr_info("deleted the stale endpoint %s (epoch %llu)\n", ep.name,
				(unsigned long long)ep.epoch);
	}
}

static void publish_failed(struct gateway *g, uint64_t now, const char *what,
			   const struct brk_status *st)
{
	g->publish_backoff_ns = g->publish_backoff_ns ? g->publish_backoff_ns * 2 : SEC;
	if (g->publish_backoff_ns > 10 * SEC)
		g->publish_backoff_ns = 10 * SEC;
	g->next_publish_ns = now + g->publish_backoff_ns;
	pr_warn("publish endpoint: %s: %s; retrying in %llu s\n", what, st->message,
		(unsigned long long)(g->publish_backoff_ns / SEC));
}

void gw_publish_endpoint(struct gateway *g, uint64_t now)
{
	struct brk_status st;
	cJSON *cur = NULL, *obj, *meta, *list = NULL;
	char path[PATH_MAX], *s;
	int rc;

	if (g->local_published || now < g->next_publish_ns)
		return;
	rc = brk_get(g->brk, "endpoints", g->local.name, &cur, &st);
	if (rc && rc != -ENOENT) {
		publish_failed(g, now, "get", &st);
		return;
	}
	/* The epoch is the election's term; it must be above every epoch our cluster used
	 * before (a restart without failover keeps it: then the highest is our own). */
	{
		uint64_t bmax = broker_max_epoch(g, &list), mine = 0;
		struct sa_endpoint old;
		char err[64];

		if (!rc && !endpoint_from_json(cur, &old, err, sizeof(err)))
			mine = old.epoch;
		if (g->el && bmax >= gw_epoch(g) && mine != bmax) {
			int e;

			pthread_mutex_lock(&g->el_lock);
			e = election_set_min_epoch(g->el, bmax);
			pthread_mutex_unlock(&g->el_lock);
			if (e)
				pr_warn("election: cannot record epoch %llu\n", (unsigned long long)bmax);
		}
		g->local.epoch = g->el ? gw_epoch(g) : (mine ? mine : bmax + 1);
	}
	obj = endpoint_to_json(&g->local);
	if (!obj) {
		cJSON_Delete(cur);
		cJSON_Delete(list);
		return;
	}
	if (!rc) {
		meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
		cJSON_AddStringToObject(meta, "resourceVersion", brk_obj_rv(cur) ? brk_obj_rv(cur) : "0");
		rc = brk_update(g->brk, "endpoints", g->local.name, obj, NULL, &st);
	} else {
		rc = brk_create(g->brk, "endpoints", obj, NULL, &st);
	}
	cJSON_Delete(cur);
	if (rc) {
		cJSON_Delete(obj);
		cJSON_Delete(list);
		publish_failed(g, now, "write", &st);
		return;
	}
	delete_stale(g, list);
	cJSON_Delete(list);
	pr_info("published endpoint %s (public %s, private %s, epoch %llu)\n", g->local.name,
		g->local.public_ip, g->local.private_ip, (unsigned long long)g->local.epoch);
	g->local_published = true;
	g->publish_backoff_ns = 0;
	s = cJSON_Print(obj);
	cJSON_Delete(obj);
	if (s && !local_cache_path(g, path, sizeof(path)) &&
	    util_write_file(path, s, strlen(s), 0600))
		pr_warn("write %s failed\n", path);
	free(s);
}

const char *gw_conn_status(struct gateway *g, struct gw_remote *r, const struct cable_status *cs,
			   struct health_stats *hs)
{
	bool have_hc;

	memset(hs, 0, sizeof(*hs));
	if (!r->connected)
		return "error";
	have_hc = health_get(g->health, r->ep.cluster_id, hs) == 0;
	if (!have_hc)
		return cs->connected ? "connected" : "connecting";
	if (hs->status == HEALTH_ERROR)
		return "error";
	if (hs->status == HEALTH_CONNECTED && cs->connected)
		return "connected";
	return "connecting";
}

cJSON *gw_connections_json(struct gateway *g)
{
	cJSON *arr = cJSON_CreateArray();
	struct cable_status *all = NULL;
	size_t nall = 0;

	if (!g->cable || g->cops->list(g->cable, &all, &nall))
		nall = 0;
	for (unsigned i = 0; arr && i < g->n; i++) {
		struct gw_remote *r = &g->r[i];
		struct cable_status cs = { 0 };
		struct health_stats hs;
		const char *status;

		for (size_t j = 0; j < nall; j++)
			if (!strcmp(all[j].cluster_id, r->ep.cluster_id))
				cs = all[j];
		status = gw_conn_status(g, r, &cs, &hs);
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
		cJSON_AddBoolToObject(c, "encrypted", g->cops->encrypts);
		cJSON_AddNumberToObject(c, "bytes_in", (double)cs.bytes_in);
		cJSON_AddNumberToObject(c, "bytes_out", (double)cs.bytes_out);
		cJSON_AddNumberToObject(c, "packets_in", (double)cs.packets_in);
		cJSON_AddNumberToObject(c, "packets_out", (double)cs.packets_out);
		cJSON_AddNumberToObject(c, "epoch", (double)r->ep.epoch);
	}
	free(all);
	return arr;
}

void gw_publish_status(struct gateway *g, uint64_t now, const cJSON *conns)
{
	struct brk_status st;
	cJSON *obj, *meta, *spec, *cur = NULL;
	char name[2 * EP_NAME_MAX];
	int rc;

	if (now < g->next_status_ns)
		return;
	g->next_status_ns = now + STATUS_PERIOD;
	snprintf(name, sizeof(name), "%s-%s", g->cfg.cluster_id, g->o->node);
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
	cJSON_AddStringToObject(spec, "clusterID", g->cfg.cluster_id);
	cJSON_AddStringToObject(spec, "hostname", g->o->node);
	cJSON_AddStringToObject(spec, "haStatus", g->engine_on ? "active" : "passive");
	cJSON_AddStringToObject(spec, "publicIP", g->local.public_ip);
	cJSON_AddStringToObject(spec, "privateIP", g->local.private_ip);
	cJSON_AddStringToObject(spec, "cableDriver", g->cops->name);
	cJSON_AddNumberToObject(spec, "epoch", (double)g->local.epoch);
	cJSON_AddNumberToObject(spec, "updatedUnix", (double)time(NULL));
	cJSON_AddItemToObject(spec, "connections", cJSON_Duplicate(conns, 1));

	rc = brk_get(g->brk, "gatewaystatuses", name, &cur, &st);
	if (rc == 0) {
		cJSON_AddStringToObject(meta, "resourceVersion", brk_obj_rv(cur) ? brk_obj_rv(cur) : "0");
		rc = brk_update(g->brk, "gatewaystatuses", name, obj, NULL, &st);
	} else if (rc == -ENOENT) {
		rc = brk_create(g->brk, "gatewaystatuses", obj, NULL, &st);
	}
	if (rc)
		pr_debug("publish gateway status: %s\n", st.message);
out:
	cJSON_Delete(cur);
	cJSON_Delete(obj);
}

void gw_write_status_file(struct gateway *g, const cJSON *conns)
{
	cJSON *o = cJSON_CreateObject();
	char path[PATH_MAX], *s;

	if (!o)
		return;
	cJSON_AddStringToObject(o, "cluster", g->cfg.cluster_id);
	cJSON_AddStringToObject(o, "node", g->o->node);
	cJSON_AddStringToObject(o, "role", g->engine_on ? "gateway" :
				g->o->gateway_capable ? "standby" : "node");
	if (g->el) {
		struct election_peer a;
		int have;

		pthread_mutex_lock(&g->el_lock);
		have = election_active_peer(g->el, &a) == 0;
		pthread_mutex_unlock(&g->el_lock);
		if (have)
			cJSON_AddStringToObject(o, "active_gateway", a.node);
		cJSON_AddNumberToObject(o, "epoch", (double)gw_epoch(g));
	}
	cJSON_AddStringToObject(o, "cable_driver", g->cops->name);
	cJSON_AddStringToObject(o, "public_ip", g->local.public_ip);
	cJSON_AddStringToObject(o, "private_ip", g->local.private_ip);
	cJSON_AddStringToObject(o, "health_ip", g->local.health_ip);
	cJSON_AddBoolToObject(o, "endpoint_published", g->local_published);
	cJSON_AddBoolToObject(o, "broker_synced", g->synced_once);
	cJSON_AddNumberToObject(o, "updated_unix", (double)time(NULL));
	cJSON_AddItemToObject(o, "connections", cJSON_Duplicate(conns, 1));
	s = cJSON_Print(o);
	cJSON_Delete(o);
	if (!s)
		return;
	snprintf(path, sizeof(path), "%s/status.json", g->o->state_dir);
	if (util_write_file(path, s, strlen(s), 0644))
		pr_debug("write %s failed\n", path);
	free(s);
}
