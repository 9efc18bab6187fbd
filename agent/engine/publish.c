/* This cluster's Endpoint: the addresses it is reached at, and publishing it in the broker
 * with the election's epoch (older endpoints of the cluster are deleted). */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/election/elector.h"
#include "agent/engine/engine_int.h"
#include "agent/routing/netlink.h"
#include "broker/client/client.h"
#include "broker/creds/cluster_config.h"
#include "common/log.h"
#include "common/name.h"
#include "common/util.h"

/* The first broker URL's host as an IPv4 address (resolving a name if needed). */
static int broker_addr(struct engine *e, uint32_t *out)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res;
	char host[BRK_URL_MAX + 1];
	unsigned port;

	if (brk_url_parse(e->c.cfg->broker_urls[0], host, sizeof(host), &port))
		return -EINVAL;
	if (!ip4_parse(host, out))
		return 0;
	if (getaddrinfo(host, NULL, &hints, &res))
		return -EHOSTUNREACH;
	*out = ntohl(((struct sockaddr_in *)res->ai_addr)->sin_addr.s_addr);
	freeaddrinfo(res);
	return 0;
}

static int local_cache_path(struct engine *e, char *buf, size_t len)
{
	return snprintf(buf, len, "%s/local-endpoint.json", e->c.state_dir) >= (int)len;
}

/* The public address: as the operator set it, else as the broker sees us (the way STUN
 * does it), else as we published it last time, else the private address. */
static void find_public_ip(struct engine *e)
{
	char path[PATH_MAX];
	cJSON *who = NULL, *doc;
	struct brk_status st;

	if (e->c.public_ip) {
		if (ip4_parse(e->c.public_ip, &e->public_ip) == 0)
			return;
		pr_warn("--public-ip %s is not an IPv4 address; ignoring it\n", e->c.public_ip);
	}
	if (brk_whoami(e->c.brk, &who, &st) == 0) {
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(who, "remoteAddr");

		if (cJSON_IsString(a) && ip4_parse(a->valuestring, &e->public_ip) == 0) {
			pr_info("public address %s (as the broker sees it)\n", a->valuestring);
			cJSON_Delete(who);
			return;
		}
		cJSON_Delete(who);
	} else {
		pr_warn("broker whoami: %s\n", st.message);
	}
	if (!local_cache_path(e, path, sizeof(path)) &&
	    (doc = origin_cache_load(path, &e->origin, 65536, "this gateway's last endpoint"))) {
		struct sa_endpoint ep;
		char err[128];

		if (!endpoint_from_json(cJSON_GetObjectItemCaseSensitive(doc, "endpoint"), &ep, err,
					sizeof(err)) &&
		    !ip4_parse(ep.public_ip, &e->public_ip)) {
			pr_info("public address %s (from the last run; broker unreachable)\n", ep.public_ip);
			cJSON_Delete(doc);
			return;
		}
		cJSON_Delete(doc);
	}
	e->public_ip = e->private_ip;
	pr_warn("public address unknown; using the private one\n");
}

int eng_local_init(struct engine *e)
{
	struct sa_endpoint *ep = &e->local;
	uint32_t baddr;
	int rc;

	if (e->c.private_ip) {
		if (ip4_parse(e->c.private_ip, &e->private_ip)) {
			pr_err("--private-ip %s is not an IPv4 address\n", e->c.private_ip);
			return -EINVAL;
		}
	} else {
		rc = broker_addr(e, &baddr);
		if (!rc)
			rc = netlink_source_for(baddr, &e->private_ip);
		if (rc) {
			pr_err("no route towards the broker to pick a private address (%s); "
			       "set --private-ip\n", strerror(-rc));
			return rc;
		}
	}
	/* The health checker's source must be inside our subnets so that probes go through
	 * the tunnel. */
	if (!e->c.health_ip)
		pr_warn("no local address inside the cluster CIDRs: health checks are off\n");
	find_public_ip(e);

	memset(ep, 0, sizeof(*ep));
	if (name_owned(ep->name, sizeof(ep->name), e->c.cfg->cluster_id, e->c.node)) {
		pr_err("node name %s cannot name an object of cluster %s\n", e->c.node,
		       e->c.cfg->cluster_id);
		return -EINVAL;
	}
	snprintf(ep->cluster_id, sizeof(ep->cluster_id), "%s", e->c.cfg->cluster_id);
	snprintf(ep->hostname, sizeof(ep->hostname), "%s", e->c.node);
	ip4_format(e->private_ip, ep->private_ip);
	ip4_format(e->public_ip, ep->public_ip);
	if (e->c.health_ip)
		ip4_format(e->c.health_ip, ep->health_ip);
	ep->nat_t_port = (uint16_t)(e->c.cfg->ike.natt_port ? e->c.cfg->ike.natt_port : 4500);
	snprintf(ep->cable_driver, sizeof(ep->cable_driver), "%s", e->c.cfg->cable_driver);
	if (e->c.cfg->n_global_cidrs) {
		for (size_t i = 0; i < e->c.cfg->n_global_cidrs && ep->n_subnets < EP_MAX_SUBNETS; i++)
			ep->subnets[ep->n_subnets++] = e->c.cfg->global_cidrs[i];
	} else {
		for (size_t i = 0; i < e->c.cfg->n_cluster_cidrs && ep->n_subnets < EP_MAX_SUBNETS; i++)
			ep->subnets[ep->n_subnets++] = e->c.cfg->cluster_cidrs[i];
		for (size_t i = 0; i < e->c.cfg->n_service_cidrs && ep->n_subnets < EP_MAX_SUBNETS; i++)
			ep->subnets[ep->n_subnets++] = e->c.cfg->service_cidrs[i];
	}
	return 0;
}

/* The highest epoch any endpoint of our cluster has in the broker (0: none). */
static uint64_t broker_max_epoch(struct engine *e, cJSON **list_out)
{
	cJSON *list = NULL, *items;
	const cJSON *it;
	uint64_t max = 0;
	struct brk_status st;

	*list_out = NULL;
	if (brk_list(e->c.brk, "endpoints", &list, &st))
		return 0;
	items = cJSON_GetObjectItemCaseSensitive(list, "items");
	cJSON_ArrayForEach(it, items) {
		struct sa_endpoint ep;
		char err[64];

		if (!endpoint_from_json(it, &ep, err, sizeof(err)) &&
		    !strcmp(ep.cluster_id, e->c.cfg->cluster_id) && ep.epoch > max)
			max = ep.epoch;
	}
	*list_out = list;
	return max;
}

/* Older endpoints of our cluster (other gateways before a failover) go away, so that no
 * remote cluster can pick them up again. */
static void delete_stale(struct engine *e, const cJSON *list)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(list, "items")) {
		struct sa_endpoint ep;
		struct brk_status st;
		char err[64];

		if (endpoint_from_json(it, &ep, err, sizeof(err)) ||
		    strcmp(ep.cluster_id, e->c.cfg->cluster_id) || !strcmp(ep.name, e->local.name) ||
		    ep.epoch >= e->local.epoch)
			continue;
		if (brk_delete(e->c.brk, "endpoints", ep.name, NULL, &st) == 0)
			pr_info("deleted the stale endpoint %s (epoch %llu)\n", ep.name,
				(unsigned long long)ep.epoch);
	}
}

static void publish_failed(struct engine *e, uint64_t now, const char *what,
			   const struct brk_status *st)
{
	e->publish_backoff_ns = util_backoff(e->publish_backoff_ns, NSEC_PER_SEC, 10 * NSEC_PER_SEC);
	e->next_publish_ns = now + e->publish_backoff_ns;
	pr_warn("publish endpoint: %s: %s; retrying in %llu s\n", what, st->message,
		(unsigned long long)(e->publish_backoff_ns / NSEC_PER_SEC));
}

void eng_publish_endpoint(struct engine *e, uint64_t now)
{
	struct brk_status st;
	cJSON *cur = NULL, *obj, *meta, *list = NULL, *doc;
	char path[PATH_MAX];
	int rc;

	if (e->local_published || now < e->next_publish_ns)
		return;
	rc = brk_get(e->c.brk, "endpoints", e->local.name, &cur, &st);
	if (rc && rc != -ENOENT) {
		publish_failed(e, now, "get", &st);
		return;
	}
	/* The epoch is the election's term; it must be above every epoch our cluster used
	 * before (a restart without failover keeps it: then the highest is our own). */
	{
		uint64_t bmax = broker_max_epoch(e, &list), mine = 0;
		struct sa_endpoint old;
		char err[64];

		if (!rc && !endpoint_from_json(cur, &old, err, sizeof(err)))
			mine = old.epoch;
		if (bmax >= elector_epoch(e->c.el) && mine != bmax &&
		    elector_set_min_epoch(e->c.el, bmax))
			pr_warn("election: cannot record epoch %llu\n", (unsigned long long)bmax);
		e->local.epoch = elector_epoch(e->c.el);
	}
	obj = endpoint_to_json(&e->local);
	if (!obj) {
		cJSON_Delete(cur);
		cJSON_Delete(list);
		return;
	}
	if (!rc) {
		meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
		cJSON_AddStringToObject(meta, "resourceVersion", brk_obj_rv(cur) ? brk_obj_rv(cur) : "0");
		rc = brk_update(e->c.brk, "endpoints", e->local.name, obj, NULL, &st);
	} else {
		rc = brk_create(e->c.brk, "endpoints", obj, NULL, &st);
	}
	cJSON_Delete(cur);
	if (rc) {
		cJSON_Delete(obj);
		cJSON_Delete(list);
		publish_failed(e, now, "write", &st);
		return;
	}
	delete_stale(e, list);
	cJSON_Delete(list);
	pr_info("published endpoint %s (public %s, private %s, epoch %llu)\n", e->local.name,
		e->local.public_ip, e->local.private_ip, (unsigned long long)e->local.epoch);
	e->local_published = true;
	e->publish_backoff_ns = 0;
	doc = cJSON_CreateObject();
	if (doc && cJSON_AddItemToObject(doc, "endpoint", obj)) {
		obj = NULL;
		if (!local_cache_path(e, path, sizeof(path)) && origin_cache_save(path, &e->origin, doc))
			pr_warn("write %s failed\n", path);
	}
	cJSON_Delete(obj);
	cJSON_Delete(doc);
}

