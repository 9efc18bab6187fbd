/* The ipsec cable driver: IKEv2 + ESP-in-UDP tunnels by strongSwan's charon, driven over
 * VICI. One connection per remote cluster, named by its cluster ID, with one CHILD_SA of
 * the same name (tunnel mode, local subnets <-> remote subnets). IKE and ESP both run on
 * the NAT-T port (encap=yes fakes NAT detection, so ESP is always UDP-encapsulated).
 *
 * Who initiates: by default the cluster with the smaller ID (start_action=start); the
 * other side only responds, so the two never race into duplicate IKE_SAs. A 500 ms tick
 * reconciles: an initiator whose IKE_SA is gone (peer not ready yet, DPD timeout,
 * NO_PROPOSAL_CHOSEN while the peer's config was not loaded) initiates again with backoff.
 *
 * The driver optionally owns charon (agent/cable/strongswan/charon.c): when charon dies it is restarted
 * with backoff, and every known connection is loaded again and initiated from this side
 * whatever its role, since the peer still holds SAs that the new charon does not know
 * (the INITIAL_CONTACT of the new IKE_SA makes the peer drop them).
 *
 * Routes to remote subnets go through one tunnel device on either data path (ipsec_dev.c:
 * charon's TUN device with kernel-libipsec, our XFRM interface with kernel XFRM). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/cable/cable.h"
#include "agent/cable/ipsec_int.h"
#include "agent/cable/strongswan/charon.h"
#include "agent/cable/strongswan/vici_conn.h"
#include "agent/routing/netlink.h"
#include "agent/routing/routes.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"

/* Routes to the remote subnets through the tunnel device (ipsec_dev.c), with a source
 * address inside our subnets so the node's own traffic matches the tunnel's selectors too.
 * Wanted in routes.h's tables even while the device is missing (charon restarting): they
 * converge when it is back.
 * On the kernel path a packet routed into the XFRM interface while its peer has no SA
 * (connecting, a remote failover, a replaced SA) is answered with ICMP host unreachable,
 * which ends a TCP connect at once ("No route to host"); kernel-libipsec drops it without
 * a word and the SYN is sent again. So that both paths behave alike, an XFRM peer's
 * subnets take a blackhole route until its CHILD_SA is up (never a route outside the
 * tunnel: nothing leaves in the clear meanwhile). */
void ipsec_install_routes(struct cable_driver *d, const struct peer *p)
{
	bool hole = !d->libipsec && !(p->ike_up && p->child_up);
	int mtu;

	if (!d->nl)
		return;
	mtu = netlink_link_mtu(d->dev);
	for (uint32_t i = 0; i < p->remote.n_subnets; i++)
		(void)routes_add(&p->remote.subnets[i], 0, hole ? NULL : d->dev, d->health_ip,
				 mtu > 0 ? (uint32_t)mtu : 0);
	ipsec_dev_policies(d, p, true);
}

/* kernel-libipsec refuses a CHILD_SA whose local selector holds no local address (it
 * wants one as the source of its route), which is what a service CIDR is. Such a subnet
 * gets its network address, which Kubernetes never hands to a pod or a Service, as a /32
 * on lo for as long as the driver runs. */
static void ensure_anchors(struct cable_driver *d, const struct cable_endpoint *local)
{
	for (uint32_t i = 0; d->nl && d->libipsec && i < local->n_subnets; i++) {
		const struct cidr4 *c = &local->subnets[i];
		char buf[CIDR4_STRLEN];
		unsigned j;

		if (!netlink_local_addr_in(c, NULL, NULL))
			continue;
		/* Ours already (deleted by hand since: put back) or a new one. */
		for (j = 0; j < d->n_anchors && d->anchors[j] != c->addr; j++)
			;
		if (j == d->n_anchors && d->n_anchors == CABLE_MAX_SUBNETS)
			continue;
		cidr4_format(c, buf);
		if (netlink_addr_replace(d->nl, "lo", c->addr, 32)) {
			pr_warn("ipsec: no anchor address for %s: its CHILD_SA will fail\n", buf);
			continue;
		}
		if (j < d->n_anchors) {
			pr_info("ipsec: anchor of %s on lo was missing; put back\n", buf);
			continue;
		}
		d->anchors[d->n_anchors++] = c->addr;
		pr_info("ipsec: %s has no local address; anchoring its network address on lo\n", buf);
	}
}

static void remove_routes(struct cable_driver *d, const struct peer *p)
{
	if (!d->nl)
		return;
	for (uint32_t i = 0; i < p->remote.n_subnets; i++) {
		routes_del(&p->remote.subnets[i], d->dev);
		if (!d->libipsec)	/* or its blackhole (ipsec_install_routes) */
			routes_del(&p->remote.subnets[i], NULL);
	}
	ipsec_dev_policies(d, p, false);
}

static const char *const watched_events[] = { "ike-updown", "child-updown" };

/* ---- epoll bookkeeping ---- */

void ipsec_ep_set(struct cable_driver *d, int *slot, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN };

	if (*slot == fd)
		return;
	if (*slot >= 0)
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, *slot, NULL);
	*slot = -1;
	if (fd >= 0) {
		ev.data.fd = fd;
		if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
			*slot = fd;
		else
			pr_warn("ipsec: epoll add: %s\n", strerror(errno));
	}
}

/* The timer fires for the tick (twice a second) or sooner, when a retry is due. */
static int arm_timer(struct cable_driver *d)
{
	uint64_t at = ipsec_next_due(d, util_now_ns());
	struct itimerspec its = { .it_value = { .tv_sec = (time_t)(at / NSEC_PER_SEC),
						.tv_nsec = (long)(at % NSEC_PER_SEC) } };

	return timerfd_settime(d->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0 ? -errno : 0;
}

static int start_tick(struct cable_driver *d)
{
	d->next_tick_ns = util_now_ns() + TICK_NS;
	return arm_timer(d);
}

/* ---- events ---- */

static struct peer *find_peer(struct cable_driver *d, const char *id)
{
	for (size_t i = 0; i < d->n_peers; i++)
		if (strcmp(d->peers[i].remote.cluster_id, id) == 0)
			return &d->peers[i];
	return NULL;
}

static uint64_t get_u64(const struct vici_node *n, const char *key)
{
	uint64_t v = 0;

	return vici_get_u64(n, key, &v) == 0 ? v : 0;
}

/* ike-updown / child-updown: { up = yes, <conn name> = { uniqueid, ..., child-sas = {
 * <name>-<id> = { uniqueid, ... } } } }. A missing "up" means down. Events are matched
 * against the SA we consider current by unique ID: when a peer's new IKE_SA replaces an
 * old one (INITIAL_CONTACT after its charon restarted, reauthentication), the old one
 * going down must not take the tunnel down with it. */
static void on_vici_event(void *ctx, const char *name, const struct vici_node *msg)
{
	struct cable_driver *d = ctx;
	bool up = vici_get_bool(msg, "up", 0) == 1;
	bool child = strcmp(name, "child-updown") == 0;
	const struct vici_node *n, *cs;

	for (n = msg->child; n; n = n->next) {
		struct peer *p;
		uint64_t ike_uid, child_uid = 0;
		bool was, stale = false;

		if (n->type != VICI_NODE_SECTION || !(p = find_peer(d, n->name)))
			continue;
		ike_uid = get_u64(n, "uniqueid");
		cs = vici_child(n, "child-sas");
		if (cs && cs->child && cs->child->type == VICI_NODE_SECTION)
			child_uid = get_u64(cs->child, "uniqueid");
		was = p->ike_up && p->child_up;
		if (up) {
			const char *rh = vici_get_str(n, "remote-host");
			uint32_t a;

			if (rh && !ip4_parse(rh, &a))
				p->sa_remote = a;
		}
		if (child && up) {
			p->child_up = true;
			p->child_uid = child_uid;
			p->ike_up = true;
			p->ike_uid = ike_uid;
		} else if (child) {
			stale = child_uid != p->child_uid;
			if (!stale)
				p->child_up = false;
		} else if (up) {
			p->ike_up = true;
			p->ike_uid = ike_uid;
		} else {
			stale = ike_uid != p->ike_uid;
			if (!stale)
				p->ike_up = p->child_up = false;
		}
		if (p->ike_up && p->child_up) {
			p->recovering = false;
			retry_ok(&p->init);
			p->child_missing_ns = 0;
		}
		pr_info("ipsec: %s #%llu %s to %s (%s)%s\n", child ? "CHILD_SA" : "IKE_SA",
			(unsigned long long)(child ? child_uid : ike_uid), up ? "up" : "down",
			n->name, vici_get_str(n, "remote-host") ?: "?",
			stale ? ": not the current one" : "");
		if (was == (p->ike_up && p->child_up))
			continue;
		if (p->loaded && !d->libipsec)
			ipsec_install_routes(d, p);	/* the device, or the blackhole */
		if (d->on_event)
			d->on_event(d->ctx, n->name, p->ike_up && p->child_up);
	}
}

/* ---- VICI requests ---- */

static bool endpoint_equal(const struct cable_endpoint *a, const struct cable_endpoint *b)
{
	if (strcmp(a->cluster_id, b->cluster_id) || strcmp(a->hostname, b->hostname) ||
	    a->private_ip != b->private_ip || a->public_ip != b->public_ip ||
	    a->natt_port != b->natt_port || a->n_subnets != b->n_subnets ||
	    a->health_check_ip != b->health_check_ip || a->epoch != b->epoch)
		return false;
	for (uint32_t i = 0; i < a->n_subnets && i < CABLE_MAX_SUBNETS; i++)
		if (a->subnets[i].addr != b->subnets[i].addr || a->subnets[i].len != b->subnets[i].len)
			return false;
	return true;
}

/* ---- (re)attaching to charon ---- */

static void detach(struct cable_driver *d)
{
	ipsec_ep_set(d, &d->ep_vc_fd, -1);
	vici_conn_close(d->vc);
	d->vc = NULL;
	d->lost = false;
	for (size_t i = 0; i < d->n_peers; i++) {
		struct peer *p = &d->peers[i];
		bool was = p->ike_up && p->child_up;

		ipsec_init_cancel(d, p);
		p->loaded = false;

		p->ike_up = p->child_up = false;
		if (was && !d->libipsec)
			ipsec_install_routes(d, p);	/* charon's SAs went with it */
		if (was && d->on_event)
			d->on_event(d->ctx, p->remote.cluster_id, false);
	}
}

/* Starts charon if we own it, opens VICI, registers for events, loads the credentials
 * and, when reloading, every connection (initiating them: see the file comment). */
static int attach(struct cable_driver *d, bool reload)
{
	int err;

	if (d->charon && !charon_running(d->charon)) {
		err = charon_start(d->charon, CHARON_START_MS);
		if (err)
			return err;
	}
	ipsec_ep_set(d, &d->ep_pid_fd, d->charon ? charon_pidfd(d->charon) : -1);
	d->vc = vici_conn_open(d->vici_path);
	if (!d->vc)
		return -errno;
	vici_conn_set_event_cb(d->vc, on_vici_event, d);
	for (size_t i = 0; i < ARRAY_SIZE(watched_events); i++) {
		err = vici_conn_register(d->vc, watched_events[i], CMD_TIMEOUT_MS);
		if (err)
			goto err;
	}
	err = ipsec_load_creds(d);
	if (err)
		goto err;
	/* A connection charon refuses is retried on its own (ipsec_reconcile()); only a lost
	 * VICI connection fails the attach. A restarted charon made a new TUN device: the
	 * routes went with the old one and come back with the loads. */
	for (size_t i = 0; reload && i < d->n_peers && !d->lost; i++)
		(void)ipsec_load_peer(d, &d->peers[i], true);
	if (d->lost) {
		err = -ENOTCONN;
		goto err;
	}
	ipsec_ep_set(d, &d->ep_vc_fd, vici_conn_fd(d->vc));
	d->backoff_s = 0;
	return 0;
err:
	detach(d);
	return err;
}

static void schedule_retry(struct cable_driver *d)
{
	d->backoff_s = (unsigned)util_backoff(d->backoff_s, 1, BACKOFF_MAX_S);
	d->next_recover_ns = util_now_ns() + d->backoff_s * NSEC_PER_SEC;
	pr_warn("ipsec: charon unavailable; retrying in %u s\n", d->backoff_s);
}

static void recover(struct cable_driver *d)
{
	int err;

	for (size_t i = 0; i < d->n_peers; i++) {
		d->peers[i].recovering = true;
		retry_ok(&d->peers[i].init);
	}
	err = attach(d, true);

	if (err) {
		pr_warn("ipsec: reattach to charon: %s\n", strerror(-err));
		schedule_retry(d);
		return;
	}
	pr_info("ipsec: charon back: %zu connection(s) reloaded\n", d->n_peers);
}

/* ---- ops ---- */

static void ipsec_fini(struct cable_driver *d);

static int ipsec_init(const struct cable_config *cfg, struct cable_driver **out)
{
	struct cable_driver *d;
	int err;

	*out = NULL;
	if (!cfg->local_cluster_id || !cfg->creds ||
	    strlen(cfg->local_cluster_id) >= CABLE_ID_MAX || (!cfg->charon && !cfg->vici_path))
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->epfd = d->tfd = d->ep_vc_fd = d->ep_pid_fd = -1;
	d->started_ns = util_now_ns();
	snprintf(d->local_id, sizeof(d->local_id), "%s", cfg->local_cluster_id);
	d->ike_proposals = cfg->ike_proposals ? strdup(cfg->ike_proposals) : NULL;
	d->esp_proposals = cfg->esp_proposals ? strdup(cfg->esp_proposals) : NULL;
	d->dpd_delay_s = cfg->dpd_delay_s ? cfg->dpd_delay_s : 3;
	d->start = cfg->start;
	d->on_event = cfg->on_event;
	d->ctx = cfg->ctx;
	err = ipsec_creds_copy(&d->creds, cfg->creds);
	if (err)
		goto err;
	err = -ENOMEM;
	if ((cfg->ike_proposals && !d->ike_proposals) || (cfg->esp_proposals && !d->esp_proposals))
		goto err;
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	d->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (d->epfd < 0 || d->tfd < 0) {
		err = -errno;
		goto err;
	}
	{
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = d->tfd };

		if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->tfd, &ev) < 0) {
			err = -errno;
			goto err;
		}
	}
	if (cfg->charon) {
		struct charon_opts co = *cfg->charon;

		if (co.datapath == CHARON_DP_AUTO) {
			int esp = charon_probe_kernel_esp();

			co.datapath = esp == 1 ? CHARON_DP_KERNEL : CHARON_DP_LIBIPSEC;
			pr_info("ipsec: charon data path: %s (kernel ESP %s)\n", charon_datapath_str(co.datapath),
				esp == 1 ? "present" : esp == 0 ? "missing" : "probe failed");
		}
		err = ipsec_dev_init(d, cfg, &co);
		if (err)
			goto err;
		d->charon = charon_new(&co);
		if (!d->charon) {
			err = -errno;
			goto err;
		}
		d->vici_path = strdup(charon_vici_path(d->charon));
	} else {
		d->vici_path = strdup(cfg->vici_path);
	}
	if (!d->vici_path) {
		err = -ENOMEM;
		goto err;
	}
	err = attach(d, false);
	if (!err)
		err = start_tick(d);
	if (err)
		goto err;
	*out = d;
	return 0;
err:
	ipsec_fini(d);
	return err;
}

static int ipsec_connect(struct cable_driver *d, const struct cable_endpoint *remote,
			 uint32_t remote_ip, const struct cable_endpoint *local)
{
	struct peer *p, np = { .remote = *remote, .local = *local, .remote_ip = remote_ip };

	if (!remote->cluster_id[0] || strnlen(remote->cluster_id, CABLE_ID_MAX) >= CABLE_ID_MAX ||
	    strcmp(remote->cluster_id, d->local_id) == 0 || !remote_ip ||
	    remote->n_subnets > CABLE_MAX_SUBNETS || local->n_subnets > CABLE_MAX_SUBNETS ||
	    !local->private_ip)
		return -EINVAL;
	p = find_peer(d, remote->cluster_id);
	if (p) {
		/* A new epoch or address: tear the old SAs down so the new config is used. */
		bool changed = p->remote_ip != remote_ip || !endpoint_equal(&p->remote, remote) ||
			       !endpoint_equal(&p->local, local);

		bool same_sa = p->ike_up && p->child_up && p->sa_remote == remote_ip;

		if (!changed)
			return 0;
		/* The SA already runs to the new address (the new gateway reached us first):
		 * keep it, only the configuration is reloaded. Otherwise it goes (its down
		 * events are known by their IDs) and the new configuration initiates. */
		np.ike_up = same_sa && p->ike_up;
		np.child_up = same_sa && p->child_up;
		np.ike_uid = p->ike_uid;
		np.child_uid = p->child_uid;
		np.sa_remote = p->sa_remote;
		np.recovering = p->recovering;
		np.reqid = p->reqid;
		ipsec_init_cancel(d, p);
		remove_routes(d, p);
		if (p->ike_up && p->child_up && !same_sa && d->on_event)
			d->on_event(d->ctx, remote->cluster_id, false);
		*p = np;
		if (!same_sa && d->vc && ipsec_terminate_ike(d, remote->cluster_id))
			pr_warn("ipsec: terminate %s before update: failed\n", remote->cluster_id);
	} else {
		struct peer *n = realloc(d->peers, (d->n_peers + 1) * sizeof(*n));

		if (!n)
			return -ENOMEM;
		d->peers = n;
		p = &d->peers[d->n_peers++];
		/* Right after this gateway started (a failover, or a restart) it initiates
		 * whatever its role, so remote gateways learn its address from IKE at once. */
		np.recovering = util_now_ns() - d->started_ns < INITIATE_ALL_NS;
		np.reqid = ++d->last_reqid;
		*p = np;
	}
	/* While charon is away the peer is remembered and loaded on recovery; a load charon
	 * refuses is retried (ipsec_reconcile()). */
	ensure_anchors(d, local);
	if (d->vc)
		(void)ipsec_load_peer(d, p, false);
	if (arm_timer(d))
		pr_warn("ipsec: timer: %s\n", strerror(errno));
	return 0;
}

static int ipsec_disconnect(struct cable_driver *d, const char *cluster_id)
{
	struct peer *p = find_peer(d, cluster_id);
	bool was;
	int err = 0;

	if (!p)
		return -ENOENT;
	was = p->ike_up && p->child_up;
	ipsec_init_cancel(d, p);
	remove_routes(d, p);
	if (d->vc) {
		/* Unload first so close_action/dpd_action cannot bring it back. */
		err = ipsec_unload_conn(d, cluster_id);
		if (!err)
			err = ipsec_terminate_ike(d, cluster_id);
	}
	*p = d->peers[--d->n_peers];
	if (was && d->on_event)
		d->on_event(d->ctx, cluster_id, false);
	return err;
}

static int ipsec_list(struct cable_driver *d, struct cable_status **out, size_t *n)
{
	struct cable_status *st;
	struct sa_view *v;
	int err = 0;

	*out = NULL;
	*n = 0;
	st = calloc(d->n_peers ? d->n_peers : 1, sizeof(*st));
	v = calloc(d->n_peers ? d->n_peers : 1, sizeof(*v));
	if (!st || !v) {
		free(st);
		free(v);
		return -ENOMEM;
	}
	if (d->vc && d->n_peers)
		err = ipsec_scan(d, v);
	for (size_t i = 0; !err && i < d->n_peers; i++) {
		const struct peer *p = &d->peers[i];
		struct cable_status *s = &st[i];

		snprintf(s->cluster_id, sizeof(s->cluster_id), "%s", p->remote.cluster_id);
		s->remote_ip = p->remote_ip;
		s->epoch = p->remote.epoch;
		s->connected = v[i].ike_established && v[i].child_installed;
		snprintf(s->state, sizeof(s->state), "%s", s->connected ? "connected" :
			 v[i].ike_established || v[i].ike_connecting ? "connecting" : "down");
		s->established_s = v[i].established_s;
		s->bytes_in = v[i].bytes_in;
		s->bytes_out = v[i].bytes_out;
		s->packets_in = v[i].packets_in;
		s->packets_out = v[i].packets_out;
		if (!d->vc)
			retry_fail(&s->fault, util_now_ns(), -ENOTCONN, "charon is not reachable");
		else if (p->load.err)
			s->fault = p->load;
		else if (!s->connected && p->init.err)
			s->fault = p->init;
	}
	free(v);
	if (err) {
		free(st);
		return err;
	}
	*out = st;
	*n = d->n_peers;
	return 0;
}

/* Resync: every connection still in charon, every anchor in place. */
static int ipsec_sync_op(struct cable_driver *d)
{
	int err;

	for (size_t i = 0; i < d->n_peers; i++)
		ensure_anchors(d, &d->peers[i].local);
	err = ipsec_sync(d);
	if (arm_timer(d))
		pr_warn("ipsec: timer: %s\n", strerror(errno));
	return err;
}

static int ipsec_fd(const struct cable_driver *d)
{
	return d->epfd;
}

static struct peer *peer_of_init_fd(struct cable_driver *d, int fd)
{
	for (size_t i = 0; i < d->n_peers; i++)
		if (d->peers[i].ivc && vici_conn_fd(d->peers[i].ivc) == fd)
			return &d->peers[i];
	return NULL;
}

static int ipsec_dispatch(struct cable_driver *d)
{
	struct epoll_event evs[8];
	int n, i, err;
	bool lost = false, timer = false;
	uint64_t now;

	n = epoll_wait(d->epfd, evs, ARRAY_SIZE(evs), 0);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (i = 0; i < n; i++) {
		int fd = evs[i].data.fd;
		struct peer *p;

		if (fd == d->tfd) {
			uint64_t x;

			if (read(d->tfd, &x, sizeof(x)) < 0 && errno != EAGAIN)
				pr_warn("ipsec: timer: %s\n", strerror(errno));
			timer = true;
		} else if (fd == d->ep_pid_fd && d->charon) {
			int st = 0, r = charon_reap(d->charon, &st);

			if (r == 1) {
				pr_warn("ipsec: charon died (%s %d); restarting it\n",
					WIFSIGNALED(st) ? "signal" : "exit",
					WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
				ipsec_ep_set(d, &d->ep_pid_fd, -1);
				metrics_inc("subagent_charon_restarts_total");
				lost = true;
			}
		} else if (fd == d->ep_vc_fd && d->vc) {
			err = vici_conn_dispatch(d->vc);
			if (err) {
				pr_warn("ipsec: vici: %s\n", strerror(-err));
				lost = true;
			}
		} else if ((p = peer_of_init_fd(d, fd))) {
			ipsec_init_done(d, p);
		}
	}
	now = util_now_ns();
	if (timer && now >= d->next_tick_ns)
		d->next_tick_ns = now + TICK_NS;
	/* Our XFRM interface made again (deleted by hand), or a new ipsec0 of a new charon:
	 * the routes through the old one went with it. */
	if (timer && ipsec_dev_check(d))
		for (size_t k = 0; k < d->n_peers; k++)
			if (d->peers[k].loaded)
				ipsec_install_routes(d, &d->peers[k]);
	if (d->vc && !lost && !d->lost && timer)
		ipsec_reconcile(d, now);
	if (d->lost) {
		pr_warn("ipsec: the VICI connection to charon broke; attaching again\n");
		lost = true;
	}
	if (lost && d->vc)
		detach(d);
	if (lost) {
		/* charon may still be closing its socket when we see EOF: if we own it and it
		 * is still running, its pidfd will tell us; otherwise reconnect now. */
		if (d->charon && charon_running(d->charon)) {
			ipsec_ep_set(d, &d->ep_pid_fd, charon_pidfd(d->charon));
			d->next_recover_ns = util_now_ns() + NSEC_PER_SEC;
		} else {
			recover(d);
		}
	} else if (timer && !d->vc && now >= d->next_recover_ns) {
		recover(d);
	}
	if (arm_timer(d))
		pr_warn("ipsec: timer: %s\n", strerror(errno));
	return 0;
}

static void ipsec_fini(struct cable_driver *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_peers; i++)
		ipsec_init_cancel(d, &d->peers[i]);
	vici_conn_close(d->vc);
	if (d->charon)
		charon_free(d->charon);	/* stops it: its SAs go with it */
	if (d->nl) {
		for (size_t i = 0; i < d->n_peers; i++)
			remove_routes(d, &d->peers[i]);
		for (unsigned i = 0; i < d->n_anchors; i++)
			(void)netlink_addr_del(d->nl, "lo", d->anchors[i], 32);
		ipsec_dev_fini(d);
	}
	if (d->epfd >= 0)
		close(d->epfd);
	if (d->tfd >= 0)
		close(d->tfd);
	ipsec_creds_clear(&d->creds);
	free(d->ike_proposals);
	free(d->esp_proposals);
	free(d->vici_path);
	free(d->peers);
	free(d);
}

static int ipsec_tunnel_dev(const struct cable_driver *d, struct cable_dev *out)
{
	if (!d->dev[0])
		return -ENODEV;
	snprintf(out->name, sizeof(out->name), "%s", d->dev);
	out->kind = d->libipsec ? CABLE_DEV_L3 : CABLE_DEV_XFRM;
	return 0;
}

const struct cable_ops cable_ipsec_ops = {
	.name = "ipsec",
	.init = ipsec_init,
	.connect = ipsec_connect,
	.disconnect = ipsec_disconnect,
	.list = ipsec_list,
	.fd = ipsec_fd,
	.dispatch = ipsec_dispatch,
	.fini = ipsec_fini,
	.sync = ipsec_sync_op,
	.tunnel_dev = ipsec_tunnel_dev,
	.set_creds = ipsec_set_creds,
	.encrypts = true,
};
