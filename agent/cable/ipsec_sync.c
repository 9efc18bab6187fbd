/* What the ipsec cable driver checks and repairs: connections charon refused (or lost),
 * and the tunnels this side owes an initiation (no IKE_SA, or an IKE_SA whose CHILD_SA is
 * gone). Initiations run on VICI connections of their own, so their answer comes back as
 * soon as charon has one: a peer that does not know us yet (it learns of us from the
 * broker at about the time we learn of it) costs a 50 ms retry, not a tick. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "agent/cable/ipsec_int.h"
#include "agent/cable/strongswan/vici_conn.h"
#include "common/failpoint.h"
#include "common/log.h"
#include "common/util.h"

bool ipsec_vici_lost(int err)
{
	return err == -ENOTCONN || err == -ECONNRESET || err == -ETIMEDOUT || err == -EPIPE ||
	       err == -EPROTO || err == -EBADMSG;
}

/* ---- initiations ---- */

/* Whether this side initiates now: its role (ipsec_wants_initiate()), except that a
 * recovering side (restart, takeover) does not initiate towards a peer behind NAT, which
 * cannot be reached before it sends (it initiates itself). */
static bool initiates(const struct cable_driver *d, const struct peer *p)
{
	bool remote_nat = p->remote.public_ip && p->remote.public_ip != p->remote.private_ip &&
			  p->remote.public_ip != p->local.public_ip;

	if (d->start == CABLE_START_AUTO && !ipsec_we_initiate(d, p) && remote_nat)
		return false;
	return ipsec_wants_initiate(d, p);
}

static void init_failed(struct cable_driver *d, struct peer *p, uint64_t now, int err,
			const char *msg)
{
	p->init.first_ns = INIT_RETRY_FIRST_NS;
	p->init.max_ns = BACKOFF_MAX_S * NSEC_PER_SEC;
	retry_fail(&p->init, now, err, "initiate: %s", msg);
	pr_info("ipsec: initiation to %s failed: %s (next try in %llu ms)\n",
		p->remote.cluster_id, msg,
		(unsigned long long)((p->init.next_ns - now) / NSEC_PER_MSEC));
	(void)d;
}

void ipsec_init_cancel(struct cable_driver *d, struct peer *p)
{
	if (!p->ivc)
		return;
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, vici_conn_fd(p->ivc), NULL);
	vici_conn_close(p->ivc);
	p->ivc = NULL;
}

static void init_start(struct cable_driver *d, struct peer *p, uint64_t now)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct vici_builder *b;
	int err = -ENOMEM;

	if (p->ivc)
		return;
	p->ivc = vici_conn_open(d->vici_path);
	if (!p->ivc) {
		err = -errno;
		init_failed(d, p, now, err, strerror(-err));
		return;
	}
	b = vici_builder_new();
	if (b) {
		vici_add_kv_str(b, "child", p->remote.cluster_id);
		vici_add_kv_str(b, "ike", p->remote.cluster_id);
		vici_add_kv_fmt(b, "timeout", "%d", INIT_TIMEOUT_MS);
		err = vici_conn_cmd_send(p->ivc, "initiate", b, CMD_TIMEOUT_MS);
		vici_builder_free(b);
	}
	ev.data.fd = vici_conn_fd(p->ivc);
	if (!err && epoll_ctl(d->epfd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0)
		err = -errno;
	if (err) {
		vici_conn_close(p->ivc);
		p->ivc = NULL;
		init_failed(d, p, now, err, strerror(-err));
	}
}

void ipsec_init_done(struct cable_driver *d, struct peer *p)
{
	struct vici_node *resp = NULL;
	int r = vici_conn_cmd_poll(p->ivc, &resp);
	uint64_t now = util_now_ns();
	const char *msg;

	if (r == 0)
		return;
	ipsec_init_cancel(d, p);
	if (r == 1 && vici_get_bool(resp, "success", 0) == 1) {
		retry_ok(&p->init);
	} else {
		msg = r < 0 ? strerror(-r) : vici_get_str(resp, "errmsg");
		init_failed(d, p, now, r < 0 ? r : -EREMOTEIO, msg ? msg : "failed");
	}
	vici_node_free(resp);
}

/* ---- loading ---- */

int ipsec_load_peer(struct cable_driver *d, struct peer *p, bool active)
{
	uint64_t now = util_now_ns();
	char *props = d->ike_proposals;
	unsigned failed = p->load.attempts;
	int err;

	/* Test hook: a proposal charon refuses, the way a real refusal looks. */
	if (failpoint("ipsec-load-conn"))
		d->ike_proposals = (char *)"refused-by-failpoint";
	err = ipsec_load_conn(d, p, active);
	d->ike_proposals = props;
	if (err) {
		p->loaded = false;
		if (ipsec_vici_lost(err))
			d->lost = true;
		retry_fail(&p->load, now, err, "load-conn %s: %s", p->remote.cluster_id,
			   d->errmsg);
		return err;
	}
	if (retry_ok(&p->load))
		pr_info("ipsec: %s loaded after %u failed attempt(s)\n", p->remote.cluster_id,
			failed);
	p->loaded = true;
	ipsec_install_routes(d, p);
	if (d->start == CABLE_START_AUTO && (active || initiates(d, p)) &&
	    !(p->ike_up && p->child_up)) {
		ipsec_init_cancel(d, p);
		retry_ok(&p->init);
		init_start(d, p, now);
	}
	return 0;
}

/* ---- list-sas ---- */

struct scan_ctx {
	struct cable_driver *d;
	struct sa_view *v;
};

static uint64_t get_u64(const struct vici_node *n, const char *key)
{
	uint64_t v = 0;

	return vici_get_u64(n, key, &v) == 0 ? v : 0;
}

/* list-sa event: { <conn> = { state, established, child-sas = { <x> = { name, state,
 * bytes-in, ... } } } }. Counters of every installed CHILD_SA add up (during a rekey
 * there are two). */
static void on_list_sa(void *ctx, const char *name, const struct vici_node *msg)
{
	struct scan_ctx *sc = ctx;
	const struct vici_node *ike, *ch, *chs;

	(void)name;
	for (ike = msg->child; ike; ike = ike->next) {
		struct sa_view *v = NULL;
		const char *st;

		for (size_t i = 0; i < sc->d->n_peers; i++)
			if (strcmp(sc->d->peers[i].remote.cluster_id, ike->name) == 0)
				v = &sc->v[i];
		if (!v || ike->type != VICI_NODE_SECTION)
			continue;
		st = vici_get_str(ike, "state");
		if (st && !strcmp(st, "ESTABLISHED")) {
			v->ike_established = true;
			v->established_s = get_u64(ike, "established");
		} else if (st && (!strcmp(st, "CONNECTING") || !strcmp(st, "CREATED"))) {
			v->ike_connecting = true;
		}
		chs = vici_child(ike, "child-sas");
		for (ch = chs ? chs->child : NULL; ch; ch = ch->next) {
			const char *cs = vici_get_str(ch, "state");

			if (ch->type != VICI_NODE_SECTION || !cs || strcmp(cs, "INSTALLED"))
				continue;
			v->child_installed = true;
			v->bytes_in += get_u64(ch, "bytes-in");
			v->bytes_out += get_u64(ch, "bytes-out");
			v->packets_in += get_u64(ch, "packets-in");
			v->packets_out += get_u64(ch, "packets-out");
		}
	}
}

int ipsec_scan(struct cable_driver *d, struct sa_view *view)
{
	struct scan_ctx sc = { .d = d, .v = view };
	struct vici_builder *b;
	int err;

	memset(view, 0, d->n_peers * sizeof(*view));
	if (!d->vc)
		return -ENOTCONN;
	if (!d->n_peers)
		return 0;
	b = vici_builder_new();
	if (!b)
		return -ENOMEM;
	vici_add_kv_str(b, "noblock", "yes");
	err = vici_conn_cmd_stream(d->vc, "list-sas", b, "list-sa", on_list_sa, &sc, NULL,
				   CMD_TIMEOUT_MS);
	vici_builder_free(b);
	if (ipsec_vici_lost(err))
		d->lost = true;
	return err;
}

/* ---- the periodic check ---- */

static bool owes_initiation(const struct cable_driver *d, const struct peer *p)
{
	return d->start != CABLE_START_TRAP && p->loaded && !p->ivc && initiates(d, p);
}

void ipsec_reconcile(struct cable_driver *d, uint64_t now)
{
	struct sa_view *v;
	bool scan = false;

	if (!d->vc)
		return;
	for (size_t i = 0; i < d->n_peers && !d->lost; i++) {
		struct peer *p = &d->peers[i];

		if (!p->loaded && retry_due(&p->load, now))
			(void)ipsec_load_peer(d, p, p->recovering);
	}
	for (size_t i = 0; i < d->n_peers; i++) {
		const struct peer *p = &d->peers[i];

		if (owes_initiation(d, p) && !(p->ike_up && p->child_up) &&
		    (retry_due(&p->init, now) || p->ike_up))
			scan = true;
	}
	if (!scan || d->lost || !(v = calloc(d->n_peers, sizeof(*v))))
		return;
	if (ipsec_scan(d, v)) {
		free(v);
		return;
	}
	for (size_t i = 0; i < d->n_peers; i++) {
		struct peer *p = &d->peers[i];

		if (!owes_initiation(d, p))
			continue;
		if (!v[i].ike_established || v[i].child_installed)
			p->child_missing_ns = 0;
		if (v[i].ike_established && !v[i].child_installed) {
			/* a CHILD_SA deleted by hand, or one the peer deleted without a new one */
			if (!p->child_missing_ns)
				p->child_missing_ns = now;
			if (now - p->child_missing_ns < CHILD_MISSING_NS || !retry_due(&p->init, now))
				continue;
			pr_info("ipsec: the IKE_SA to %s has no CHILD_SA: creating one\n",
				p->remote.cluster_id);
			init_start(d, p, now);
			continue;
		}
		if (v[i].ike_established || v[i].ike_connecting || !retry_due(&p->init, now))
			continue;
		pr_info("ipsec: no IKE_SA to %s: initiating\n", p->remote.cluster_id);
		init_start(d, p, now);
	}
	free(v);
}

uint64_t ipsec_next_due(const struct cable_driver *d, uint64_t now)
{
	uint64_t next = d->next_tick_ns;

	for (size_t i = 0; d->vc && i < d->n_peers; i++) {
		const struct peer *p = &d->peers[i];

		if (!p->loaded && p->load.err && p->load.next_ns < next)
			next = p->load.next_ns;
		if (owes_initiation(d, p) && p->init.err && p->init.next_ns < next)
			next = p->init.next_ns;
	}
	return next > now ? next : now + 1;
}

/* ---- resync ---- */

struct conns_ctx {
	struct cable_driver *d;
	bool *seen;
};

/* list-conn event: { <name> = { ... } } */
static void on_list_conn(void *ctx, const char *name, const struct vici_node *msg)
{
	struct conns_ctx *cc = ctx;

	(void)name;
	for (const struct vici_node *n = msg->child; n; n = n->next)
		for (size_t i = 0; i < cc->d->n_peers; i++)
			if (!strcmp(cc->d->peers[i].remote.cluster_id, n->name))
				cc->seen[i] = true;
}

int ipsec_sync(struct cable_driver *d)
{
	struct conns_ctx cc = { .d = d };
	int err;

	if (!d->vc)
		return -ENOTCONN;
	if (!d->n_peers)
		return 0;
	cc.seen = calloc(d->n_peers, sizeof(*cc.seen));
	if (!cc.seen)
		return -ENOMEM;
	err = vici_conn_cmd_stream(d->vc, "list-conns", NULL, "list-conn", on_list_conn, &cc,
				   NULL, CMD_TIMEOUT_MS);
	if (ipsec_vici_lost(err))
		d->lost = true;
	for (size_t i = 0; !err && i < d->n_peers; i++) {
		struct peer *p = &d->peers[i];

		if (!p->loaded || cc.seen[i])
			continue;
		pr_warn("ipsec: charon lost the connection to %s; loading it again\n",
			p->remote.cluster_id);
		p->loaded = false;
		retry_now(&p->load);
	}
	free(cc.seen);
	if (!err)
		ipsec_reconcile(d, util_now_ns());
	return err;
}
