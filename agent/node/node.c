/* The node daemon: setup, the event loop, and the roles the election gives this node. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "agent/cable/cable.h"
#include "agent/election/elector.h"
#include "agent/engine/engine.h"
#include "agent/node/node_int.h"
#include "agent/routing/mss.h"
#include "agent/routing/netlink.h"
#include "agent/routing/route_agent.h"
#include "agent/routing/routes.h"
#include "broker/client/client.h"
#include "broker/creds/origin.h"
#include "common/log.h"
#include "common/pidfile.h"
#include "common/util.h"

#define MAX_PEERS 64
/* Without --pod-cidr the slice is looked for again this often: a CNI makes its bridge
 * when the node's first pod starts, which is usually after the agent's DaemonSet pod. */
#define POD_CIDR_PERIOD (5 * NSEC_PER_SEC)

static int watch_fd(int ep, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static void base_adv(struct node *n, struct election_adv *adv)
{
	memset(adv, 0, sizeof(*adv));
	adv->health_ip = n->health_ip;
	adv->vtep_ip = n->node_ip;
	if (n->ra)
		ra_vtep_mac(n->ra, adv->vtep_mac);
	adv->pod_net = n->pod_cidr.addr;
	adv->pod_prefix = n->pod_cidr.len;
	if (n->local.private_ip[0])
		(void)!ip4_parse(n->local.private_ip, &adv->private_ip);
}

/* Tells the route agents what the active gateway routes, and sets up the return path. */
static void update_advert(struct node *n)
{
	struct election_adv adv;
	struct cidr4 subs[ELECTION_MAX_ROUTES];
	struct election_peer peers[MAX_PEERS];
	unsigned nsubs = 0, np;

	base_adv(n, &adv);
	if (n->eng) {
		int m = engine_tunnel_mtu(n->eng);

		nsubs = engine_remote_subnets(n->eng, subs, ELECTION_MAX_ROUTES);
		for (unsigned i = 0; i < nsubs; i++) {
			adv.route_net[i] = subs[i].addr;
			adv.route_prefix[i] = subs[i].len;
		}
		adv.n_routes = (uint8_t)nsubs;
		adv.tunnel_mtu = m > 0 ? (uint16_t)m : 0;
	}
	elector_set_adv(n->el, &adv);
	np = elector_peers(n->el, peers, MAX_PEERS);
	if (n->ra)
		ra_serve(n->ra, peers, np < MAX_PEERS ? np : MAX_PEERS, subs, nsubs);
}

static void engine_on(struct node *n)
{
	struct engine_cfg ec = {
		.cfg = &n->cfg, .brk = n->brk, .el = n->el, .epfd = n->epfd,
		.node = n->o->node, .state_dir = n->o->state_dir,
		.public_ip = n->o->public_ip, .private_ip = n->o->private_ip,
		.bpf_dir = n->o->bpf_dir, .globalnet_no_attach = n->o->globalnet_no_attach,
		.health_interval_ns = n->o->health_interval_ns, .health_ip = n->health_ip,
	};

	n->eng = engine_start(&ec);
	n->next_status_ns = 0;
	if (n->eng) {
		bool published;

		if (retry_ok(&n->eng_st))
			pr_info("gateway engine started after %u failed attempt(s)\n",
				n->eng_st.attempts);
		n->local = *engine_local(n->eng, &published);
		return;
	}
	retry_fail(&n->eng_st, util_now_ns(), -errno, "start the gateway engine: %s",
		   strerror(errno));
	pr_err("%s (retrying in %llu ms)\n", n->eng_st.why,
	       (unsigned long long)(n->eng_st.backoff_ns / NSEC_PER_MSEC));
}

static void roles_update(struct node *n)
{
	struct election_peer active;
	bool is_active, have_active;

	is_active = elector_role(n->el, &active, &have_active);
	n->roles_dirty = false;
	n->report_now = true;
	node_metrics_roles(n);
	if (is_active && !n->want_engine)
		pr_info("this node is the active gateway (epoch %llu)\n",
			(unsigned long long)elector_epoch(n->el));
	n->want_engine = is_active;
	if (is_active && !n->eng && retry_due(&n->eng_st, util_now_ns())) {
		engine_on(n);
	} else if (!is_active && n->eng) {
		/* in place: the route agent goes on, now following the new active gateway */
		pr_info("this node is no longer the active gateway\n");
		engine_stop(n->eng, false);
		n->eng = NULL;
	}
	if (!is_active)
		retry_ok(&n->eng_st);
	if (n->ra)
		ra_follow(n->ra, !is_active && have_active ? &active : NULL);
	update_advert(n);
}

/* The route agent; when it cannot start (its VXLAN port taken, ...) the node runs without
 * it and tries again with backoff. */
static void ra_try_open(struct node *n, uint64_t now)
{
	n->ra = ra_open(n->node_ip, n->health_ip);
	if (n->ra) {
		if (retry_ok(&n->ra_st))
			pr_info("route agent: up after %u failed attempt(s)\n", n->ra_st.attempts);
		n->roles_dirty = true;	/* follow the gateway, advertise our VTEP */
		return;
	}
	if (!n->ra_st.err)
		pr_warn("route agent: %s; this node does not route to other clusters until it "
			"starts (retrying)\n", strerror(errno));
	retry_fail(&n->ra_st, now, -errno, "start the route agent (%s): %s", RA_DEV,
		   strerror(errno));
}

/* The MSS clamping table: there while the agent runs. */
static void mss_sync(struct node *n, uint64_t now)
{
	int rc;

	if (n->mss_made && mss_clamp_check() == 0) {
		retry_ok(&n->mss_st);
		return;
	}
	if (!retry_due(&n->mss_st, now))
		return;
	rc = mss_clamp_install();
	if (rc) {
		retry_fail(&n->mss_st, now, rc, "install the nft table subagent_mss: %s",
			   strerror(-rc));
		return;
	}
	if (n->mss_made)
		pr_info("nft table subagent_mss was missing; put back\n");
	n->mss_made = true;
	retry_ok(&n->mss_st);
}

/* The resync: every part checks and repairs what it made; failed steps are retried. */
static void resync(struct node *n, uint64_t now)
{
	if (!n->ra && retry_due(&n->ra_st, now))
		ra_try_open(n, now);
	else if (n->ra)
		(void)ra_sync(n->ra, now);
	mss_sync(n, now);
	if (n->eng)
		engine_sync(n->eng, now);
	(void)routes_sync(now);
}

static int election_setup(struct node *n)
{
	struct election_cfg ec = { 0 };
	struct elector_opts eo = { 0 };
	char ip[16];
	int rc = node_find_ip(n);

	if (rc) {
		pr_err("no address on the node network (set --node-ip): %s\n", strerror(-rc));
		return rc;
	}
	if (n->o->pod_cidr && cidr4_parse(n->o->pod_cidr, &n->pod_cidr)) {
		pr_err("--pod-cidr %s is not a CIDR\n", n->o->pod_cidr);
		return -EINVAL;
	}
	(void)node_pod_cidr_refresh(n);
	n->next_pod_cidr_ns = util_now_ns() + POD_CIDR_PERIOD;
	for (size_t i = 0; i < n->cfg.n_cluster_cidrs && !n->health_ip; i++)
		(void)!netlink_local_addr_in(&n->cfg.cluster_cidrs[i], &n->health_ip, NULL);
	ra_try_open(n, util_now_ns());
	mss_sync(n, util_now_ns());
	ec.cluster_id = n->cfg.cluster_id;
	ec.node = n->o->node;
	ec.gateway_capable = n->o->gateway_capable;
	ec.node_ip = n->node_ip;
	ec.bcast = node_broadcast_of(n->node_ip);
	ec.interval_ns = n->o->election_interval_ns;
	ec.dead_ns = n->o->election_dead_ns;
	ec.key = (const uint8_t *)n->cfg.token;
	ec.key_len = strlen(n->cfg.token);
	ec.state_dir = n->o->state_dir;
	{
		struct origin o;

		if (!origin_of(&n->cfg, &o))
			origin_line(&o, n->origin);
		ec.origin = n->origin[0] ? n->origin : NULL;
	}
	base_adv(n, &ec.adv);
	eo.liveness_interval_ns = n->o->liveness_interval_ns;
	eo.liveness_mult = n->o->liveness_mult;
	n->el = elector_start(&ec, &eo);
	if (!n->el) {
		pr_err("election: %s\n", strerror(errno));
		return -errno;
	}
	ip4_format(n->node_ip, ip);
	pr_info("node %s (%s) of cluster %s, %s\n", n->o->node, ip, n->cfg.cluster_id,
		n->o->gateway_capable ? "gateway-capable" : "not gateway-capable");
	return 0;
}

/* The configuration, the broker client and the event loop's fds. */
static int setup(struct node *n, const sigset_t *mask)
{
	int err = util_mkdir_p(n->o->state_dir, 0700);

	if (err) {
		pr_err("create state dir %s: %s\n", n->o->state_dir, strerror(-err));
		return err;
	}
	snprintf(n->pid_path, sizeof(n->pid_path), "%s/agent.pid", n->o->state_dir);
	n->pidfd = pidfile_acquire(n->pid_path);
	if (n->pidfd < 0) {
		err = n->pidfd;
		if (err == -EBUSY)
			pr_err("another agent (PID %d) runs with state dir %s\n",
			       (int)pidfile_owner(n->pid_path), n->o->state_dir);
		else
			pr_err("%s: %s\n", n->pid_path, strerror(-err));
		return err;
	}
	if (cluster_config_load(n->o->config_dir, &n->cfg))
		return -EINVAL;
	n->brk = brk_client_new(n->cfg.broker_urls, n->cfg.n_broker_urls,
				n->cfg.ca_path, n->cfg.token);
	if (!n->brk) {
		pr_err("broker client: %s\n", strerror(errno));
		return -errno;
	}
	brk_client_set_timeouts(n->brk, 2000, 5000);
	node_guard_brokers(n);
	n->cops = cable_find(n->cfg.cable_driver);
	if (!n->cops) {
		pr_err("cable driver %s is not available\n", n->cfg.cable_driver);
		return -ENOENT;
	}
	n->sigfd = signalfd(-1, mask, SFD_NONBLOCK | SFD_CLOEXEC);
	n->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (n->sigfd < 0 || n->epfd < 0) {
		pr_err("event loop: %s\n", strerror(errno));
		return -errno;
	}
	err = election_setup(n);
	if (!err)
		err = node_metrics_start(n);
	if (err)
		return err;
	if (watch_fd(n->epfd, n->sigfd) || watch_fd(n->epfd, elector_fd(n->el))) {
		pr_err("epoll: %s\n", strerror(errno));
		return -errno;
	}
	return 0;
}

/* Once a second: the status file, and the GatewayStatus when it is due. */
static void report(struct node *n, uint64_t now)
{
	cJSON *conns, *faults = cJSON_CreateArray();

	retry_report(&n->ra_st, now, faults, "route agent");
	if (n->ra)
		ra_report(n->ra, faults, now);
	retry_report(&n->mss_st, now, faults, "nft table subagent_mss");
	if (n->want_engine && !n->eng)
		retry_report(&n->eng_st, now, faults, "gateway engine");
	routes_report(faults, now);
	if (n->eng) {
		bool published;

		n->local = *engine_local(n->eng, &published);
		conns = engine_connections_json(n->eng, faults);
	} else {
		conns = cJSON_CreateArray();
	}
	node_write_status_file(n, conns, faults);
	node_metrics_update(n, conns);
	if (n->o->gateway_capable)
		node_publish_status(n, now, conns, faults);
	cJSON_Delete(conns);
	cJSON_Delete(faults);
}

/* Returns 1 when the node must stop. */
static int on_signal(struct node *n)
{
	struct signalfd_siginfo si;

	if (read(n->sigfd, &si, sizeof(si)) != sizeof(si))
		return 0;
	pr_info("signal %u: stopping\n", si.ssi_signo);
	/* SIGTERM is how a restart begins (systemd, kubelet): the others hold on instead of
	 * failing over. kill -9 sends nothing. */
	elector_restarting(n->el);
	return 1;
}

/* A connection's change is reported at once, but not more often than this. */
#define REPORT_MIN_NS (100 * NSEC_PER_MSEC)

static void on_engine_flags(struct node *n, unsigned f)
{
	if (f & ENGINE_F_REMOTES)
		update_advert(n);
	if (f & ENGINE_F_STATUS) {
		/* the broker at once, unless it just failed: a broker that is down costs the loop
		 * a connect timeout per try, so those stay on the 5 s period */
		if (!n->status_failed)
			n->next_status_ns = 0;
		n->report_now = true;
	}
}

static int loop(struct node *n)
{
	uint64_t next_sec = 0, last_report = 0;

	for (;;) {
		struct epoll_event evs[8];
		uint64_t now = util_now_ns(), wait = NSEC_PER_SEC;
		int nev;

		node_metrics_alive(n, now);
		if (n->roles_dirty || (n->want_engine && !n->eng && retry_due(&n->eng_st, now)))
			roles_update(n);
		if (now >= n->next_resync_ns) {
			n->next_resync_ns = now + (n->o->resync_ns ? n->o->resync_ns : NODE_RESYNC_NS);
			resync(n, now);
		}
		if (n->eng) {
			wait = engine_tick(n->eng, now);
			on_engine_flags(n, engine_take_flags(n->eng));
		}
		if (n->want_engine && !n->eng && n->eng_st.next_ns > now &&
		    n->eng_st.next_ns - now < wait)
			wait = n->eng_st.next_ns - now;
		if (n->next_resync_ns - now < wait)
			wait = n->next_resync_ns - now;
		if (n->report_now && now - last_report >= REPORT_MIN_NS)
			next_sec = now;
		if (now >= n->next_pod_cidr_ns) {
			n->next_pod_cidr_ns = now + POD_CIDR_PERIOD;
			if (node_pod_cidr_refresh(n))
				update_advert(n);
		}
		if (now >= next_sec) {
			next_sec = now + NSEC_PER_SEC;
			last_report = now;
			n->report_now = false;
			report(n, now);
		}
		if (next_sec - now < wait)
			wait = next_sec - now;
		if (n->report_now && last_report + REPORT_MIN_NS - now < wait)
			wait = last_report + REPORT_MIN_NS - now;
		nev = epoll_wait(n->epfd, evs, 8, (int)(wait / NSEC_PER_MSEC) + 1);
		if (nev < 0 && errno != EINTR) {
			pr_err("epoll_wait: %s\n", strerror(errno));
			return 1;
		}
		for (int i = 0; i < nev; i++) {
			int fd = evs[i].data.fd;

			if (fd == n->sigfd) {
				if (on_signal(n))
					return 0;
			} else if (fd == elector_fd(n->el)) {
				if (elector_changed(n->el))
					n->roles_dirty = true;
			} else if (n->eng) {
				on_engine_flags(n, engine_on_fd(n->eng, fd));
			}
		}
	}
}

int node_run(const struct node_opts *o)
{
	struct node *n = calloc(1, sizeof(*n));
	sigset_t mask;
	int rc = 1;

	if (!n)
		return 1;
	n->o = o;
	n->epfd = n->sigfd = n->pidfd = -1;
	/* Signals are taken through a signalfd; block them before any thread starts. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (!setup(n, &mask))
		rc = loop(n);
	/* Heartbeats go on while the engine stops: an agent restarted at once reclaims the
	 * role (its state file is fresh) and no standby takes over meanwhile. */
	engine_stop(n->eng, rc == 0);
	node_metrics_stop(n);
	elector_stop(n->el);
	if (n->mss_made)
		mss_clamp_remove();
	ra_close(n->ra);
	brk_client_free(n->brk);
	cluster_config_free(&n->cfg);
	if (n->sigfd >= 0)
		close(n->sigfd);
	if (n->epfd >= 0)
		close(n->epfd);
	pidfile_release(n->pidfd, n->pid_path);
	free(n);
	return rc;
}
