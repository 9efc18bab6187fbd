/* The gateway engine: start and stop, the events it handles, what it tells the node. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "agent/election/elector.h"
#include "agent/engine/engine_int.h"
#include "agent/engine/health.h"
#include "agent/engine/probe.h"
#include "agent/routing/guard.h"
#include "agent/routing/netlink.h"
#include "broker/client/queue.h"
#include "broker/creds/cluster_config.h"
#include "common/log.h"
#include "common/util.h"
#include "globalnet/gn_agent.h"

static void on_cable_event(void *ctx, const char *cluster, bool up)
{
	struct engine *e = ctx;

	pr_info("tunnel to %s %s\n", cluster, up ? "up" : "down");
	e->flags |= ENGINE_F_STATUS;	/* tell the broker soon, not at the next period */
	if (up)		/* "connected" as soon as the first probe comes back */
		health_kick(e->health, cluster);
}

static int watch_fd(struct engine *e, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return fd < 0 ? 0 : epoll_ctl(e->c.epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void unwatch_fd(struct engine *e, int fd)
{
	if (fd >= 0)
		epoll_ctl(e->c.epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* Globalnet on the gateway: the published health IP becomes the global one. */
static int globalnet_start(struct engine *e)
{
	struct gn_agent_opts go = {
		.cfg = e->c.cfg, .brk = e->c.brk, .node = e->c.node, .bpf_dir = e->c.bpf_dir,
		.health_ip = e->c.health_ip, .state_dir = e->c.state_dir,
		.no_attach = e->c.globalnet_no_attach,
	};
	uint32_t hg;
	char local[16];

	e->gn = gn_agent_start(&go, &hg);
	if (!e->gn)
		return -errno;
	if (go.no_attach)
		pr_warn("globalnet: --globalnet-datapath none: nothing translates on this gateway\n");
	if (hg) {
		/* remote health checkers and `verify` reach our health IP through its global IP */
		ip4_format(e->c.health_ip, local);
		ip4_format(hg, e->local.health_ip);
		pr_info("globalnet: health-check IP %s published as %s\n", local,
			e->local.health_ip);
	}
	return 0;
}

static int cable_start(struct engine *e)
{
	struct cable_creds creds;
	struct cable_config cc = {
		.local_cluster_id = e->c.cfg->cluster_id,
		.creds = &creds,
		.ike_proposals = e->c.cfg->ike.ike_proposals,
		.esp_proposals = e->c.cfg->ike.esp_proposals,
		.start = CABLE_START_AUTO,
		.on_event = on_cable_event,
		.ctx = e,
		.underlay_ip = e->private_ip,
		.health_ip = e->c.health_ip,
		.charon = &e->charon,
	};
	struct cable_endpoint loc;
	int err;

	eng_certs_creds(e, &creds);
	snprintf(e->charon_dir, sizeof(e->charon_dir), "%s/charon", e->c.state_dir);
	e->charon.dir = e->charon_dir;
	e->charon.datapath = CHARON_DP_AUTO;
	e->charon.natt_port = e->local.nat_t_port;
	err = e->cops->init(&cc, &e->cable);
	if (err) {
		pr_err("start cable driver %s: %s\n", e->cops->name, strerror(-err));
		e->cable = NULL;
		return err;
	}
	if (e->cops->describe) {
		eng_to_cable(&e->local, &loc);
		e->cops->describe(e->cable, &loc);
		snprintf(e->local.vtep_mac, sizeof(e->local.vtep_mac), "%s", loc.vtep_mac);
	}
	e->cable_fd = e->cops->fd(e->cable);
	if (watch_fd(e, e->cable_fd))
		pr_err("epoll: %s\n", strerror(errno));
	return 0;
}

struct engine *engine_start(const struct engine_cfg *c)
{
	struct engine *e = calloc(1, sizeof(*e));
	int err = -ENOMEM;

	if (!e)
		return NULL;
	e->c = *c;
	e->cable_fd = -1;
	e->cops = cable_find(c->cfg->cable_driver);
	e->health = health_new(c->health_interval_ns ? c->health_interval_ns : NSEC_PER_SEC);
	e->q = brk_queue_new();
	if (!e->cops || !e->health || !e->q)
		goto err;
	if (watch_fd(e, health_fd(e->health)) || watch_fd(e, brk_queue_fd(e->q))) {
		err = -errno;
		pr_err("epoll: %s\n", strerror(-err));
		goto err;
	}
	if (origin_of(c->cfg, &e->origin)) {
		err = -EINVAL;
		pr_err("the broker CA of cluster %s does not parse\n", c->cfg->cluster_id);
		goto err;
	}
	err = eng_local_init(e);
	if (err)
		goto err;
	if (c->cfg->n_global_cidrs && (err = globalnet_start(e)))
		goto err;
	if (c->health_ip) {
		e->responder = responder_start(c->health_ip, PROBE_PORT);
		if (!e->responder)
			pr_warn("verify responder on port %d: %s\n", PROBE_PORT, strerror(errno));
	}
	eng_certs_init(e);
	err = cable_start(e);
	if (err)
		goto err;
	eng_cache_load(e);
	e->inf_clusters = brk_queue_watch(e->q, c->brk, "clusters", ENG_SRC_CLUSTERS);
	e->inf = brk_queue_watch(e->q, c->brk, "endpoints", ENG_SRC_ENDPOINTS);
	if (!e->inf || !e->inf_clusters)
		pr_err("watch endpoints and clusters: %s (retrying on the next role change)\n",
		       strerror(errno));
	pr_info("gateway engine of cluster %s running on %s (cable %s, epoch %llu)\n",
		c->cfg->cluster_id, c->node, e->cops->name,
		(unsigned long long)elector_epoch(c->el));
	return e;
err:
	engine_stop(e, false);
	errno = -err;
	return NULL;
}

void engine_stop(struct engine *e, bool restarting)
{
	if (!e)
		return;
	brk_informer_stop(e->inf);
	brk_informer_stop(e->inf_clusters);
	gn_agent_stop(e->gn);
	/* A node that loses the role takes its tunnels down while the cable still exists, so
	 * that remote clusters move to the new gateway at once. A restart (SIGTERM) leaves
	 * them: the peers keep their SAs until the restarted agent's charon initiates again
	 * (its INITIAL_CONTACT replaces them), and established connections carry on. */
	while (!restarting && e->n)
		eng_remote_drop(e, &e->r[0], "this node is no longer the active gateway");
	if (e->cable) {
		unwatch_fd(e, e->cable_fd);
		e->cops->fini(e->cable);
	}
	responder_stop(e->responder);
	eng_certs_free(e);
	eng_clusters_free(e);
	route_guard_set_peers(NULL, 0);
	if (e->health) {
		unwatch_fd(e, health_fd(e->health));
		health_free(e->health);
	}
	if (e->q) {
		unwatch_fd(e, brk_queue_fd(e->q));
		brk_queue_free(e->q);
	}
	free(e);
	pr_info("gateway engine stopped\n");
}

/* The informer's events: remote endpoints added, changed, deleted, (re)listed. */
static void drain_events(struct engine *e)
{
	int changed = 0;

	int clusters = 0;

	for (struct brk_qev *ev = brk_queue_take(e->q); ev; ev = brk_qev_free(ev)) {
		if (ev->source == ENG_SRC_CLUSTERS) {
			switch (ev->type) {
			case BRK_QEV_UPSERT:
				clusters |= eng_cluster_upsert(e, ev->obj);
				break;
			case BRK_QEV_DELETE:
				clusters |= eng_cluster_delete(e, ev->obj);
				break;
			case BRK_QEV_SYNCED:
				e->clusters_synced = true;
				clusters |= eng_cluster_reconcile(e);
				break;
			}
			continue;
		}
		switch (ev->type) {
		case BRK_QEV_UPSERT:
			changed |= eng_remote_upsert(e, ev->obj);
			break;
		case BRK_QEV_DELETE:
			changed |= eng_remote_delete(e, ev->obj);
			break;
		case BRK_QEV_SYNCED:
			if (!e->synced_once)
				pr_info("broker: endpoints in sync\n");
			e->synced_once = true;
			changed |= eng_remote_reconcile(e);
			break;
		}
	}
	/* what a remote may claim changed: every remote is checked again */
	if (clusters)
		changed |= 1 | eng_remote_recheck(e);
	if (changed) {
		eng_cache_save(e);
		e->flags |= ENGINE_F_REMOTES | ENGINE_F_STATUS;
	}
}

unsigned engine_on_fd(struct engine *e, int fd)
{
	if (fd == brk_queue_fd(e->q))
		drain_events(e);
	else if (fd == health_fd(e->health))
		health_on_readable(e->health, util_now_ns());
	else if (e->cable && fd == e->cable_fd)
		(void)e->cops->dispatch(e->cable);
	return engine_take_flags(e);
}

uint64_t engine_tick(struct engine *e, uint64_t now)
{
	uint64_t next;

	eng_publish_endpoint(e, now);
	eng_certs_tick(e, now);
	next = health_tick(e->health, now);
	if (e->certs.wanted && e->certs.next_ns > now && e->certs.next_ns - now < next)
		next = e->certs.next_ns - now;
	return next;
}

unsigned engine_take_flags(struct engine *e)
{
	unsigned flags = e->flags;

	if (health_take_changed(e->health))
		flags |= ENGINE_F_STATUS;
	e->flags = 0;
	return flags;
}

unsigned engine_remote_subnets(const struct engine *e, struct cidr4 *out, unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < e->n; i++)
		for (unsigned j = 0; j < e->r[i].ep.n_subnets && n < max; j++)
			out[n++] = e->r[i].ep.subnets[j];
	return n;
}

int engine_tunnel_mtu(const struct engine *e)
{
	int m = netlink_link_mtu("ipsec0");

	return m > 0 ? m : netlink_link_mtu("sa-vx0");
}

const struct sa_endpoint *engine_local(const struct engine *e, bool *published)
{
	*published = e->local_published;
	return &e->local;
}

bool engine_synced(const struct engine *e)
{
	return e->synced_once;
}
