/* The gateway engine's loop and its table of remote endpoints. */
#include "agent/gateway_int.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

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
	pr_info("tunnel to %s %s\n", cluster, up ? "up" : "down");
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
		if (strcmp(r->ep.hostname, ep.hostname)) {
			pr_info("remote %s: gateway %s replaces %s (epoch %llu)\n", ep.cluster_id,
				ep.hostname, r->ep.hostname, (unsigned long long)ep.epoch);
			(void)g->cops->disconnect(g->cable, r->ep.cluster_id);
		}
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

static void drain_events(struct gateway *g)
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
	if (changed)
		gw_save_cache(g);
}

/* ---- the loop ---- */

static int add_fd(int ep, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return fd < 0 ? 0 : epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

int gateway_run(const struct gateway_opts *o)
{
	struct gateway *g = calloc(1, sizeof(*g));
	sigset_t mask;
	int sigfd = -1, epfd = -1, cable_fd, rc = 1, err;
	uint64_t next_sec = 0;

	if (!g)
		return 1;
	g->o = o;
	g->evfd = -1;
	pthread_mutex_init(&g->qlock, NULL);
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
	if (!g->health) {
		pr_err("health checker: %s\n", strerror(errno));
		goto out;
	}
	if (gw_local_init(g))
		goto out;
	if (g->cfg.n_global_cidrs && gw_globalnet_start(g))	/* globalnet (issue 6) */
		goto out;
	if (g->health_ip) {
		g->responder = responder_start(g->health_ip, PROBE_PORT);
		if (!g->responder)
			pr_warn("verify responder on port %d: %s\n", PROBE_PORT, strerror(errno));
	}

	{
		struct cable_config cc = {
			.local_cluster_id = g->cfg.cluster_id,
			.psk = g->cfg.psk,
			.ike_proposals = g->cfg.ike.ike_proposals,
			.esp_proposals = g->cfg.ike.esp_proposals,
			.start = CABLE_START_AUTO,
			.on_event = on_cable_event,
			.ctx = g,
			.underlay_ip = g->private_ip,
			.health_ip = g->health_ip,
		};
		struct cable_endpoint loc;

		snprintf(g->charon_dir, sizeof(g->charon_dir), "%s/charon", o->state_dir);
		g->charon.dir = g->charon_dir;
		g->charon.datapath = CHARON_DP_AUTO;
		g->charon.natt_port = g->local.nat_t_port;
		cc.charon = &g->charon;
		err = g->cops->init(&cc, &g->cable);
		if (err) {
			pr_err("start cable driver %s: %s\n", g->cops->name, strerror(-err));
			goto out;
		}
		if (g->cops->describe) {
			gw_to_cable(&g->local, &loc);
			g->cops->describe(g->cable, &loc);
			snprintf(g->local.vtep_mac, sizeof(g->local.vtep_mac), "%s", loc.vtep_mac);
		}
	}

	g->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (g->evfd < 0 || sigfd < 0 || epfd < 0) {
		pr_err("event loop: %s\n", strerror(errno));
		goto out;
	}
	cable_fd = g->cops->fd(g->cable);
	if (add_fd(epfd, g->evfd) || add_fd(epfd, sigfd) || add_fd(epfd, health_fd(g->health)) ||
	    add_fd(epfd, cable_fd)) {
		pr_err("epoll: %s\n", strerror(errno));
		goto out;
	}

	load_cache(g);
	g->inf = brk_informer_start(g->brk, "endpoints", &informer_ops, g);
	if (!g->inf) {
		pr_err("watch endpoints: %s\n", strerror(errno));
		goto out;
	}
	pr_info("gateway %s of cluster %s running (cable %s)\n", o->node, g->cfg.cluster_id,
		g->cops->name);

	for (;;) {
		struct epoll_event evs[8];
		uint64_t now = util_now_ns(), wait;
		int n;

		if (now >= next_sec) {
			next_sec = now + SEC;
			gw_publish_endpoint(g, now);
			gw_publish_status(g, now);
			gw_write_status_file(g);
		}
		wait = health_tick(g->health, now);
		if (next_sec - now < wait)
			wait = next_sec - now;
		n = epoll_wait(epfd, evs, 8, (int)(wait / 1000000) + 1);
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
					rc = 0;
					goto out;
				}
			} else if (fd == g->evfd) {
				drain_events(g);
			} else if (fd == health_fd(g->health)) {
				health_on_readable(g->health, util_now_ns());
			} else if (fd == cable_fd) {
				(void)g->cops->dispatch(g->cable);
			}
		}
	}
out:
	brk_informer_stop(g->inf);
	gn_agent_stop(g->gn);	/* globalnet (issue 6) */
	if (g->cable)
		g->cops->fini(g->cable);
	health_free(g->health);
	responder_stop(g->responder);
	brk_client_free(g->brk);
	cluster_config_free(&g->cfg);
	if (sigfd >= 0)
		close(sigfd);
	if (epfd >= 0)
		close(epfd);
	if (g->evfd >= 0)
		close(g->evfd);
	while (g->qhead) {
		struct gw_event *e = g->qhead;

		g->qhead = e->next;
		cJSON_Delete(e->obj);
		free(e);
	}
	pthread_mutex_destroy(&g->qlock);
	free(g);
	return rc;
}
