/* The gateway engine's loop and its table of remote endpoints. */
#include "agent/gateway_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <ifaddrs.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "agent/mss.h"
#include "agent/netlink.h"
#include "agent/gn_agent.h"
#include "common/log.h"
#include "common/util.h"

#define SEC 1000000000ull
#define CACHE_MAX (4 * 1024 * 1024)

/* ---- events from the informer thread to the loop ---- */

static void push(struct gateway *g, int type, cJSON *obj)
{
	struct gw_event *e = calloc(1, sizeof(*e));
	uint64_t one = 1;

	if (!e) {
		cJSON_Delete(obj);
		return;
	}
	e->type = type;
	e->obj = obj;
	pthread_mutex_lock(&g->qlock);
	if (g->qtail)
		g->qtail->next = e;
	else
		g->qhead = e;
	g->qtail = e;
	pthread_mutex_unlock(&g->qlock);
	if (write(g->evfd, &one, sizeof(one)) < 0)
		pr_debug("eventfd write: %s\n", strerror(errno));
}

static void on_add(cJSON *obj, void *ctx) { push(ctx, GW_EV_ADD, cJSON_Duplicate(obj, 1)); }
static void on_delete(cJSON *obj, void *ctx) { push(ctx, GW_EV_DEL, cJSON_Duplicate(obj, 1)); }
static void on_synced(void *ctx) { push(ctx, GW_EV_SYNC, NULL); }

static void on_cable_event(void *ctx, const char *cluster, bool up)
{
	struct gateway *g = ctx;

	pr_info("tunnel to %s %s\n", cluster, up ? "up" : "down");
	g->next_status_ns = 0;	/* tell the broker soon, not at the next 5 s period */
}

static const struct brk_informer_ops informer_ops = {
	.on_add = on_add, .on_update = on_add, .on_delete = on_delete, .on_synced = on_synced,
};

/* ---- remote endpoints ---- */

static struct gw_remote *find_remote(struct gateway *g, const char *cluster)
{
	for (unsigned i = 0; i < g->n; i++)
		if (!strcmp(g->r[i].ep.cluster_id, cluster))
			return &g->r[i];
	return NULL;
}

void gw_to_cable(const struct sa_endpoint *ep, struct cable_endpoint *out)
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

static void drop_remote(struct gateway *g, struct gw_remote *r, const char *why)
{
	int rc = g->cops->disconnect(g->cable, r->ep.cluster_id);

	if (rc && rc != -ENOENT)
		pr_warn("disconnect %s: %s\n", r->ep.cluster_id, strerror(-rc));
	health_remove(g->health, r->ep.cluster_id);
	pr_info("remote %s (gateway %s) removed: %s\n", r->ep.cluster_id, r->ep.hostname, why);
	*r = g->r[--g->n];
}

static void connect_remote(struct gateway *g, struct gw_remote *r)
{
	char ip[16];
	uint32_t hc;
	int rc;

	/* Gateways behind the same public address (one NAT, one site) use their private
	 * addresses; everyone else goes through the public one. */
	ip4_format(g->public_ip, ip);
	r->use_ip = 0;
	if (!strcmp(r->ep.public_ip, ip))
		(void)!ip4_parse(r->ep.private_ip, &r->use_ip);
	else
		(void)!ip4_parse(r->ep.public_ip, &r->use_ip);
	r->nat = strcmp(r->ep.public_ip, r->ep.private_ip) || g->public_ip != g->private_ip;
	r->since_ns = util_now_ns();
	{
		struct cable_endpoint rem, loc;

		gw_to_cable(&r->ep, &rem);
		gw_to_cable(&g->local, &loc);
		rc = g->cops->connect(g->cable, &rem, r->use_ip, &loc);
	}
	r->connected = rc == 0;
	ip4_format(r->use_ip, ip);
	if (rc)
		pr_err("connect %s (gateway %s at %s): %s\n", r->ep.cluster_id, r->ep.hostname, ip,
		       strerror(-rc));
	else
		pr_info("connecting %s: gateway %s at %s%s, cable %s, epoch %llu\n",
			r->ep.cluster_id, r->ep.hostname, ip, r->nat ? " (NAT)" : "",
			g->cops->name, (unsigned long long)r->ep.epoch);
	if (g->health_ip && r->ep.health_ip[0] && !ip4_parse(r->ep.health_ip, &hc)) {
		rc = health_set_target(g->health, r->ep.cluster_id, g->health_ip, hc);
		if (rc)
			pr_warn("health check of %s: %s\n", r->ep.cluster_id, strerror(-rc));
	}
}

/* A remote Endpoint arrived or changed (from the broker or the cache). Returns 1 when the
 * table changed. */
static int remote_upsert(struct gateway *g, const cJSON *obj)
{
	struct sa_endpoint ep;
	struct gw_remote *r;
	char err[256];

	if (endpoint_from_json(obj, &ep, err, sizeof(err))) {
		const char *name = brk_obj_name(obj);

		pr_warn("ignore endpoint %.64s: %s\n", name ? name : "(no name)", err);
		return 0;
	}
	if (!strcmp(ep.cluster_id, g->cfg.cluster_id)) {
		/* Our own cluster: someone changed or replaced what we published. */
		if (!strcmp(ep.name, g->local.name) && ep.epoch == g->local.epoch &&
		    !endpoint_equal(&ep, &g->local))
			g->local_published = false;
		return 0;
	}
	if (strcmp(ep.cable_driver, g->cops->name)) {
		pr_warn("ignore endpoint %s: cable driver %s, this cluster uses %s\n", ep.name,
			ep.cable_driver, g->cops->name);
		return 0;
	}
	r = find_remote(g, ep.cluster_id);
	if (r) {
		if (!strcmp(r->ep.name, ep.name) && endpoint_equal(&r->ep, &ep))
			return 0;
		if (strcmp(r->ep.name, ep.name) && ep.epoch < r->ep.epoch) {
			pr_info("ignore endpoint %s: epoch %llu is older than %s's %llu\n", ep.name,
				(unsigned long long)ep.epoch, r->ep.name,
				(unsigned long long)r->ep.epoch);
			return 0;
		}
		/* A new gateway of that cluster: connect() replaces the old configuration and
		 * keeps an SA the new gateway has already set up with us (see cable_ipsec). */
		if (strcmp(r->ep.hostname, ep.hostname))
			pr_info("remote %s: gateway %s replaces %s (epoch %llu)\n", ep.cluster_id,
				ep.hostname, r->ep.hostname, (unsigned long long)ep.epoch);
	} else {
		if (g->n == GW_MAX_REMOTES) {
			pr_err("ignore endpoint %s: already %d remote clusters\n", ep.name,
			       GW_MAX_REMOTES);
			return 0;
		}
		r = &g->r[g->n++];
		memset(r, 0, sizeof(*r));
	}
	r->ep = ep;
	connect_remote(g, r);
	return 1;
}

static int remote_delete(struct gateway *g, const cJSON *obj)
{
	const char *name = brk_obj_name(obj);

	if (!name)
		return 0;
	if (!strcmp(name, g->local.name)) {
		pr_warn("our endpoint %s was deleted from the broker; publishing it again\n", name);
		g->local_published = false;
		g->next_publish_ns = 0;
		return 0;
	}
	for (unsigned i = 0; i < g->n; i++) {
		if (!strcmp(g->r[i].ep.name, name)) {
			drop_remote(g, &g->r[i], "endpoint deleted");
			return 1;
		}
	}
	return 0;
}

/* After a (re)list: remotes that came from the disk cache but are gone from the broker. */
static int remote_reconcile(struct gateway *g)
{
	int changed = 0;

	for (unsigned i = 0; i < g->n;) {
		cJSON *o = brk_informer_get(g->inf, g->r[i].ep.name);

		if (o) {
			cJSON_Delete(o);
			i++;
			continue;
		}
		drop_remote(g, &g->r[i], "no longer in the broker");
		changed = 1;
	}
	return changed;
}

static void cache_path(struct gateway *g, char *buf, size_t len)
{
	snprintf(buf, len, "%s/endpoints.json", g->o->state_dir);
}

void gw_save_cache(struct gateway *g)
{
	cJSON *arr = cJSON_CreateArray();
	char path[PATH_MAX], *s;
	int rc;

	if (!arr)
		return;
	for (unsigned i = 0; i < g->n; i++)
		cJSON_AddItemToArray(arr, endpoint_to_json(&g->r[i].ep));
	s = cJSON_Print(arr);
	cJSON_Delete(arr);
	if (!s)
		return;
	cache_path(g, path, sizeof(path));
	rc = util_write_file(path, s, strlen(s), 0600);
	if (rc)
		pr_warn("write %s: %s\n", path, strerror(-rc));
	free(s);
}

static void load_cache(struct gateway *g)
{
	char path[PATH_MAX], *s;
	const cJSON *it;
	cJSON *arr;
	int n = 0;

	cache_path(g, path, sizeof(path));
	s = util_read_file(path, CACHE_MAX, NULL);
	if (!s)
		return;
	arr = cJSON_Parse(s);
	free(s);
	if (!cJSON_IsArray(arr)) {
		pr_warn("ignore %s: not a JSON array\n", path);
		cJSON_Delete(arr);
		return;
	}
	cJSON_ArrayForEach(it, arr)
		n += remote_upsert(g, it);
	cJSON_Delete(arr);
	pr_info("cache: %d remote endpoint(s) from %s\n", n, path);
}

static int drain_events(struct gateway *g)
{
	struct gw_event *e;
	uint64_t cnt;
	int changed = 0;

	if (read(g->evfd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		pr_debug("eventfd read: %s\n", strerror(errno));
	pthread_mutex_lock(&g->qlock);
	e = g->qhead;
	g->qhead = g->qtail = NULL;
	pthread_mutex_unlock(&g->qlock);
	while (e) {
		struct gw_event *next = e->next;

		switch (e->type) {
		case GW_EV_ADD:
			changed |= remote_upsert(g, e->obj);
			break;
		case GW_EV_DEL:
			changed |= remote_delete(g, e->obj);
			break;
		case GW_EV_SYNC:
			if (!g->synced_once)
				pr_info("broker: endpoints in sync\n");
			g->synced_once = true;
			changed |= remote_reconcile(g);
			break;
		}
		cJSON_Delete(e->obj);
		free(e);
		e = next;
	}
	if (changed) {
		gw_save_cache(g);
		g->next_status_ns = 0;
	}
	return changed;
}

/* ---- roles: the engine runs on the active gateway only ---- */

uint64_t gw_epoch(struct gateway *g)
{
	uint64_t e;

	if (!g->el)
		return 0;
	pthread_mutex_lock(&g->el_lock);
	e = election_epoch(g->el);
	pthread_mutex_unlock(&g->el_lock);
	return e;
}

static int add_fd(int ep, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return fd < 0 ? 0 : epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

/* Runs on the election thread, inside election_tick()/election_on_readable(). */
static void on_election_change(void *ctx)
{
	struct gateway *g = ctx;
	uint64_t one = 1;

	if (write(g->el_evfd, &one, sizeof(one)) < 0)
		pr_debug("election eventfd: %s\n", strerror(errno));
}

static void *election_main(void *arg)
{
	struct gateway *g = arg;

	for (;;) {
		struct pollfd p[2] = { { .fd = election_fd(g->el), .events = POLLIN },
				       { .fd = g->el_stopfd[0], .events = POLLIN } };
		uint64_t wait;

		pthread_mutex_lock(&g->el_lock);
		wait = election_tick(g->el, util_now_ns());
		pthread_mutex_unlock(&g->el_lock);
		if (poll(p, 2, (int)(wait / 1000000) + 1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (p[0].revents & POLLIN) {
			pthread_mutex_lock(&g->el_lock);
			election_on_readable(g->el, util_now_ns());
			pthread_mutex_unlock(&g->el_lock);
		}
	}
	return NULL;
}

/* The remote subnets this gateway routes, for the route agents and the return path. */
static unsigned remote_subnets(struct gateway *g, struct cidr4 *out, unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < g->n; i++)
		for (unsigned j = 0; j < g->r[i].ep.n_subnets && n < max; j++)
			out[n++] = g->r[i].ep.subnets[j];
	return n;
}

static int tunnel_mtu(struct gateway *g)
{
	int m = netlink_link_mtu("ipsec0");

	return m > 0 ? m : netlink_link_mtu("sa-vx0");
}

static void base_adv(struct gateway *g, struct election_adv *adv)
{
	memset(adv, 0, sizeof(*adv));
	adv->health_ip = g->health_ip;
	adv->vtep_ip = g->node_ip;
	if (g->ra)
		ra_vtep_mac(g->ra, adv->vtep_mac);
	adv->pod_net = g->pod_cidr.addr;
	adv->pod_prefix = g->pod_cidr.len;
	adv->private_ip = g->private_ip;
}

/* Tells the route agents what the active gateway routes, and sets up the return path. */
static void update_advert(struct gateway *g)
{
	struct election_adv adv;
	struct cidr4 subs[ELECTION_MAX_ROUTES];
	struct election_peer peers[64];
	unsigned n = 0, np;

	base_adv(g, &adv);
	if (g->engine_on) {
		int m = tunnel_mtu(g);

		n = remote_subnets(g, subs, ELECTION_MAX_ROUTES);
		for (unsigned i = 0; i < n; i++) {
			adv.route_net[i] = subs[i].addr;
			adv.route_prefix[i] = subs[i].len;
		}
		adv.n_routes = (uint8_t)n;
		adv.tunnel_mtu = m > 0 ? (uint16_t)m : 0;
	}
	pthread_mutex_lock(&g->el_lock);
	if (g->el)
		election_set_adv(g->el, &adv);
	np = g->el ? election_peers(g->el, peers, 64) : 0;
	pthread_mutex_unlock(&g->el_lock);
	if (g->ra) {
		ra_serve(g->ra, peers, np < 64 ? np : 64, subs, g->engine_on ? n : 0);
	}
}

static const struct brk_informer_ops informer_ops;

static void engine_stop(struct gateway *g)
{
	if (!g->engine_on)
		return;
	brk_informer_stop(g->inf);
	g->inf = NULL;
	gn_agent_stop(g->gn);	/* globalnet (issue 6) */
	g->gn = NULL;
	if (g->cable) {
		if (g->cable_fd >= 0)
			epoll_ctl(g->epfd, EPOLL_CTL_DEL, g->cable_fd, NULL);
		g->cops->fini(g->cable);
		g->cable = NULL;
		g->cable_fd = -1;
	}
	responder_stop(g->responder);
	g->responder = NULL;
	while (g->n)
		drop_remote(g, &g->r[0], "this node is no longer the active gateway");
	pthread_mutex_lock(&g->qlock);
	while (g->qhead) {
		struct gw_event *e = g->qhead;

		g->qhead = e->next;
		cJSON_Delete(e->obj);
		free(e);
	}
	g->qtail = NULL;
	pthread_mutex_unlock(&g->qlock);
	g->engine_on = false;
	g->local_published = false;
	pr_info("gateway engine stopped\n");
}

static int engine_start(struct gateway *g)
{
	const struct gateway_opts *o = g->o;
	struct cable_config cc = {
		.local_cluster_id = g->cfg.cluster_id,
		.psk = g->cfg.psk,
		.ike_proposals = g->cfg.ike.ike_proposals,
		.esp_proposals = g->cfg.ike.esp_proposals,
		.start = CABLE_START_AUTO,
		.on_event = on_cable_event,
		.ctx = g,
	};
	struct cable_endpoint loc;
	int err;

	if (gw_local_init(g))
		return -EINVAL;
	if (g->cfg.n_global_cidrs && gw_globalnet_start(g))	/* globalnet (issue 6) */
		return -EIO;
	cc.underlay_ip = g->private_ip;
	cc.health_ip = g->health_ip;
	if (g->health_ip) {
		g->responder = responder_start(g->health_ip, PROBE_PORT);
		if (!g->responder)
			pr_warn("verify responder on port %d: %s\n", PROBE_PORT, strerror(errno));
	}
	snprintf(g->charon_dir, sizeof(g->charon_dir), "%s/charon", o->state_dir);
	g->charon.dir = g->charon_dir;
	g->charon.datapath = CHARON_DP_AUTO;
	g->charon.natt_port = g->local.nat_t_port;
	cc.charon = &g->charon;
	err = g->cops->init(&cc, &g->cable);
	if (err) {
		pr_err("start cable driver %s: %s\n", g->cops->name, strerror(-err));
		g->cable = NULL;
		return err;
	}
	if (g->cops->describe) {
		gw_to_cable(&g->local, &loc);
		g->cops->describe(g->cable, &loc);
		snprintf(g->local.vtep_mac, sizeof(g->local.vtep_mac), "%s", loc.vtep_mac);
	}
	g->cable_fd = g->cops->fd(g->cable);
	if (add_fd(g->epfd, g->cable_fd))
		pr_err("epoll: %s\n", strerror(errno));
	g->engine_on = true;
	g->local_published = false;
	g->next_publish_ns = 0;
	g->synced_once = false;
	load_cache(g);
	g->inf = brk_informer_start(g->brk, "endpoints", &informer_ops, g);
	if (!g->inf)
		pr_err("watch endpoints: %s (retrying on the next role change)\n", strerror(errno));
	pr_info("gateway engine of cluster %s running on %s (cable %s, epoch %llu)\n",
		g->cfg.cluster_id, o->node, g->cops->name, (unsigned long long)gw_epoch(g));
	return 0;
}

static void roles_update(struct gateway *g)
{
	struct election_peer active;
	bool is_active, have_active;

	pthread_mutex_lock(&g->el_lock);
	is_active = election_is_active(g->el);
	have_active = election_active_peer(g->el, &active) == 0;
	pthread_mutex_unlock(&g->el_lock);
	g->roles_dirty = false;
	if (is_active && !g->engine_on) {
		pr_info("this node is the active gateway (epoch %llu)\n",
			(unsigned long long)gw_epoch(g));
		if (engine_start(g))
			engine_stop(g);
	} else if (!is_active && g->engine_on) {
		pr_info("this node is no longer the active gateway\n");
		engine_stop(g);
	}
	if (g->ra) {
		if (!is_active && have_active)
			ra_follow(g->ra, &active);
		else
			ra_follow(g->ra, NULL);
	}
	update_advert(g);
}

/* The node's address on the cluster network: as given, else the first address that is
 * not loopback, not in the cluster's own subnets and not the underlay towards the broker. */
static int find_node_ip(struct gateway *g)
{
	struct ifaddrs *ifa, *i;
	uint32_t avoid = 0;
	int rc = -ENOENT;

	if (g->o->node_ip)
		return ip4_parse(g->o->node_ip, &g->node_ip) ? -EINVAL : 0;
	if (g->cfg.n_broker_urls) {
		char host[BRK_URL_MAX + 1];
		unsigned port;
		uint32_t b;

		if (!brk_url_parse(g->cfg.broker_urls[0], host, sizeof(host), &port) &&
		    !ip4_parse(host, &b))
			(void)!netlink_source_for(b, &avoid);
	}
	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (int pass = 0; pass < 2 && rc; pass++) {
		for (i = ifa; i; i = i->ifa_next) {
			uint32_t a;
			bool skip = false;

			if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !strcmp(i->ifa_name, "lo"))
				continue;
			a = ntohl(((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr);
			for (size_t k = 0; k < g->cfg.n_cluster_cidrs; k++)
				skip |= cidr4_contains(&g->cfg.cluster_cidrs[k], a);
			for (size_t k = 0; k < g->cfg.n_service_cidrs; k++)
				skip |= cidr4_contains(&g->cfg.service_cidrs[k], a);
			if (skip || (a >> 24) >= 240 || (a >> 16) == 0xa9fe || (pass == 0 && a == avoid))
				continue;
			g->node_ip = a;
			rc = 0;
			break;
		}
	}
	freeifaddrs(ifa);
	return rc;
}

static uint32_t broadcast_of(uint32_t addr)
{
	struct ifaddrs *ifa, *i;
	uint32_t b = 0;

	if (getifaddrs(&ifa) < 0)
		return 0;
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !i->ifa_netmask)
			continue;
		if (ntohl(((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr) != addr)
			continue;
		b = addr | ~ntohl(((struct sockaddr_in *)i->ifa_netmask)->sin_addr.s_addr);
		break;
	}
	freeifaddrs(ifa);
	return b;
}

static int election_setup(struct gateway *g)
{
	struct election_cfg ec = { 0 };
	char ip[16];
	int rc = find_node_ip(g);

	if (rc) {
		pr_err("no address on the node network (set --node-ip): %s\n", strerror(-rc));
		return rc;
	}
	if (g->o->pod_cidr && cidr4_parse(g->o->pod_cidr, &g->pod_cidr)) {
		pr_err("--pod-cidr %s is not a CIDR\n", g->o->pod_cidr);
		return -EINVAL;
	}
	for (size_t i = 0; i < g->cfg.n_cluster_cidrs && !g->health_ip; i++)
		(void)!netlink_local_addr_in(&g->cfg.cluster_cidrs[i], &g->health_ip, NULL);
	g->ra = ra_open(g->node_ip, g->health_ip);
	(void)!mss_clamp_install();
	if (!g->ra)
		pr_warn("route agent: %s; this node will not route to other clusters\n",
			strerror(errno));
	ec.cluster_id = g->cfg.cluster_id;
	ec.node = g->o->node;
	ec.gateway_capable = g->o->gateway_capable;
	ec.node_ip = g->node_ip;
	ec.bcast = broadcast_of(g->node_ip);
	ec.interval_ns = g->o->election_interval_ns;
	ec.dead_ns = g->o->election_dead_ns;
	ec.key = (const uint8_t *)g->cfg.token;
	ec.key_len = strlen(g->cfg.token);
	ec.state_dir = g->o->state_dir;
	ec.on_change = on_election_change;
	ec.ctx = g;
	base_adv(g, &ec.adv);
	g->el = election_open(&ec, util_now_ns());
	if (!g->el) {
		pr_err("election: %s\n", strerror(errno));
		return -errno;
	}
	if (pipe2(g->el_stopfd, O_CLOEXEC) < 0 ||
	    (errno = pthread_create(&g->el_thr, NULL, election_main, g))) {
		pr_err("election thread: %s\n", strerror(errno));
		return -errno;
	}
	g->el_thr_started = true;
	ip4_format(g->node_ip, ip);
	pr_info("node %s (%s) of cluster %s, %s\n", g->o->node, ip, g->cfg.cluster_id,
		g->o->gateway_capable ? "gateway-capable" : "not gateway-capable");
	return 0;
}

/* ---- the loop ---- */

int gateway_run(const struct gateway_opts *o)
{
	struct gateway *g = calloc(1, sizeof(*g));
	sigset_t mask;
	int sigfd = -1, rc = 1, err;
	uint64_t next_sec = 0;

	if (!g)
		return 1;
	g->o = o;
	g->evfd = g->epfd = g->cable_fd = -1;
	g->el_stopfd[0] = g->el_stopfd[1] = -1;
	pthread_mutex_init(&g->qlock, NULL);
	pthread_mutex_init(&g->el_lock, NULL);
	g->el_evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	/* Signals are taken through a signalfd; block them before any thread starts. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	err = util_mkdir_p(o->state_dir, 0700);
	if (err) {
		pr_err("create state dir %s: %s\n", o->state_dir, strerror(-err));
		goto out;
	}
	if (cluster_config_load(o->config_dir, &g->cfg))
		goto out;
	g->brk = brk_client_new(g->cfg.broker_urls, g->cfg.n_broker_urls,
				g->cfg.ca_path, g->cfg.token);
	if (!g->brk) {
		pr_err("broker client: %s\n", strerror(errno));
		goto out;
	}
	brk_client_set_timeouts(g->brk, 2000, 5000);
	g->cops = cable_find(g->cfg.cable_driver);
	if (!g->cops) {
		pr_err("cable driver %s is not available\n", g->cfg.cable_driver);
		goto out;
	}
	g->health = health_new(o->health_interval_ns ? o->health_interval_ns : SEC);
	g->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	g->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!g->health || g->evfd < 0 || sigfd < 0 || g->epfd < 0) {
		pr_err("event loop: %s\n", strerror(errno));
		goto out;
	}
	if (election_setup(g))
		goto out;
	if (add_fd(g->epfd, g->evfd) || add_fd(g->epfd, sigfd) ||
	    add_fd(g->epfd, health_fd(g->health)) || add_fd(g->epfd, g->el_evfd)) {
		pr_err("epoll: %s\n", strerror(errno));
		goto out;
	}

	for (;;) {
		struct epoll_event evs[8];
		uint64_t now = util_now_ns(), wait, ew;
		int n;

		ew = SEC;
		if (g->roles_dirty)
			roles_update(g);
		if (now >= next_sec) {
			next_sec = now + SEC;
			if (g->engine_on)
				gw_publish_endpoint(g, now);
			cJSON *conns = gw_connections_json(g);

			if (g->o->gateway_capable)
				gw_publish_status(g, now, conns);
			gw_write_status_file(g, conns);
			cJSON_Delete(conns);
		}
		wait = g->engine_on ? health_tick(g->health, now) : SEC;
		if (next_sec - now < wait)
			wait = next_sec - now;
		if (ew < wait)
			wait = ew;
		n = epoll_wait(g->epfd, evs, 8, (int)(wait / 1000000) + 1);
		if (n < 0 && errno != EINTR) {
			pr_err("epoll_wait: %s\n", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == sigfd) {
				struct signalfd_siginfo si;

				if (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
					pr_info("signal %u: stopping\n", si.ssi_signo);
					/* SIGTERM is how a restart begins (systemd, kubelet): the others
					 * hold on instead of failing over. kill -9 sends nothing. */
					pthread_mutex_lock(&g->el_lock);
					election_restarting(g->el, util_now_ns());
					pthread_mutex_unlock(&g->el_lock);
					rc = 0;
					goto out;
				}
			} else if (fd == g->evfd) {
				if (drain_events(g))
					update_advert(g);
			} else if (fd == health_fd(g->health)) {
				health_on_readable(g->health, util_now_ns());
			} else if (fd == g->el_evfd) {
				uint64_t cnt;

				if (read(g->el_evfd, &cnt, sizeof(cnt)) > 0)
					g->roles_dirty = true;
			} else if (g->cable && fd == g->cable_fd) {
				(void)g->cops->dispatch(g->cable);
			}
		}
		if (g->roles_dirty)
			roles_update(g);
	}
out:
	/* Heartbeats go on while the engine stops: an agent restarted at once reclaims the
	 * role (its state file is fresh) and no standby takes over meanwhile. */
	engine_stop(g);
	if (g->el_thr_started) {
		(void)!write(g->el_stopfd[1], "x", 1);
		pthread_join(g->el_thr, NULL);
	}
	election_close(g->el);
	if (g->el_stopfd[0] >= 0) {
		close(g->el_stopfd[0]);
		close(g->el_stopfd[1]);
	}
	if (g->el_evfd >= 0)
		close(g->el_evfd);
	if (g->ra)
		mss_clamp_remove();
	ra_close(g->ra);
	health_free(g->health);
	brk_client_free(g->brk);
	cluster_config_free(&g->cfg);
	if (sigfd >= 0)
		close(sigfd);
	if (g->epfd >= 0)
		close(g->epfd);
	if (g->evfd >= 0)
		close(g->evfd);
	pthread_mutex_destroy(&g->qlock);
	free(g);
	return rc;
}
