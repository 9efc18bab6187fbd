/* Gateway election and node discovery: the socket, the peer table and the rules.
 *
 * Rules (each node applies them to what it has heard; "alive" = heard within dead_ns):
 * - The active gateway is the alive node claiming the role with the highest epoch; on equal
 *   epochs the lower node name wins. An active node that sees a better claimant steps down
 *   at once (partition heal: one interval at most, the time for the winner's heartbeat).
 * - An active node keeps the role while it is alive: nobody claims while an alive claimant
 *   exists, so a lower-named node that comes back does not take the role back.
 * - With no alive claimant, the lowest-named alive gateway-capable node (self included)
 *   claims with epoch = 1 + the highest epoch ever seen (persisted before it claims). If
 *   that node is silent too it stops being alive after dead_ns and the next one claims.
 * - At start a node listens for dead_ns before it may claim, so it learns the current
 *   active first. Exception: its state file says it was active and the file was touched
 *   (at every heartbeat sent while active) less than dead_ns ago: nobody can have taken
 *   over yet, so it claims at once with the same epoch (restart without failover).
 * - Sequence numbers start at max(CLOCK_REALTIME ns, the reservation in the state file),
 *   so a restarted sender is newer than its old datagrams; a receiver drops any datagram
 *   whose sequence is not above the highest it has seen from that node (replays).
 * - Freshness across restarts: every start of a node draws a random nonce (boot) that its
 *   heartbeats carry. A node believes a peer (counts it alive, follows its claim, grants a
 *   restart grace) only once a heartbeat from the peer's current start has echoed the
 *   believer's own current nonce: until then it puts the peer's name hash in its "ask"
 *   list, and a node that sees its hash asked echoes the asker's nonce in its next
 *   heartbeat, sent at once. A recorded heartbeat (a dead gateway's "restarting", say)
 *   replayed to a node that started since echoes no nonce that node ever drew, so it is
 *   never believed; within one start, sequence numbers stop replays.
 * - The epoch a standby sends is the highest it has seen: a node that starts learns it.
 *   Epochs never exceed ELECTION_EPOCH_MAX (the decoder refuses more), and a proven
 *   heartbeat whose epoch is more than ELECTION_EPOCH_JUMP above the highest this node
 *   knows is dropped (logged): one liar cannot push a cluster's epoch to where no claim
 *   can beat it. A node that starts knowing no epoch (no state file) notes the epochs
 *   its proven peers announce while it listens and takes the lower median of them at the
 *   end (then listens two intervals more, to hear the ones it refused before): the
 *   cluster's honest epoch, however high, unless the liars are as many as the others. */
#include "agent/election/election.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "agent/election/election_int.h"
#include "agent/election/election_state.h"
#include "agent/election/election_types.h"
#include "common/log.h"
#include "common/name.h"
#include "common/util.h"

#define DEF_INTERVAL_NS	100000000ull
#define DEF_DEAD_NS	600000000ull
#define SEQ_RESERVE	(1ull << 32)	/* sequence numbers reserved per state-file write */
#define LOG_EVERY_NS	10000000000ull	/* rate limit of the drop warnings */
#define STATE_FILE	"election.state"

void election_derive_key(const uint8_t *secret, size_t len, uint8_t out[32])
{
	static const char label[] = "subagent election v1";

	/* A key of its own: the token itself never appears in any MAC computation that a
	 * peer could observe together with chosen input. */
	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, secret, len, label, sizeof(label) - 1, out) < 0)
		memset(out, 0, 32);
}

/* True when a warning may be logged now; counts the suppressed ones. */
bool election_ratelog_ok(struct ratelog *r, uint64_t now, unsigned *suppressed)
{
	if (r->last_ns && now - r->last_ns < LOG_EVERY_NS) {
		r->suppressed++;
		return false;
	}
	r->last_ns = now ? now : 1;
	*suppressed = r->suppressed;
	r->suppressed = 0;
	return true;
}

static const char *ip_str(uint32_t ip, char *buf)
{
	struct in_addr a = { .s_addr = htonl(ip) };

	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* ---- state file (election_state.c) ---- */

static int state_write(struct election *e)
{
	struct election_state st = {
		.active = e->role == ROLE_ACTIVE,
		.epoch = e->role == ROLE_ACTIVE ? e->epoch : e->max_epoch,
		.seq = e->seq_hw,
		.restarting = e->restarting,
	};

	snprintf(st.origin, sizeof(st.origin), "%s", e->origin);
	return e->state_path[0] ? election_state_write(e->state_path, &st) : 0;
}

/* Marks the state file as fresh: the restart rule compares its mtime with dead_ns. */
static void state_touch(struct election *e)
{
	if (e->state_path[0] && e->role == ROLE_ACTIVE)
		election_state_touch(e->state_path);
}

/* ---- configuration ---- */

static struct election *create(const struct election_cfg *c, uint64_t now)
{
	struct election *e;
	bool was_active = false, fresh = false;
	uint64_t seq = 0;
	int err;

	if (!c->cluster_id || !name_is_safe(c->cluster_id, strlen(c->cluster_id), ELECTION_ID_MAX) ||
	    !c->node || !name_is_safe(c->node, strlen(c->node), ELECTION_NAME_MAX) ||
	    !c->node_ip || !c->key || c->key_len < 16 || (!c->bcast && !c->n_peers) ||
	    (c->n_peers && !c->peers)) {
		errno = EINVAL;
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->fd = -1;
	strcpy(e->cluster_id, c->cluster_id);
	strcpy(e->node, c->node);
	e->gateway = c->gateway_capable;
	e->node_ip = c->node_ip;
	e->bcast = c->bcast;
	e->port = c->port ? c->port : ELECTION_PORT;
	e->interval_ns = c->interval_ns ? c->interval_ns : DEF_INTERVAL_NS;
	e->dead_ns = c->dead_ns ? c->dead_ns : DEF_DEAD_NS;
	if (e->dead_ns <= 2 * e->interval_ns) {
		err = -EINVAL;
		goto err;
	}
	e->adv = c->adv;
	e->on_change = c->on_change;
	e->ctx = c->ctx;
	election_derive_key(c->key, c->key_len, e->key);
	if (c->n_peers) {
		e->dsts = calloc(c->n_peers, sizeof(*e->dsts));
		if (!e->dsts) {
			err = -ENOMEM;
			goto err;
		}
		memcpy(e->dsts, c->peers, c->n_peers * sizeof(*e->dsts));
		e->n_dsts = c->n_peers;
	}
	if (c->origin && strlen(c->origin) >= sizeof(e->origin)) {
		err = -EINVAL;
		goto err;
	}
	snprintf(e->origin, sizeof(e->origin), "%s", c->origin ? c->origin : "");
	if (c->state_dir) {
		if (snprintf(e->state_path, sizeof(e->state_path), "%s/%s", c->state_dir,
			     STATE_FILE) >= (int)sizeof(e->state_path)) {
			err = -ENAMETOOLONG;
			goto err;
		}
		err = util_mkdir_p(c->state_dir, 0700);
		if (err)
			goto err;
	}
	if (e->state_path[0]) {
		struct election_state st;

		err = election_state_read(e->state_path, e->origin[0] ? e->origin : NULL, e->dead_ns,
					  &st, &fresh);
		if (err)
			goto err;
		e->max_epoch = st.epoch;
		seq = st.seq;
		was_active = st.active;
	}
	e->seq = util_realtime_ns();
	if (seq > e->seq)
		e->seq = seq;
	do {
		err = util_random(&e->boot, sizeof(e->boot));
		if (err)
			goto err;
	} while (!e->boot);
	e->self_hash = election_name_hash(e->node);
	e->learning = e->max_epoch == 0;
	e->seq_hw = e->seq + SEQ_RESERVE;
	e->now = now;
	e->next_send = now;
	if (was_active && fresh && e->gateway) {
		e->role = ROLE_ACTIVE;
		e->epoch = e->max_epoch;
		pr_info("election: %s reclaims the active role, epoch %" PRIu64 " (restart)\n",
			e->node, e->epoch);
	} else {
		e->role = ROLE_LISTEN;
		e->listen_until = now + e->dead_ns;
	}
	e->seen_role = ROLE_LISTEN;
	/* also reserves the sequence numbers before the first one is sent */
	err = state_write(e);
	if (err)
		goto err;
	e->changed = true;
	return e;
err:
	free(e->dsts);
	explicit_bzero(e->key, sizeof(e->key));
	free(e);
	errno = -err;
	return NULL;
}

struct election *election_open_nosock(const struct election_cfg *cfg, uint64_t now_ns)
{
	return create(cfg, now_ns);
}

struct election *election_open(const struct election_cfg *cfg, uint64_t now_ns)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct election *e = create(cfg, now_ns);
	int one = 1, err;

	if (!e)
		return NULL;
	e->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (e->fd < 0)
		goto err;
	/* Broadcasts reach only sockets bound to the wildcard (or the broadcast address);
	 * with static peers only, bind to the node address so that several instances can
	 * share a host (tests). The source of what we send is set per datagram (IP_PKTINFO). */
	sa.sin_port = htons(e->port);
	sa.sin_addr.s_addr = e->bcast ? htonl(INADDR_ANY) : htonl(e->node_ip);
	if (setsockopt(e->fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) < 0 ||
	    setsockopt(e->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(e->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto err;
	/* The listen window starts when we can hear: writing the state file may have taken a
	 * while on a busy node (fsync), and heartbeats sent meanwhile never reached us. */
	{
		uint64_t bound = util_now_ns();

		if (e->role == ROLE_LISTEN && bound > now_ns)
			e->listen_until += bound - now_ns;
	}
	return e;
err:
	err = errno;
	pr_err("open election socket on port %u: %s\n", e->port, strerror(err));
	election_close(e);
	errno = err;
	return NULL;
}

void election_close(struct election *e)
{
	if (!e)
		return;
	if (e->fd >= 0)
		close(e->fd);
	free(e->dsts);
	explicit_bzero(e->key, sizeof(e->key));
	free(e);
}

int election_fd(const struct election *e)
{
	return e->fd;
}

void election_set_send_hook(struct election *e,
			    void (*fn)(void *ctx, const struct election_msg *m), void *ctx)
{
	e->hook = fn;
	e->hook_ctx = ctx;
}

void election_get_drops(const struct election *e, struct election_drops *out)
{
	*out = e->drops;
}

uint64_t election_boot(const struct election *e)
{
	return e->boot;
}

void election_force_claim(struct election *e, uint64_t epoch, uint64_t now_ns)
{
	e->role = ROLE_ACTIVE;
	e->epoch = epoch;
	if (epoch > e->max_epoch)
		e->max_epoch = epoch;
	e->next_send = now_ns;
	e->changed = true;
}

/* ---- the peer table and the rules ---- */

/* True when a (epoch, name) claim beats b: higher epoch, then lower name. */
static bool claim_beats(uint64_t ea, const char *na, uint64_t eb, const char *nb)
{
	if (ea != eb)
		return ea > eb;
	return strcmp(na, nb) < 0;
}

/* The winning alive claimant among the peers (not self), or NULL. */
const struct peer *election_best_claimant(const struct election *e)
{
	const struct peer *best = NULL;

	for (unsigned i = 0; i < ELECTION_MAX_PEERS; i++) {
		const struct peer *p = &e->peers[i];

		if (!p->used || !p->alive || !(p->flags & ELECTION_F_ACTIVE))
			continue;
		if (!best || claim_beats(p->epoch, p->node, best->epoch, best->node))
			best = p;
	}
	return best;
}

/* True when self is the lowest-named alive gateway-capable node. */
static bool self_is_first_candidate(const struct election *e)
{
	for (unsigned i = 0; i < ELECTION_MAX_PEERS; i++) {
		const struct peer *p = &e->peers[i];

		if (p->used && p->alive && (p->flags & ELECTION_F_GATEWAY) &&
		    strcmp(p->node, e->node) < 0)
			return false;
	}
	return true;
}

void election_raise_epoch(struct election *e, uint64_t ep)
{
	if (ep <= e->max_epoch)
		return;
	e->max_epoch = ep;
	(void)state_write(e);
}

static void become(struct election *e, enum role r, uint64_t now)
{
	e->role = r;
	(void)state_write(e);
	e->next_send = now;	/* tell the others at once */
	e->changed = true;
}

static uint64_t peer_dead_ns(const struct election *e, const struct peer *p)
{
	return (p->flags & ELECTION_F_RESTART) ? ELECTION_RESTART_GRACE_NS : e->dead_ns;
}

static void apply_rules(struct election *e, uint64_t now)
{
	const struct peer *best;

	for (unsigned i = 0; i < ELECTION_MAX_PEERS; i++) {
		struct peer *p = &e->peers[i];

		if (p->used && p->alive && now - p->last_ns >= peer_dead_ns(e, p)) {
			p->alive = false;
			e->changed = true;
			pr_info("election: %s lost %s (%s)\n", e->node, p->node,
				(p->flags & ELECTION_F_ACTIVE) ? "the active gateway" : "silent");
		}
	}
	if (e->role == ROLE_LISTEN && now >= e->listen_until && e->learning) {
		e->learning = false;	/* from now on, epochs only grow within the bound */
		if (election_epoch_learn(e, now))
			e->listen_until = now + 2 * e->interval_ns;
	}
	if (e->role == ROLE_LISTEN && now >= e->listen_until) {
		e->role = ROLE_STANDBY;
		e->changed = true;
	}
	best = election_best_claimant(e);
	if (e->role == ROLE_ACTIVE && best &&
	    claim_beats(best->epoch, best->node, e->epoch, e->node)) {
		pr_info("election: %s steps down: %s is active with epoch %" PRIu64 " (ours %" PRIu64 ")\n",
			e->node, best->node, best->epoch, e->epoch);
		become(e, ROLE_STANDBY, now);
	}
	if (e->role == ROLE_STANDBY && e->gateway && !best && self_is_first_candidate(e) &&
	    e->max_epoch >= ELECTION_EPOCH_MAX) {
		unsigned sup;

		if (election_ratelog_ok(&e->log_epoch, now, &sup))
			pr_err("election: %s cannot claim: epoch %" PRIu64 " is the largest there is\n",
			       e->node, e->max_epoch);
	} else if (e->role == ROLE_STANDBY && e->gateway && !best && self_is_first_candidate(e)) {
		e->epoch = e->max_epoch + 1;
		e->max_epoch = e->epoch;
		pr_info("election: %s becomes the active gateway, epoch %" PRIu64 "\n",
			e->node, e->epoch);
		become(e, ROLE_ACTIVE, now);
	}
}

static bool adv_eq(const struct election_adv *a, const struct election_adv *b)
{
	return a->health_ip == b->health_ip && a->vtep_ip == b->vtep_ip &&
	       !memcmp(a->vtep_mac, b->vtep_mac, sizeof(a->vtep_mac)) &&
	       a->pod_net == b->pod_net && a->pod_prefix == b->pod_prefix &&
	       a->private_ip == b->private_ip && a->tunnel_mtu == b->tunnel_mtu &&
	       a->n_routes == b->n_routes &&
	       !memcmp(a->route_net, b->route_net, a->n_routes * sizeof(a->route_net[0])) &&
	       !memcmp(a->route_prefix, b->route_prefix, a->n_routes);
}

static void build_msg(const struct election *e, struct election_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->flags = (e->gateway ? ELECTION_F_GATEWAY : 0) |
		   (e->role == ROLE_ACTIVE ? ELECTION_F_ACTIVE : 0) |
		   (e->restarting ? ELECTION_F_RESTART : 0);
	m->epoch = e->role == ROLE_ACTIVE ? e->epoch : e->max_epoch;
	m->seq = e->seq;
	strcpy(m->cluster_id, e->cluster_id);
	strcpy(m->node, e->node);
	m->adv = e->adv;
}

static void send_to(struct election *e, const uint8_t *buf, size_t len, uint32_t dst)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(e->port),
				  .sin_addr.s_addr = htonl(dst) };
	union {
		char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr align;
	} cb;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = &iov,
			     .msg_iovlen = 1 };
	unsigned sup;

	if (e->node_ip && e->bcast) {
		struct cmsghdr *cm;
		struct in_pktinfo pi = { .ipi_spec_dst.s_addr = htonl(e->node_ip) };

		memset(&cb, 0, sizeof(cb));
		mh.msg_control = cb.buf;
		mh.msg_controllen = sizeof(cb.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	}
	if (sendmsg(e->fd, &mh, 0) < 0 && election_ratelog_ok(&e->log_send, e->now, &sup)) {
		char a[INET_ADDRSTRLEN];

		pr_warn("send heartbeat to %s: %s (%u more not logged)\n", ip_str(dst, a),
			strerror(errno), sup);
	}
}

static void send_heartbeat(struct election *e, uint64_t now)
{
	struct election_msg m;
	uint8_t buf[ELECTION_MSG_MAX];
	int len;

	if (e->seq >= e->seq_hw) {
		e->seq_hw = e->seq + SEQ_RESERVE;
		if (state_write(e))
			return;	/* never send a sequence number a restart could reuse */
	}
	build_msg(e, &m);
	election_fresh_fill(e, &m, now);
	e->last_send_ns = now;
	e->seq++;
	if (e->hook)
		e->hook(e->hook_ctx, &m);
	if (e->fd >= 0) {
		len = election_msg_encode(&m, e->key, sizeof(e->key), buf, sizeof(buf));
		if (len < 0) {
			pr_err("encode heartbeat: %s\n", strerror(-len));
		} else {
			if (e->bcast)
				send_to(e, buf, (size_t)len, e->bcast);
			for (unsigned i = 0; i < e->n_dsts; i++)
				if (e->dsts[i] != e->node_ip)
					send_to(e, buf, (size_t)len, e->dsts[i]);
		}
	}
	state_touch(e);
	if (now - e->next_send < e->interval_ns)
		e->next_send += e->interval_ns;
	else
		e->next_send = now + e->interval_ns;
}

static void snapshot_active(const struct election *e, char *name, uint64_t *ep,
			    struct election_adv *adv)
{
	const struct peer *best = election_best_claimant(e);

	name[0] = '\0';
	*ep = 0;
	memset(adv, 0, sizeof(*adv));
	if (e->role == ROLE_ACTIVE) {
		strcpy(name, e->node);
		*ep = e->epoch;
		*adv = e->adv;
	} else if (best) {
		strcpy(name, best->node);
		*ep = best->epoch;
		*adv = best->adv;
	}
}

/* Rules, heartbeat when due, notification. */
static void run(struct election *e, uint64_t now)
{
	char name[ELECTION_NAME_MAX + 1];
	struct election_adv adv;
	uint64_t ep;

	e->now = now;
	apply_rules(e, now);
	if ((int64_t)(now - e->next_send) >= 0)
		send_heartbeat(e, now);
	snapshot_active(e, name, &ep, &adv);
	if (strcmp(name, e->seen_active) || ep != e->seen_epoch ||
	    !adv_eq(&adv, &e->seen_adv) || e->role != e->seen_role) {
		strcpy(e->seen_active, name);
		e->seen_epoch = ep;
		e->seen_adv = adv;
		e->seen_role = e->role;
		e->changed = true;
	}
	if (e->changed) {
		e->changed = false;
		e->gen++;
		if (e->on_change)
			e->on_change(e->ctx);
	}
}

static struct peer *peer_slot(struct election *e, const char *node, uint64_t now)
{
	struct peer *free_slot = NULL, *oldest_dead = NULL;
	unsigned sup;

	for (unsigned i = 0; i < ELECTION_MAX_PEERS; i++) {
		struct peer *p = &e->peers[i];

		if (!p->used) {
			if (!free_slot)
				free_slot = p;
			continue;
		}
		if (!strcmp(p->node, node))
			return p;
		if (!p->alive && (!oldest_dead || p->last_ns < oldest_dead->last_ns))
			oldest_dead = p;
	}
	if (!free_slot && oldest_dead) {
		/* forgetting a dead node forgets its sequence number too: a replay of its
		 * heartbeats would make it look alive for dead_ns at most */
		memset(oldest_dead, 0, sizeof(*oldest_dead));
		free_slot = oldest_dead;
	}
	if (!free_slot && election_ratelog_ok(&e->log_full, now, &sup))
		pr_warn("election: peer table full (%d), %s ignored (%u more not logged)\n",
			ELECTION_MAX_PEERS, node, sup);
	return free_slot;
}

static void input(struct election *e, const struct election_msg *m, uint32_t src, uint64_t now)
{
	struct peer *p;
	unsigned sup;

	if (strcmp(m->cluster_id, e->cluster_id)) {
		e->drops.other_cluster++;
		return;
	}
	if (!strcmp(m->node, e->node)) {
		e->drops.self_echo++;
		if (src != e->node_ip && election_ratelog_ok(&e->log_dup, now, &sup)) {
			char a[INET_ADDRSTRLEN];

			pr_warn("election: heartbeat from %s uses our node name %s (%u more not logged)\n",
				ip_str(src, a), m->node, sup);
		}
		return;
	}
	p = peer_slot(e, m->node, now);
	if (!p)
		return;
	if (!p->used) {
		p->used = true;
		strcpy(p->node, m->node);
	}
	if (!election_fresh_accept(e, p, m, now))
		return;
	p->heard_epoch = m->epoch;
	p->heard_ns = now;
	if (election_epoch_refused(e, m, now))
		return;
	if (!p->alive || p->flags != m->flags || p->epoch != m->epoch ||
	    !adv_eq(&p->adv, &m->adv))
		e->changed = true;
	if (!p->alive)
		pr_info("election: %s hears %s%s\n", e->node, m->node,
			(m->flags & ELECTION_F_ACTIVE) ? " (active)" : "");
	p->alive = true;
	p->flags = m->flags;
	p->epoch = m->epoch;
	p->seq = m->seq;
	p->src = src;
	p->last_ns = now;
	p->adv = m->adv;
	election_raise_epoch(e, m->epoch);
}

void election_input(struct election *e, const struct election_msg *m, uint32_t src,
		    uint64_t now_ns)
{
	input(e, m, src, now_ns);
	run(e, now_ns);
}

void election_on_readable(struct election *e, uint64_t now_ns)
{
	uint8_t buf[ELECTION_MSG_MAX];
	struct election_msg m;

	if (e->fd < 0)
		return;
	for (int i = 0; i < 1024; i++) {
		struct sockaddr_in sa;
		socklen_t sl = sizeof(sa);
		ssize_t n = recvfrom(e->fd, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&sa, &sl);
		uint32_t src;
		unsigned sup;
		int err;

		if (n < 0)
			break;	/* EAGAIN, or an error queued by an earlier send */
		src = ntohl(sa.sin_addr.s_addr);
		if ((size_t)n > sizeof(buf)) {
			e->drops.malformed++;
			continue;
		}
		err = election_msg_decode(buf, (size_t)n, &m);
		if (err == -EPROTONOSUPPORT) {
			e->drops.version++;
			if (election_ratelog_ok(&e->log_version, now_ns, &sup)) {
				char a[INET_ADDRSTRLEN];

				pr_warn("election: heartbeat from %s has version %u, want 1 (%u more not logged)\n",
					ip_str(src, a), buf[4], sup);
			}
			continue;
		}
		if (err) {
			e->drops.malformed++;
			continue;
		}
		if (strcmp(m.cluster_id, e->cluster_id)) {
			e->drops.other_cluster++;	/* another cluster on the same network */
			continue;
		}
		if (election_msg_verify(buf, (size_t)n, e->key, sizeof(e->key))) {
			e->drops.bad_mac++;
			if (election_ratelog_ok(&e->log_mac, now_ns, &sup)) {
				char a[INET_ADDRSTRLEN];

				pr_warn("election: drop heartbeat from %s (%s): bad HMAC, wrong cluster key? (%u more not logged)\n",
					ip_str(src, a), m.node, sup);
			}
			continue;
		}
		input(e, &m, src, now_ns);
	}
	run(e, now_ns);
}

uint64_t election_tick(struct election *e, uint64_t now_ns)
{
	uint64_t next;

	run(e, now_ns);
	next = e->next_send;
	if (e->role == ROLE_LISTEN && e->listen_until < next)
		next = e->listen_until;
	for (unsigned i = 0; i < ELECTION_MAX_PEERS; i++) {
		const struct peer *p = &e->peers[i];

		if (p->used && p->alive && p->last_ns + peer_dead_ns(e, p) < next)
			next = p->last_ns + peer_dead_ns(e, p);
	}
	return next > now_ns ? next - now_ns : 0;
}

int election_set_min_epoch(struct election *e, uint64_t min)
{
	if (min >= ELECTION_EPOCH_MAX)
		return -ERANGE;	/* no claim could ever follow it */
	if (min <= e->max_epoch && !(e->role == ROLE_ACTIVE && e->epoch <= min))
		return 0;
	if (min > e->max_epoch)
		e->max_epoch = min;
	if (e->role == ROLE_ACTIVE && e->epoch <= min) {
		e->epoch = min + 1;
		e->max_epoch = e->epoch;
		pr_info("election: %s raises its epoch to %" PRIu64 "\n", e->node, e->epoch);
		e->next_send = e->now;
		e->changed = true;
	}
	return state_write(e);
}

void election_resign(struct election *e, uint64_t now_ns)
{
	e->gateway = false;
	if (e->role == ROLE_ACTIVE) {
		pr_info("election: %s resigns the active role, epoch %" PRIu64 "\n", e->node, e->epoch);
		e->max_epoch = e->epoch;
		become(e, ROLE_STANDBY, now_ns);
	}
	e->next_send = now_ns;
	run(e, now_ns);
}

void election_peer_lost(struct election *e, const char *node, uint64_t now_ns)
{
	for (unsigned i = 0; i < ELECTION_MAX_PEERS; i++) {
		struct peer *p = &e->peers[i];

		if (!p->used || !p->alive || strcmp(p->node, node) || (p->flags & ELECTION_F_RESTART))
			continue;
		p->alive = false;
		e->changed = true;
		pr_info("election: %s lost %s (no liveness probes)\n", e->node, p->node);
	}
	run(e, now_ns);
}

void election_set_adv(struct election *e, const struct election_adv *adv)
{
	if (adv_eq(&e->adv, adv))
		return;
	e->adv = *adv;
	e->next_send = e->now;
	e->changed = true;
}

void election_restarting(struct election *e, uint64_t now_ns)
{
	if (e->restarting)
		return;
	e->restarting = true;
	if (e->role == ROLE_ACTIVE)
		pr_info("election: %s restarting; the others hold on for %llu s\n", e->node,
			(unsigned long long)(ELECTION_RESTART_GRACE_NS / NSEC_PER_SEC));
	(void)state_write(e);
	e->next_send = now_ns;
	run(e, now_ns);
}
