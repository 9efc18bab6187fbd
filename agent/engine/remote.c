/* The gateway engine's table of remote clusters: one Endpoint per cluster (the highest
 * epoch wins), accepted only when it passes admit.h's checks and the route guard
 * (agent/routing/guard.h), each connected through the cable and probed by the health
 * checker. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/engine/engine_int.h"
#include "agent/engine/health.h"
#include "agent/routing/guard.h"
#include "broker/client/client.h"
#include "broker/creds/cluster_config.h"
#include "common/log.h"
#include "common/util.h"

static struct eng_remote *find_remote(struct engine *e, const char *cluster)
{
	for (unsigned i = 0; i < e->n; i++)
		if (!strcmp(e->r[i].ep.cluster_id, cluster))
			return &e->r[i];
	return NULL;
}

void eng_to_cable(const struct sa_endpoint *ep, struct cable_endpoint *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->cluster_id, sizeof(out->cluster_id), "%s", ep->cluster_id);
	snprintf(out->hostname, sizeof(out->hostname), "%s", ep->hostname);
	(void)!ip4_parse(ep->private_ip, &out->private_ip);
	(void)!ip4_parse(ep->public_ip, &out->public_ip);
	if (ep->health_ip[0])
		(void)!ip4_parse(ep->health_ip, &out->health_check_ip);
	out->natt_port = ep->nat_t_port;
	out->n_subnets = ep->n_subnets < CABLE_MAX_SUBNETS ? ep->n_subnets : CABLE_MAX_SUBNETS;
	memcpy(out->subnets, ep->subnets, sizeof(out->subnets[0]) * out->n_subnets);
	out->epoch = ep->epoch;
	snprintf(out->vtep_mac, sizeof(out->vtep_mac), "%s", ep->vtep_mac);
}

/* The remote gateways' addresses: no route to another cluster may cover them. */
static void guard_update(struct engine *e)
{
	struct guard_addr g[2 * ENGINE_MAX_REMOTES];
	unsigned n = 0;

	for (unsigned i = 0; i < e->n; i++) {
		const struct sa_endpoint *ep = &e->r[i].ep;

		if (!ip4_parse(ep->public_ip, &g[n].addr)) {
			snprintf(g[n].what, sizeof(g[n].what), "gateway %.30s's public address", ep->hostname);
			n++;
		}
		if (!ip4_parse(ep->private_ip, &g[n].addr)) {
			snprintf(g[n].what, sizeof(g[n].what), "gateway %.30s's private address", ep->hostname);
			n++;
		}
	}
	route_guard_set_peers(g, n);
}

/* admit.h's checks against the other accepted remotes (not skip, which ep replaces),
 * then the route guard for each subnet. 0 or -EPERM with why. */
static int admit(struct engine *e, const struct sa_endpoint *ep, const struct eng_remote *skip,
		 char *why, size_t len)
{
	const struct cluster_config *cfg = e->c.cfg;
	struct cidr4 local[3 * CC_MAX_CIDRS];
	const struct sa_endpoint *rem[ENGINE_MAX_REMOTES];
	struct guard_addr extra[2];
	struct admit_view v = {
		.local_id = cfg->cluster_id, .local = local, .globalnet = cfg->globalnet.enabled,
		.clusters = e->clusters, .n_clusters = e->n_clusters, .remotes = rem,
	};
	unsigned nx = 0;
	char g[128], s[CIDR4_STRLEN];
	int rc;

	for (size_t i = 0; i < cfg->n_cluster_cidrs; i++)
		local[v.n_local++] = cfg->cluster_cidrs[i];
	for (size_t i = 0; i < cfg->n_service_cidrs; i++)
		local[v.n_local++] = cfg->service_cidrs[i];
	for (size_t i = 0; i < cfg->n_global_cidrs; i++)
		local[v.n_local++] = cfg->global_cidrs[i];
	for (unsigned i = 0; i < e->n; i++)
		if (&e->r[i] != skip)
			rem[v.n_remotes++] = &e->r[i].ep;
	rc = admit_endpoint(&v, ep, why, len);
	if (rc)
		return rc;
	if (!ip4_parse(ep->public_ip, &extra[nx].addr))
		snprintf(extra[nx++].what, sizeof(extra[0].what), "its own gateway's public address");
	if (!ip4_parse(ep->private_ip, &extra[nx].addr))
		snprintf(extra[nx++].what, sizeof(extra[0].what), "its own gateway's private address");
	for (unsigned i = 0; i < ep->n_subnets; i++) {
		if (route_guard_check(&ep->subnets[i], extra, nx, g, sizeof(g))) {
			cidr4_format(&ep->subnets[i], s);
			snprintf(why, len, "subnet %s: %s", s, g);
			return -EPERM;
		}
	}
	return 0;
}

void eng_remote_drop(struct engine *e, struct eng_remote *r, const char *why)
{
	int rc = e->cable ? e->cops->disconnect(e->cable, r->ep.cluster_id) : 0;

	if (rc && rc != -ENOENT)
		pr_warn("disconnect %s: %s\n", r->ep.cluster_id, strerror(-rc));
	health_remove(e->health, r->ep.cluster_id);
	pr_info("remote %s (gateway %s) removed: %s\n", r->ep.cluster_id, r->ep.hostname, why);
	*r = e->r[--e->n];
	guard_update(e);
}

/* Accepted remotes that no longer pass (a cluster's registration changed, a newer remote's
 * gateway address lies in an older one's subnets). */
static int recheck_existing(struct engine *e)
{
	char why[256], msg[300];
	int changed = 0;

	for (unsigned i = 0; i < e->n;) {
		if (!admit(e, &e->r[i].ep, &e->r[i], why, sizeof(why))) {
			i++;
			continue;
		}
		snprintf(msg, sizeof(msg), "its endpoint %s is no longer accepted: %s", e->r[i].ep.name, why);
		pr_warn("ignore endpoint %s: %s\n", e->r[i].ep.name, why);
		eng_remote_drop(e, &e->r[i], msg);
		changed = 1;
		i = 0;	/* the guard changed: everything again */
	}
	return changed;
}

int eng_remote_recheck(struct engine *e)
{
	int changed = recheck_existing(e);
	cJSON *list = e->inf ? brk_informer_list(e->inf) : NULL;
	const cJSON *it;

	cJSON_ArrayForEach(it, list)
		changed |= eng_remote_upsert(e, it);
	cJSON_Delete(list);
	return changed;
}

static void connect_remote(struct engine *e, struct eng_remote *r)
{
	struct cable_endpoint rem, loc;
	char ip[16];
	uint32_t hc;
	int rc;

	/* Gateways behind the same public address (one NAT, one site) use their private
	 * addresses; everyone else goes through the public one. */
	ip4_format(e->public_ip, ip);
	r->use_ip = 0;
	if (!strcmp(r->ep.public_ip, ip))
		(void)!ip4_parse(r->ep.private_ip, &r->use_ip);
	else
		(void)!ip4_parse(r->ep.public_ip, &r->use_ip);
	r->nat = strcmp(r->ep.public_ip, r->ep.private_ip) || e->public_ip != e->private_ip;
	r->since_ns = util_now_ns();
	eng_to_cable(&r->ep, &rem);
	eng_to_cable(&e->local, &loc);
	rc = e->cops->connect(e->cable, &rem, r->use_ip, &loc);
	r->connected = rc == 0;
	ip4_format(r->use_ip, ip);
	if (rc)
		pr_err("connect %s (gateway %s at %s): %s\n", r->ep.cluster_id, r->ep.hostname, ip,
		       strerror(-rc));
	else
		pr_info("connecting %s: gateway %s at %s%s, cable %s, epoch %llu\n",
			r->ep.cluster_id, r->ep.hostname, ip, r->nat ? " (NAT)" : "",
			e->cops->name, (unsigned long long)r->ep.epoch);
	if (e->c.health_ip && r->ep.health_ip[0] && !ip4_parse(r->ep.health_ip, &hc)) {
		rc = health_set_target(e->health, r->ep.cluster_id, e->c.health_ip, hc);
		if (rc)
			pr_warn("health check of %s: %s\n", r->ep.cluster_id, strerror(-rc));
	}
}

/* A remote Endpoint arrived or changed (from the broker or the cache). */
int eng_remote_upsert(struct engine *e, const cJSON *obj)
{
	struct sa_endpoint ep;
	struct eng_remote *r;
	char err[256];

	if (endpoint_from_json(obj, &ep, err, sizeof(err))) {
		const char *name = brk_obj_name(obj);

		pr_warn("ignore endpoint %.64s: %s\n", name ? name : "(no name)", err);
		return 0;
	}
	if (!strcmp(ep.cluster_id, e->c.cfg->cluster_id)) {
		/* Our own cluster: someone changed or replaced what we published. */
		if (!strcmp(ep.name, e->local.name) && ep.epoch == e->local.epoch &&
		    !endpoint_equal(&ep, &e->local))
			e->local_published = false;
		return 0;
	}
	if (strcmp(ep.cable_driver, e->cops->name)) {
		pr_warn("ignore endpoint %s: cable driver %s, this cluster uses %s\n", ep.name,
			ep.cable_driver, e->cops->name);
		return 0;
	}
	r = find_remote(e, ep.cluster_id);
	if (r) {
		if (!strcmp(r->ep.name, ep.name) && endpoint_equal(&r->ep, &ep))
			return 0;
		if (strcmp(r->ep.name, ep.name) && ep.epoch < r->ep.epoch) {
			pr_info("ignore endpoint %s: epoch %llu is older than %s's %llu\n", ep.name,
				(unsigned long long)ep.epoch, r->ep.name,
				(unsigned long long)r->ep.epoch);
			return 0;
		}
	}
	if (admit(e, &ep, r, err, sizeof(err))) {
		/* before the first list of clusters, every cluster is unknown: not worth a warning */
		if (e->clusters_synced || e->n_clusters)
			pr_warn("ignore endpoint %s: %s\n", ep.name, err);
		else
			pr_info("endpoint %s waits for the list of registered clusters\n", ep.name);
		/* An accepted endpoint of that cluster stays: it passed, and a bad claim
		 * (say, another cluster's CIDR) must not even cost that cluster its tunnel. */
		return 0;
	}
	if (r) {
		/* A new gateway of that cluster: connect() replaces the old configuration and
		 * keeps an SA the new gateway has already set up with us (see cable/ipsec.c). */
		if (strcmp(r->ep.hostname, ep.hostname))
			pr_info("remote %s: gateway %s replaces %s (epoch %llu)\n", ep.cluster_id,
				ep.hostname, r->ep.hostname, (unsigned long long)ep.epoch);
	} else {
		if (e->n == ENGINE_MAX_REMOTES) {
			pr_err("ignore endpoint %s: already %d remote clusters\n", ep.name,
			       ENGINE_MAX_REMOTES);
			return 0;
		}
		r = &e->r[e->n++];
		memset(r, 0, sizeof(*r));
	}
	r->ep = ep;
	guard_update(e);
	connect_remote(e, r);
	/* its gateway's address may lie in a subnet accepted before */
	if (e->n > 1)
		(void)recheck_existing(e);
	return 1;
}

int eng_remote_delete(struct engine *e, const cJSON *obj)
{
	const char *name = brk_obj_name(obj);

	if (!name)
		return 0;
	if (!strcmp(name, e->local.name)) {
		pr_warn("our endpoint %s was deleted from the broker; publishing it again\n", name);
		e->local_published = false;
		e->next_publish_ns = 0;
		return 0;
	}
	for (unsigned i = 0; i < e->n; i++) {
		if (!strcmp(e->r[i].ep.name, name)) {
			eng_remote_drop(e, &e->r[i], "endpoint deleted");
			return 1;
		}
	}
	return 0;
}

int eng_remote_reconcile(struct engine *e)
{
	int changed = 0;

	for (unsigned i = 0; i < e->n;) {
		cJSON *o = brk_informer_get(e->inf, e->r[i].ep.name);

		if (o) {
			cJSON_Delete(o);
			i++;
			continue;
		}
		eng_remote_drop(e, &e->r[i], "no longer in the broker");
		changed = 1;
	}
	return changed;
}
