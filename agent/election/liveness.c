/* Fast failure detection of the active gateway (see liveness.h).
 *
 * The probe, version 1, integers in network byte order:
 *   0  u32 magic "SAlv"   4  u8 version (1)   5  u8 flags (bit 0 active, bit 1 restarting)
 *   6  u8 cluster ID length (1..63)           7  u8 node name length (1..253)
 *   8  u64 epoch         16  u64 sequence
 *  24  cluster ID, node name; then HMAC-SHA256 over every byte before it (32 bytes).
 * The datagram's length must be exactly that. */
#include "agent/election/liveness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "common/log.h"
#include "common/name.h"
#include "common/util.h"

#define MSG_MAGIC	0x53416c76u	/* "SAlv" */
#define MSG_VERSION	1
#define MSG_FIXED	24
#define MSG_MAC		32
#define LV_PEERS	64		/* probe senders remembered */
#define LV_TARGETS	64

struct lv_peer {
	char node[ELECTION_NAME_MAX + 1];
	bool used, lost;
	uint8_t flags;
	uint64_t epoch, seq;
	uint64_t last_ns;		/* arrival of its last probe (our monotonic clock) */
	uint64_t lost_ns;		/* when it was declared lost */
};

struct liveness {
	int fd;
	char cluster_id[ELECTION_ID_MAX + 1];
	char node[ELECTION_NAME_MAX + 1];
	uint32_t node_ip;
	uint16_t port;
	uint64_t interval_ns;
	uint64_t base_ns, limit_ns, max_ns;	/* the detection time: now, at best, at worst */
	uint64_t calm_until;		/* no false alarm since: the detection time may shrink */
	uint8_t key[32];
	uint64_t seq, next_send;
	bool restarting;
	struct lv_peer peers[LV_PEERS];
	uint64_t drops;
};

static void put32(uint8_t *p, uint32_t v) { v = htonl(v); memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)(v >> 32)); put32(p + 4, (uint32_t)v); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return ntohl(v); }
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }

void liveness_derive_key(const uint8_t *secret, size_t len, uint8_t out[32])
{
	static const char label[] = "subagent liveness v1";

	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, secret, len, label, sizeof(label) - 1, out) < 0)
		memset(out, 0, 32);
}

int liveness_msg_encode(const struct liveness_msg *m, const uint8_t key[32], uint8_t *buf,
			size_t cap)
{
	size_t cl = strnlen(m->cluster_id, sizeof(m->cluster_id));
	size_t nl = strnlen(m->node, sizeof(m->node));
	size_t len = MSG_FIXED + cl + nl;

	if (!name_is_safe(m->cluster_id, cl, ELECTION_ID_MAX) ||
	    !name_is_safe(m->node, nl, ELECTION_NAME_MAX))
		return -EINVAL;
	if (cap < len + MSG_MAC)
		return -EMSGSIZE;
	put32(buf, MSG_MAGIC);
	buf[4] = MSG_VERSION;
	buf[5] = m->flags & (LIVENESS_F_ACTIVE | LIVENESS_F_RESTART);
	buf[6] = (uint8_t)cl;
	buf[7] = (uint8_t)nl;
	put64(buf + 8, m->epoch);
	put64(buf + 16, m->seq);
	memcpy(buf + MSG_FIXED, m->cluster_id, cl);
	memcpy(buf + MSG_FIXED + cl, m->node, nl);
	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, 32, buf, len, buf + len) < 0)
		return -EIO;
	return (int)(len + MSG_MAC);
}

int liveness_msg_decode(const uint8_t *buf, size_t len, const uint8_t key[32],
			struct liveness_msg *m)
{
	uint8_t mac[MSG_MAC], diff = 0;
	size_t cl, nl;

	if (len < MSG_FIXED + 2 + MSG_MAC || get32(buf) != MSG_MAGIC)
		return -EINVAL;
	if (buf[4] != MSG_VERSION)
		return -EPROTONOSUPPORT;
	cl = buf[6];
	nl = buf[7];
	if (!cl || cl > ELECTION_ID_MAX || !nl || nl > ELECTION_NAME_MAX ||
	    len != MSG_FIXED + cl + nl + MSG_MAC)
		return -EINVAL;
	if (!name_is_safe((const char *)buf + MSG_FIXED, cl, ELECTION_ID_MAX) ||
	    !name_is_safe((const char *)buf + MSG_FIXED + cl, nl, ELECTION_NAME_MAX))
		return -EINVAL;
	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, 32, buf, len - MSG_MAC, mac) < 0)
		return -EBADMSG;
	for (size_t i = 0; i < MSG_MAC; i++)
		diff |= mac[i] ^ buf[len - MSG_MAC + i];
	if (diff)
		return -EBADMSG;
	memset(m, 0, sizeof(*m));
	m->flags = buf[5] & (LIVENESS_F_ACTIVE | LIVENESS_F_RESTART);
	m->epoch = get64(buf + 8);
	m->seq = get64(buf + 16);
	memcpy(m->cluster_id, buf + MSG_FIXED, cl);
	memcpy(m->node, buf + MSG_FIXED + cl, nl);
	return 0;
}

struct liveness *liveness_open(const struct liveness_cfg *c)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct liveness *l;
	int one = 1, err;

	if (!c->cluster_id || !name_is_safe(c->cluster_id, strlen(c->cluster_id), ELECTION_ID_MAX) ||
	    !c->node || !name_is_safe(c->node, strlen(c->node), ELECTION_NAME_MAX) ||
	    !c->node_ip || !c->key || c->key_len < 16) {
		errno = EINVAL;
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	strcpy(l->cluster_id, c->cluster_id);
	strcpy(l->node, c->node);
	l->node_ip = c->node_ip;
	l->port = c->port ? c->port : LIVENESS_PORT;
	l->interval_ns = c->interval_ns ? c->interval_ns : LIVENESS_INTERVAL_NS;
	l->base_ns = l->limit_ns = l->interval_ns * (c->multiplier ? c->multiplier : LIVENESS_MULT);
	l->max_ns = l->interval_ns * LIVENESS_MAX_MULT;
	if (l->max_ns < l->base_ns)
		l->max_ns = l->base_ns;
	liveness_derive_key(c->key, c->key_len, l->key);
	/* A restarted sender is newer than its old probes (they stay replays). */
	l->seq = util_realtime_ns();
	l->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		goto err;
	sa.sin_port = htons(l->port);
	sa.sin_addr.s_addr = htonl(l->node_ip);
	if (setsockopt(l->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0 ||
	    setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto err;
	return l;
err:
	err = errno;
	pr_err("open liveness socket on port %u: %s\n", l->port, strerror(err));
	liveness_close(l);
	errno = err;
	return NULL;
}

void liveness_close(struct liveness *l)
{
	if (!l)
		return;
	if (l->fd >= 0)
		close(l->fd);
	explicit_bzero(l->key, sizeof(l->key));
	free(l);
}

int liveness_fd(const struct liveness *l)
{
	return l->fd;
}

uint64_t liveness_detection_ns(const struct liveness *l)
{
	return l->limit_ns;
}

void liveness_restarting(struct liveness *l)
{
	l->restarting = true;
	l->next_send = 0;	/* say so at once */
}

static struct lv_peer *peer_slot(struct liveness *l, const char *node)
{
	struct lv_peer *free_slot = NULL, *oldest = NULL;

	for (unsigned i = 0; i < LV_PEERS; i++) {
		struct lv_peer *p = &l->peers[i];

		if (!p->used) {
			free_slot = free_slot ? free_slot : p;
			continue;
		}
		if (!strcmp(p->node, node))
			return p;
		if (!oldest || p->last_ns < oldest->last_ns)
			oldest = p;
	}
	if (!free_slot) {
		free_slot = oldest;
		memset(free_slot, 0, sizeof(*free_slot));
	}
	return free_slot;
}

/* When the datagram arrived, on our monotonic clock: the kernel stamped it (realtime) as
 * it came in, however late this thread got to run. */
static uint64_t arrival(const struct msghdr *mh, uint64_t now)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR((struct msghdr *)mh, c)) {
		struct timespec ts;
		uint64_t at, real;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS ||
		    c->cmsg_len < CMSG_LEN(sizeof(ts)))
			continue;
		memcpy(&ts, CMSG_DATA(c), sizeof(ts));
		at = (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
		real = util_realtime_ns();
		return real > at && real - at < now ? now - (real - at) : now;
	}
	return now;
}

void liveness_on_readable(struct liveness *l, uint64_t now)
{
	for (int i = 0; i < 256; i++) {
		uint8_t buf[LIVENESS_MSG_MAX];
		union {
			char b[CMSG_SPACE(sizeof(struct timespec))];
			struct cmsghdr align;
		} cb;
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.b,
				     .msg_controllen = sizeof(cb.b) };
		struct liveness_msg m;
		struct lv_peer *p;
		ssize_t n = recvmsg(l->fd, &mh, MSG_TRUNC);

		if (n < 0)
			break;
		if ((size_t)n > sizeof(buf) || liveness_msg_decode(buf, (size_t)n, l->key, &m) ||
		    strcmp(m.cluster_id, l->cluster_id) || !strcmp(m.node, l->node)) {
			l->drops++;
			continue;
		}
		p = peer_slot(l, m.node);
		if (p->used && m.seq <= p->seq) {
			l->drops++;	/* replayed or reordered */
			continue;
		}
		if (!p->used) {
			p->used = true;
			strcpy(p->node, m.node);
		}
		if (p->lost && now - p->lost_ns < LIVENESS_FLAP_NS) {
			/* It was not gone (a node that stalls, a VM that was descheduled): judge
			 * more slowly from now on, up to the heartbeats' pace; calm brings the
			 * detection time back down. */
			if (l->limit_ns < l->max_ns)
				l->limit_ns = l->limit_ns * 2 < l->max_ns ? l->limit_ns * 2 : l->max_ns;
			l->calm_until = now + LIVENESS_CALM_NS;
			pr_warn("liveness: %s was not gone (probes again after %llu ms): a standby now "
				"waits %llu ms without probes\n", m.node,
				(unsigned long long)((now - p->lost_ns) / NSEC_PER_MSEC),
				(unsigned long long)(l->limit_ns / NSEC_PER_MSEC));
		} else if (p->lost) {
			pr_info("liveness: probes from %s again\n", m.node);
		}
		p->lost = false;
		p->seq = m.seq;
		p->epoch = m.epoch;
		p->flags = m.flags;
		p->last_ns = arrival(&mh, now);
	}
}

static void send_probes(struct liveness *l, struct election *e, uint64_t now)
{
	struct election_peer peers[LV_TARGETS];
	struct liveness_msg m = { .flags = LIVENESS_F_ACTIVE, .epoch = election_epoch(e) };
	uint8_t buf[LIVENESS_MSG_MAX];
	unsigned n = election_peers(e, peers, LV_TARGETS);
	int len;

	if (l->restarting)
		m.flags |= LIVENESS_F_RESTART;
	m.seq = ++l->seq;
	strcpy(m.cluster_id, l->cluster_id);
	strcpy(m.node, l->node);
	len = liveness_msg_encode(&m, l->key, buf, sizeof(buf));
	if (len < 0)
		return;
	for (unsigned i = 0; i < n && i < LV_TARGETS; i++) {
		struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(l->port),
					  .sin_addr.s_addr = htonl(peers[i].src_ip) };

		if (peers[i].self || !peers[i].gateway_capable || !peers[i].src_ip)
			continue;
		(void)!sendto(l->fd, buf, (size_t)len, 0, (struct sockaddr *)&to, sizeof(to));
	}
	(void)now;
}

uint64_t liveness_tick(struct liveness *l, struct election *e, uint64_t now)
{
	struct election_peer a;
	uint64_t next = now + l->interval_ns;

	if (l->limit_ns > l->base_ns && now >= l->calm_until) {
		l->limit_ns = l->limit_ns / 2 > l->base_ns ? l->limit_ns / 2 : l->base_ns;
		l->calm_until = now + LIVENESS_CALM_NS;
	}
	/* The active gateway: is it still sending? */
	if (election_active_peer(e, &a) == 0 && !a.self) {
		struct lv_peer *p = NULL;

		for (unsigned i = 0; i < LV_PEERS && !p; i++)
			if (l->peers[i].used && !strcmp(l->peers[i].node, a.node))
				p = &l->peers[i];
		if (p && !p->lost && (p->flags & LIVENESS_F_ACTIVE) && p->epoch == a.epoch &&
		    !(p->flags & LIVENESS_F_RESTART)) {
			if (now - p->last_ns > l->limit_ns) {
				p->lost = true;
				p->lost_ns = now;
				pr_info("liveness: no probe from the active gateway %s for %llu ms: it is gone\n",
					a.node, (unsigned long long)((now - p->last_ns) / NSEC_PER_MSEC));
				election_peer_lost(e, a.node, now);
			} else if (p->last_ns + l->limit_ns + 1 < next) {
				next = p->last_ns + l->limit_ns + 1;
			}
		}
	}
	/* Ours, while we are the active gateway. */
	if (election_is_active(e)) {
		if ((int64_t)(now - l->next_send) >= 0) {
			send_probes(l, e, now);
			l->next_send = now - l->next_send < l->interval_ns ?
				       l->next_send + l->interval_ns : now + l->interval_ns;
		}
		if (l->next_send < next)
			next = l->next_send;
	}
	return next > now ? next - now : 0;
}
