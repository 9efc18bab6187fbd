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
 * (the INITIAL_CONTACT of the new IKE_SA makes the peer drop them). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/cable/cable.h"
#include "agent/cable/strongswan/charon.h"
#include "agent/cable/strongswan/vici_conn.h"
#include "agent/routing/netlink.h"
#include "agent/routing/routes.h"
#include "common/log.h"
#include "common/util.h"

#define CMD_TIMEOUT_MS		5000
#define CHARON_START_MS		10000
#define BACKOFF_MAX_S		10
#define PSK_ID			"subagent-psk"
#define NS_PER_S		1000000000ull
#define TICK_NS			500000000L

struct peer {
	struct cable_endpoint remote;
	struct cable_endpoint local;
	uint32_t remote_ip;
	bool ike_up, child_up;
	uint64_t ike_uid, child_uid;	/* charon's unique IDs of the SAs we consider current */
	bool recovering;		/* initiate whatever the role: our charon restarted, or
					 * this gateway just took over (see ipsec_connect) */
	uint32_t sa_remote;		/* remote address of the current IKE_SA, 0: none */
	unsigned backoff_s;		/* between initiation attempts */
	uint64_t next_try_ns;
};

struct cable_driver {
	char local_id[CABLE_ID_MAX];
	char *psk;
	char *ike_proposals, *esp_proposals;
	char *vici_path;
	unsigned dpd_delay_s;
	enum cable_start start;
	cable_event_cb on_event;
	void *ctx;

	struct charon *charon;		/* NULL: charon is someone else's */
	struct vici_conn *vc;
	int epfd, tfd;
	int ep_vc_fd, ep_pid_fd;	/* fds currently registered in epfd, -1 if none */
	unsigned backoff_s;		/* between charon restart attempts */
	uint64_t next_recover_ns;

	struct peer *peers;
	size_t n_peers;

	/* kernel-libipsec: charon's own routes cannot carry a service CIDR that has no local
	 * address, so the driver routes remote subnets through the TUN device itself */
	uint64_t started_ns;
	struct netlink *nl;
	uint32_t health_ip;
	uint32_t anchors[CABLE_MAX_SUBNETS];	/* addresses we put on lo, see ensure_anchors() */
	unsigned n_anchors;
};

#define LIBIPSEC_DEV "ipsec0"
#define INITIATE_ALL_NS (10 * NS_PER_S)

/* Routes to the remote subnets through charon's TUN device, with a source address inside
 * our subnets so the node's own traffic matches the tunnel's selectors too. */
static void install_routes(struct cable_driver *d, const struct peer *p)
{
	int mtu;

	if (!d->nl)
		return;
	mtu = netlink_link_mtu(LIBIPSEC_DEV);
	for (uint32_t i = 0; i < p->remote.n_subnets; i++)
		if (routes_add(d->nl, &p->remote.subnets[i], 0, LIBIPSEC_DEV, d->health_ip,
			       mtu > 0 ? (uint32_t)mtu : 0))
			pr_warn("ipsec: no route to a subnet of %s\n", p->remote.cluster_id);
}

/* kernel-libipsec refuses a CHILD_SA whose local selector holds no local address (it
 * wants one as the source of its route), which is what a service CIDR is. Such a subnet
 * gets its network address, which Kubernetes never hands to a pod or a Service, as a /32
 * on lo for as long as the driver runs. */
static void ensure_anchors(struct cable_driver *d, const struct cable_endpoint *local)
{
	for (uint32_t i = 0; d->nl && i < local->n_subnets; i++) {
		const struct cidr4 *c = &local->subnets[i];
		char buf[CIDR4_STRLEN];
		unsigned j;

		if (!netlink_local_addr_in(c, NULL, NULL) || d->n_anchors == CABLE_MAX_SUBNETS)
			continue;
		for (j = 0; j < d->n_anchors && d->anchors[j] != c->addr; j++)
			;
		if (j < d->n_anchors)
			continue;
		cidr4_format(c, buf);
		if (netlink_addr_replace(d->nl, "lo", c->addr, 32)) {
			pr_warn("ipsec: no anchor address for %s: its CHILD_SA will fail\n", buf);
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
	for (uint32_t i = 0; i < p->remote.n_subnets; i++)
		(void)routes_del(d->nl, &p->remote.subnets[i], LIBIPSEC_DEV);
}

static const char *const watched_events[] = { "ike-updown", "child-updown" };

/* ---- epoll bookkeeping ---- */

static void ep_set(struct cable_driver *d, int *slot, int fd)
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

/* The tick: twice a second while the driver lives. */
static int start_tick(struct cable_driver *d)
{
	struct itimerspec its = { .it_value = { .tv_nsec = TICK_NS },
				  .it_interval = { .tv_nsec = TICK_NS } };

	return timerfd_settime(d->tfd, 0, &its, NULL) < 0 ? -errno : 0;
}

static unsigned next_backoff(unsigned s)
{
	s = s ? s * 2 : 1;
	return s > BACKOFF_MAX_S ? BACKOFF_MAX_S : s;
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
			p->backoff_s = 0;
		}
		pr_info("ipsec: %s #%llu %s to %s (%s)%s\n", child ? "CHILD_SA" : "IKE_SA",
			(unsigned long long)(child ? child_uid : ike_uid), up ? "up" : "down",
			n->name, vici_get_str(n, "remote-host") ?: "?",
			stale ? ": not the current one" : "");
		if (was != (p->ike_up && p->child_up) && d->on_event)
			d->on_event(d->ctx, n->name, p->ike_up && p->child_up);
	}
}

/* ---- VICI requests ---- */

static int call(struct cable_driver *d, const char *cmd, struct vici_builder *b,
		const char *what)
{
	char errmsg[256];
	int err;

	if (!d->vc)
		return -ENOTCONN;
	err = vici_conn_call(d->vc, cmd, b, CMD_TIMEOUT_MS, errmsg, sizeof(errmsg));
	if (err)
		pr_warn("ipsec: %s %s: %s\n", cmd, what,
			err == -EREMOTEIO ? errmsg : strerror(-err));
	return err;
}

static int load_shared(struct cable_driver *d)
{
	struct vici_builder *b = vici_builder_new();
	int err;

	if (!b)
		return -ENOMEM;
	vici_add_kv_str(b, "id", PSK_ID);
	vici_add_kv_str(b, "type", "IKE");
	vici_add_kv_str(b, "data", d->psk);
	/* Owned by our identity: charon uses it towards any peer. */
	vici_begin_list(b, "owners");
	vici_add_item_str(b, d->local_id);
	vici_end_list(b);
	err = call(d, "load-shared", b, "psk");
	vici_builder_free(b);
	return err;
}

static void add_proposals(struct vici_builder *b, const char *key, const char *props)
{
	char buf[512], *save = NULL, *tok;

	vici_begin_list(b, key);
	snprintf(buf, sizeof(buf), "%s", props ? props : "default");
	for (tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save))
		vici_add_item_str(b, tok);
	vici_end_list(b);
}

static void add_subnets(struct vici_builder *b, const char *key, const struct cable_endpoint *e)
{
	char buf[CIDR4_STRLEN];

	vici_begin_list(b, key);
	for (uint32_t i = 0; i < e->n_subnets && i < CABLE_MAX_SUBNETS; i++) {
		cidr4_format(&e->subnets[i], buf);
		vici_add_item_str(b, buf);
	}
	vici_end_list(b);
}

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

/* Who initiates: a gateway behind NAT can only be reached once it has sent something, so
 * the side behind NAT initiates; when both are (two NATs) both do, which punches the hole
 * from both ends; otherwise the cluster with the smaller ID does. */
static bool we_initiate(const struct cable_driver *d, const struct peer *p)
{
	bool local_nat = p->local.public_ip && p->local.public_ip != p->local.private_ip;
	bool remote_nat = p->remote.public_ip && p->remote.public_ip != p->remote.private_ip;

	/* The same NAT on both sides (one site): they talk over private addresses. */
	if (local_nat && remote_nat && p->local.public_ip == p->remote.public_ip)
		local_nat = remote_nat = false;
	if (local_nat != remote_nat)
		return local_nat;
	if (local_nat)
		return true;
	return strcmp(d->local_id, p->remote.cluster_id) < 0;
}

/* Whether this side should (re)initiate when the peer has no IKE_SA. */
static bool wants_initiate(const struct cable_driver *d, const struct peer *p)
{
	switch (d->start) {
	case CABLE_START_START:
		return true;
	case CABLE_START_TRAP:
		return false;
	default:
		return we_initiate(d, p) || p->recovering;
	}
}

/* load-conn for one peer. active: initiate right away (start_action=start). */
static int load_conn(struct cable_driver *d, const struct peer *p, bool active)
{
	const char *id = p->remote.cluster_id;
	const char *start = "none", *dpd = "clear";
	char lip[16], rip[16];
	struct vici_builder *b;
	int err;

	switch (d->start) {
	case CABLE_START_TRAP:
		start = active ? "trap|start" : "trap";
		dpd = "trap";
		break;
	case CABLE_START_START:
		start = "start";
		dpd = "restart";
		break;
	case CABLE_START_AUTO:
		if (active || we_initiate(d, p))
			start = "start";
		if (we_initiate(d, p))
			dpd = "restart";
		break;
	}
	ip4_format(p->local.private_ip, lip);
	ip4_format(p->remote_ip, rip);
	b = vici_builder_new();
	if (!b)
		return -ENOMEM;
	vici_begin_section(b, id);
	vici_add_kv_str(b, "version", "2");
	vici_begin_list(b, "local_addrs");
	vici_add_item_str(b, lip);
	vici_end_list(b);
	vici_begin_list(b, "remote_addrs");
	vici_add_item_str(b, rip);
	/* Any address may answer for the cluster (its identity and key decide): a gateway
	 * that took over after a failover reaches us before the broker tells us its address,
	 * even while the broker is down. We initiate to rip, the first entry. */
	vici_add_item_str(b, "0.0.0.0/0");
	vici_end_list(b);
	/* IKE on the NAT-T port too: one UDP port carries everything. */
	vici_add_kv_fmt(b, "local_port", "%u", p->local.natt_port ? p->local.natt_port : 4500);
	vici_add_kv_fmt(b, "remote_port", "%u", p->remote.natt_port ? p->remote.natt_port : 4500);
	vici_add_kv_str(b, "encap", "yes");
	vici_add_kv_str(b, "mobike", "no");
	vici_add_kv_fmt(b, "dpd_delay", "%us", d->dpd_delay_s);
	vici_add_kv_str(b, "keyingtries", "0");
	add_proposals(b, "proposals", d->ike_proposals);
	vici_begin_section(b, "local");
	vici_add_kv_str(b, "auth", "psk");
	vici_add_kv_str(b, "id", d->local_id);
	vici_end_section(b);
	vici_begin_section(b, "remote");
	vici_add_kv_str(b, "auth", "psk");
	vici_add_kv_str(b, "id", id);
	vici_end_section(b);
	vici_begin_section(b, "children");
	vici_begin_section(b, id);
	vici_add_kv_str(b, "mode", "tunnel");
	add_subnets(b, "local_ts", &p->local);
	add_subnets(b, "remote_ts", &p->remote);
	add_proposals(b, "esp_proposals", d->esp_proposals);
	vici_add_kv_str(b, "start_action", start);
	vici_add_kv_str(b, "dpd_action", dpd);
	vici_add_kv_str(b, "close_action", we_initiate(d, p) || d->start != CABLE_START_AUTO ?
			"start" : "none");
	vici_end_section(b);
	vici_end_section(b);
	vici_end_section(b);
	err = call(d, "load-conn", b, id);
	vici_builder_free(b);
	if (!err && strstr(start, "start")) {
		/* Give the initiation just started time before the tick retries it. */
		struct peer *mp = (struct peer *)p;

		mp->backoff_s = next_backoff(mp->backoff_s);
		mp->next_try_ns = util_now_ns() + TICK_NS;
	}
	if (!err)
		pr_info("ipsec: loaded %s: %s:%u -> %s:%u epoch %llu (%s, start_action %s)\n", id,
			lip, p->local.natt_port ? p->local.natt_port : 4500, rip,
			p->remote.natt_port ? p->remote.natt_port : 4500,
			(unsigned long long)p->remote.epoch,
			we_initiate(d, p) ? "initiator" : "responder", start);
	return err;
}

static int terminate_ike(struct cable_driver *d, const char *id)
{
	struct vici_builder *b = vici_builder_new();
	int err;

	if (!b)
		return -ENOMEM;
	vici_add_kv_str(b, "ike", id);
	vici_add_kv_str(b, "timeout", "3000");
	err = vici_conn_call(d->vc, "terminate", b, CMD_TIMEOUT_MS, NULL, 0);
	vici_builder_free(b);
	/* "no matching SAs" is fine: nothing to tear down. */
	return err == -EREMOTEIO ? 0 : err;
}

static int unload_conn(struct cable_driver *d, const char *id)
{
	struct vici_builder *b = vici_builder_new();
	int err;

	if (!b)
		return -ENOMEM;
	vici_add_kv_str(b, "name", id);
	err = call(d, "unload-conn", b, id);
	vici_builder_free(b);
	return err;
}

/* ---- (re)attaching to charon ---- */

static void detach(struct cable_driver *d)
{
	ep_set(d, &d->ep_vc_fd, -1);
	vici_conn_close(d->vc);
	d->vc = NULL;
	for (size_t i = 0; i < d->n_peers; i++) {
		struct peer *p = &d->peers[i];
		bool was = p->ike_up && p->child_up;

		p->ike_up = p->child_up = false;
		if (was && d->on_event)
			d->on_event(d->ctx, p->remote.cluster_id, false);
	}
}

/* Starts charon if we own it, opens VICI, registers for events, loads the PSK and, when
 * reloading, every connection (initiating them: see the file comment). */
static int attach(struct cable_driver *d, bool reload)
{
	int err;

	if (d->charon && !charon_running(d->charon)) {
		err = charon_start(d->charon, CHARON_START_MS);
		if (err)
			return err;
	}
	ep_set(d, &d->ep_pid_fd, d->charon ? charon_pidfd(d->charon) : -1);
	d->vc = vici_conn_open(d->vici_path);
	if (!d->vc)
		return -errno;
	vici_conn_set_event_cb(d->vc, on_vici_event, d);
	for (size_t i = 0; i < ARRAY_SIZE(watched_events); i++) {
		err = vici_conn_register(d->vc, watched_events[i], CMD_TIMEOUT_MS);
		if (err)
			goto err;
	}
	err = load_shared(d);
	if (err)
		goto err;
	for (size_t i = 0; reload && i < d->n_peers; i++) {
		err = load_conn(d, &d->peers[i], true);
		if (err)
			goto err;
		/* a restarted charon made a new TUN device: its routes went with the old one */
		install_routes(d, &d->peers[i]);
	}
	ep_set(d, &d->ep_vc_fd, vici_conn_fd(d->vc));
	d->backoff_s = 0;
	return 0;
err:
	detach(d);
	return err;
}

static void schedule_retry(struct cable_driver *d)
{
	d->backoff_s = next_backoff(d->backoff_s);
	d->next_recover_ns = util_now_ns() + d->backoff_s * NS_PER_S;
	pr_warn("ipsec: charon unavailable; retrying in %u s\n", d->backoff_s);
}

static void recover(struct cable_driver *d)
{
	int err;

	for (size_t i = 0; i < d->n_peers; i++) {
		d->peers[i].recovering = true;
		d->peers[i].backoff_s = 0;
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
	if (!cfg->local_cluster_id || !cfg->psk || !*cfg->psk ||
	    strlen(cfg->local_cluster_id) >= CABLE_ID_MAX || (!cfg->charon && !cfg->vici_path))
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->epfd = d->tfd = d->ep_vc_fd = d->ep_pid_fd = -1;
	d->started_ns = util_now_ns();
	snprintf(d->local_id, sizeof(d->local_id), "%s", cfg->local_cluster_id);
	d->psk = strdup(cfg->psk);
	d->ike_proposals = cfg->ike_proposals ? strdup(cfg->ike_proposals) : NULL;
	d->esp_proposals = cfg->esp_proposals ? strdup(cfg->esp_proposals) : NULL;
	d->dpd_delay_s = cfg->dpd_delay_s ? cfg->dpd_delay_s : 3;
	d->start = cfg->start;
	d->on_event = cfg->on_event;
	d->ctx = cfg->ctx;
	err = -ENOMEM;
	if (!d->psk || (cfg->ike_proposals && !d->ike_proposals) ||
	    (cfg->esp_proposals && !d->esp_proposals))
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
		if (co.datapath == CHARON_DP_LIBIPSEC) {
			co.no_install_routes = true;
			d->health_ip = cfg->health_ip;
			d->nl = netlink_open();
			if (!d->nl || routes_init(d->nl)) {
				err = d->nl ? -EPERM : -errno;
				goto err;
			}
		}
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
	int err;

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
		np.ike_up = p->ike_up;
		np.child_up = p->child_up;
		np.ike_uid = p->ike_uid;
		np.child_uid = p->child_uid;
		np.sa_remote = p->sa_remote;
		remove_routes(d, p);
		*p = np;
		/* The SA already runs to the new address (the new gateway reached us first):
		 * keep it, only the configuration is reloaded. */
		if (!same_sa && d->vc && terminate_ike(d, remote->cluster_id))
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
		*p = np;
	}
	/* While charon is away the peer is remembered and loaded on recovery. */
	ensure_anchors(d, local);
	if (!d->vc)
		return 0;
	err = load_conn(d, p, false);
	if (!err)
		install_routes(d, p);
	return err;
}

static int ipsec_disconnect(struct cable_driver *d, const char *cluster_id)
{
	struct peer *p = find_peer(d, cluster_id);
	bool was;
	int err = 0;

	if (!p)
		return -ENOENT;
	was = p->ike_up && p->child_up;
	remove_routes(d, p);
	if (d->vc) {
		/* Unload first so close_action/dpd_action cannot bring it back. */
		err = unload_conn(d, cluster_id);
		if (!err)
			err = terminate_ike(d, cluster_id);
	}
	*p = d->peers[--d->n_peers];
	if (was && d->on_event)
		d->on_event(d->ctx, cluster_id, false);
	return err;
}

struct list_ctx {
	struct cable_driver *d;
	struct cable_status *st;
};

/* list-sa event: { <conn> = { state, established, child-sas = { <x> = { name, state,
 * bytes-in, ... } } } }. Counters of every installed CHILD_SA add up (during a rekey
 * there are two). */
static void on_list_sa(void *ctx, const char *name, const struct vici_node *msg)
{
	struct list_ctx *lc = ctx;
	const struct vici_node *ike, *ch;

	for (ike = msg->child; ike; ike = ike->next) {
		struct cable_status *s = NULL;
		bool established, installed = false;

		for (size_t i = 0; i < lc->d->n_peers; i++)
			if (strcmp(lc->st[i].cluster_id, ike->name) == 0)
				s = &lc->st[i];
		if (!s || ike->type != VICI_NODE_SECTION)
			continue;
		established = vici_get_str(ike, "state") &&
			      strcmp(vici_get_str(ike, "state"), "ESTABLISHED") == 0;
		if (established)
			s->established_s = get_u64(ike, "established");
		for (ch = vici_child(ike, "child-sas") ? vici_child(ike, "child-sas")->child : NULL;
		     ch; ch = ch->next) {
			const char *cs = vici_get_str(ch, "state");

			if (ch->type != VICI_NODE_SECTION || !cs || strcmp(cs, "INSTALLED"))
				continue;
			installed = true;
			s->bytes_in += get_u64(ch, "bytes-in");
			s->bytes_out += get_u64(ch, "bytes-out");
			s->packets_in += get_u64(ch, "packets-in");
			s->packets_out += get_u64(ch, "packets-out");
		}
		if (established && installed) {
			s->connected = true;
			snprintf(s->state, sizeof(s->state), "connected");
		} else if (!s->connected) {
			snprintf(s->state, sizeof(s->state), "connecting");
		}
	}
}

static int ipsec_list(struct cable_driver *d, struct cable_status **out, size_t *n)
{
	struct list_ctx lc = { .d = d };
	int err = 0;

	*out = NULL;
	*n = 0;
	lc.st = calloc(d->n_peers ? d->n_peers : 1, sizeof(*lc.st));
	if (!lc.st)
		return -ENOMEM;
	for (size_t i = 0; i < d->n_peers; i++) {
		struct cable_status *s = &lc.st[i];

		snprintf(s->cluster_id, sizeof(s->cluster_id), "%s", d->peers[i].remote.cluster_id);
		snprintf(s->state, sizeof(s->state), "down");
		s->remote_ip = d->peers[i].remote_ip;
		s->epoch = d->peers[i].remote.epoch;
	}
	if (d->vc && d->n_peers) {
		struct vici_builder *b = vici_builder_new();

		if (!b) {
			free(lc.st);
			return -ENOMEM;
		}
		vici_add_kv_str(b, "noblock", "yes");
		err = vici_conn_cmd_stream(d->vc, "list-sas", b, "list-sa", on_list_sa, &lc, NULL,
					   CMD_TIMEOUT_MS);
		vici_builder_free(b);
		if (err) {
			free(lc.st);
			return err;
		}
	}
	*out = lc.st;
	*n = d->n_peers;
	return 0;
}

static int initiate(struct cable_driver *d, const char *id)
{
	struct vici_builder *b = vici_builder_new();
	int err;

	if (!b)
		return -ENOMEM;
	vici_add_kv_str(b, "child", id);
	vici_add_kv_str(b, "ike", id);
	vici_add_kv_str(b, "timeout", "-1");	/* asynchronous: the events tell the outcome */
	err = call(d, "initiate", b, id);
	vici_builder_free(b);
	return err;
}

/* Initiates, with backoff, every connection this side should initiate that has no IKE_SA. */
static void reconcile(struct cable_driver *d)
{
	struct cable_status *st = NULL;
	uint64_t now = util_now_ns();
	size_t n = 0, i;
	bool due = false;

	for (i = 0; i < d->n_peers; i++) {
		struct peer *p = &d->peers[i];

		if (wants_initiate(d, p) && !(p->ike_up && p->child_up) && now >= p->next_try_ns)
			due = true;
	}
	if (!due || ipsec_list(d, &st, &n))
		return;
	for (i = 0; i < n && i < d->n_peers; i++) {
		struct peer *p = &d->peers[i];

		if (!wants_initiate(d, p) || now < p->next_try_ns || strcmp(st[i].state, "down"))
			continue;
		p->backoff_s = next_backoff(p->backoff_s);
		p->next_try_ns = now + p->backoff_s * NS_PER_S;
		pr_info("ipsec: no IKE_SA to %s: initiating (next try in %u s)\n",
			p->remote.cluster_id, p->backoff_s);
		if (initiate(d, p->remote.cluster_id))
			continue;
	}
	free(st);
}

static int ipsec_fd(const struct cable_driver *d)
{
	return d->epfd;
}

static int ipsec_dispatch(struct cable_driver *d)
{
	struct epoll_event evs[4];
	int n, i, err;
	bool lost = false, retry = false;

	n = epoll_wait(d->epfd, evs, ARRAY_SIZE(evs), 0);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (i = 0; i < n; i++) {
		int fd = evs[i].data.fd;

		if (fd == d->tfd) {
			uint64_t x;

			if (read(d->tfd, &x, sizeof(x)) < 0 && errno != EAGAIN)
				pr_warn("ipsec: timer: %s\n", strerror(errno));
			retry = true;
		} else if (fd == d->ep_pid_fd && d->charon) {
			int st = 0, r = charon_reap(d->charon, &st);

			if (r == 1) {
				pr_warn("ipsec: charon died (%s %d); restarting it\n",
					WIFSIGNALED(st) ? "signal" : "exit",
					WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
				ep_set(d, &d->ep_pid_fd, -1);
				lost = true;
			}
		} else if (fd == d->ep_vc_fd && d->vc) {
			err = vici_conn_dispatch(d->vc);
			if (err) {
				pr_warn("ipsec: vici: %s\n", strerror(-err));
				lost = true;
			}
		}
	}
	if (lost && d->vc)
		detach(d);
	if (lost) {
		/* charon may still be closing its socket when we see EOF: if we own it and it
		 * is still running, its pidfd will tell us; otherwise reconnect now. */
		if (d->charon && charon_running(d->charon)) {
			ep_set(d, &d->ep_pid_fd, charon_pidfd(d->charon));
			d->next_recover_ns = util_now_ns() + NS_PER_S;
		} else {
			recover(d);
		}
	} else if (retry && !d->vc && util_now_ns() >= d->next_recover_ns) {
		recover(d);
	} else if (retry && d->vc) {
		reconcile(d);
	}
	return 0;
}

static void ipsec_fini(struct cable_driver *d)
{
	if (!d)
		return;
	vici_conn_close(d->vc);
	if (d->charon)
		charon_free(d->charon);	/* stops it: its SAs go with it */
	if (d->nl) {
		for (size_t i = 0; i < d->n_peers; i++)
			remove_routes(d, &d->peers[i]);
		for (unsigned i = 0; i < d->n_anchors; i++)
			(void)netlink_addr_del(d->nl, "lo", d->anchors[i], 32);
		routes_fini(d->nl);
		netlink_close(d->nl);
	}
	if (d->epfd >= 0)
		close(d->epfd);
	if (d->tfd >= 0)
		close(d->tfd);
	util_free_secret(d->psk);
	free(d->ike_proposals);
	free(d->esp_proposals);
	free(d->vici_path);
	free(d->peers);
	free(d);
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
	.encrypts = true,
};
