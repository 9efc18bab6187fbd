/* Health checker: ICMP echo through the tunnel, one raw socket for every target. */
#include "agent/engine/health.h"

#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

#define MAX_TARGETS 64
#define RTT_WINDOW 32
#define PROBE_MAGIC 0x53416863u	/* "SAhc" */

struct target {
	char cluster[64];
	uint32_t src, dst;
	uint16_t id, seq;
	int awaiting;		/* the last probe has not been answered yet */
	uint64_t next_ns;
	struct health_stats st;
	uint64_t rtt[RTT_WINDOW];
	unsigned n_rtt, rtt_pos;
};

struct health {
	int fd;
	uint64_t interval_ns;
	struct target t[MAX_TARGETS];
	unsigned n;
	uint16_t next_id;
	bool changed;		/* a target's status changed since health_take_changed() */
};

struct probe_payload {
	uint32_t magic;
	uint32_t pad;
	uint64_t sent_ns;
};

const char *health_status_name(enum health_status s)
{
	switch (s) {
	case HEALTH_CONNECTED: return "connected";
	case HEALTH_ERROR:     return "error";
	default:               return "connecting";
	}
}

struct health *health_new(uint64_t interval_ns)
{
	struct health *h = calloc(1, sizeof(*h));
	int one = 1;

	if (!h)
		return NULL;
	h->interval_ns = interval_ns;
	h->fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (h->fd < 0)
		goto err;
	/* IP_PKTINFO lets each probe pick its source address. */
	if (setsockopt(h->fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0)
		goto err;
	if (util_random(&h->next_id, sizeof(h->next_id)))
		h->next_id = (uint16_t)getpid();
	return h;
err:
	{
		int e = errno;

		if (h->fd >= 0)
			close(h->fd);
		free(h);
		errno = e;
	}
	return NULL;
}

void health_free(struct health *h)
{
	if (!h)
		return;
	close(h->fd);
	free(h);
}

int health_fd(const struct health *h) { return h->fd; }

static struct target *find(const struct health *h, const char *cluster)
{
	for (unsigned i = 0; i < h->n; i++)
		if (!strcmp(h->t[i].cluster, cluster))
			return (struct target *)&h->t[i];
	return NULL;
}

int health_set_target(struct health *h, const char *cluster, uint32_t src, uint32_t dst)
{
	struct target *t = find(h, cluster);

	if (strlen(cluster) >= sizeof(t->cluster))
		return -EINVAL;
	if (t && t->src == src && t->dst == dst)
		return 0;
	if (!t) {
		if (h->n == MAX_TARGETS)
			return -ENOSPC;
		t = &h->t[h->n++];
	}
	memset(t, 0, sizeof(*t));
	strcpy(t->cluster, cluster);
	t->src = src;
	t->dst = dst;
	t->id = h->next_id++;
	return 0;
}

void health_kick(struct health *h, const char *cluster)
{
	struct target *t = find(h, cluster);

	if (t)
		t->next_ns = 0;
}

bool health_take_changed(struct health *h)
{
	bool c = h->changed;

	h->changed = false;
	return c;
}

void health_remove(struct health *h, const char *cluster)
{
	struct target *t = find(h, cluster);

	if (!t)
		return;
	*t = h->t[--h->n];
}

static void compute_stats(const struct target *t, struct health_stats *st)
{
	uint64_t min = UINT64_MAX, max = 0;
	double sum = 0, var = 0, avg;

	*st = t->st;
	if (!t->n_rtt)
		return;
	for (unsigned i = 0; i < t->n_rtt; i++) {
		uint64_t r = t->rtt[i];

		sum += (double)r;
		if (r < min)
			min = r;
		if (r > max)
			max = r;
	}
	avg = sum / t->n_rtt;
	for (unsigned i = 0; i < t->n_rtt; i++)
		var += ((double)t->rtt[i] - avg) * ((double)t->rtt[i] - avg);
	var /= t->n_rtt;
	st->min_ns = min;
	st->max_ns = max;
	st->avg_ns = (uint64_t)avg;
	/* integer square root of the variance, by Newton's method */
	{
		uint64_t v = (uint64_t)var, x = v, y = (x + 1) / 2;

		while (y < x) {
			x = y;
			y = (x + v / x) / 2;
		}
		st->stddev_ns = v ? x : 0;
	}
}

int health_get(const struct health *h, const char *cluster, struct health_stats *out)
{
	const struct target *t = find(h, cluster);

	if (!t)
		return -ENOENT;
	compute_stats(t, out);
	return 0;
}

static void send_probe(struct health *h, struct target *t, uint64_t now)
{
	struct {
		struct icmphdr icmp;
		struct probe_payload p;
	} pkt = { 0 };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(t->dst) };
	char cbuf[CMSG_SPACE(sizeof(struct in_pktinfo))] = { 0 };
	struct iovec iov = { .iov_base = &pkt, .iov_len = sizeof(pkt) };
	struct msghdr msg = { .msg_name = &to, .msg_namelen = sizeof(to), .msg_iov = &iov,
			      .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	struct in_pktinfo pi = { .ipi_spec_dst.s_addr = htonl(t->src) };

	if (t->awaiting) {
		/* the previous probe went unanswered for a whole interval */
		t->st.lost_in_row++;
		if (t->st.lost_in_row >= HEALTH_LOSS_LIMIT && t->st.status != HEALTH_ERROR) {
			t->st.status = HEALTH_ERROR;
			h->changed = true;
			pr_warn("health %s: %u probes lost in a row, status error\n", t->cluster,
				t->st.lost_in_row);
		}
	}
	cm->cmsg_level = IPPROTO_IP;
	cm->cmsg_type = IP_PKTINFO;
	cm->cmsg_len = CMSG_LEN(sizeof(pi));
	memcpy(CMSG_DATA(cm), &pi, sizeof(pi));

	pkt.icmp.type = ICMP_ECHO;
	pkt.icmp.un.echo.id = htons(t->id);
	pkt.icmp.un.echo.sequence = htons(++t->seq);
	pkt.p.magic = htonl(PROBE_MAGIC);
	pkt.p.sent_ns = now;
	pkt.icmp.checksum = util_inet_csum(&pkt, sizeof(pkt));
	t->awaiting = 1;
	t->st.sent++;
	if (sendmsg(h->fd, &msg, MSG_DONTWAIT) < 0)
		pr_debug("health %s: send: %s\n", t->cluster, strerror(errno));
}

uint64_t health_tick(struct health *h, uint64_t now)
{
	uint64_t wait = h->interval_ns;

	for (unsigned i = 0; i < h->n; i++) {
		struct target *t = &h->t[i];

		if (now >= t->next_ns) {
			send_probe(h, t, now);
			t->next_ns = now + h->interval_ns;
		}
		if (t->next_ns - now < wait)
			wait = t->next_ns - now;
	}
	return wait;
}

int health_parse_reply(const uint8_t *pkt, size_t len, uint16_t *id, uint16_t *seq,
		       uint64_t *sent_ns)
{
	struct icmphdr icmp;
	struct probe_payload p;
	size_t ihl;

	if (len < sizeof(struct iphdr))
		return -EINVAL;
	if ((pkt[0] >> 4) != 4)
		return -EINVAL;
	ihl = (size_t)(pkt[0] & 0x0f) * 4;
	if (ihl < sizeof(struct iphdr) || len < ihl + sizeof(icmp) + sizeof(p))
		return -EINVAL;
	memcpy(&icmp, pkt + ihl, sizeof(icmp));
	memcpy(&p, pkt + ihl + sizeof(icmp), sizeof(p));
	if (icmp.type != ICMP_ECHOREPLY || icmp.code != 0 || ntohl(p.magic) != PROBE_MAGIC)
		return -EINVAL;
	*id = ntohs(icmp.un.echo.id);
	*seq = ntohs(icmp.un.echo.sequence);
	*sent_ns = p.sent_ns;
	return 0;
}

void health_on_readable(struct health *h, uint64_t now)
{
	uint8_t buf[512];

	for (;;) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(h->fd, buf, sizeof(buf), MSG_DONTWAIT,
				     (struct sockaddr *)&from, &fl);
		uint16_t id, seq;
		uint64_t sent;
		struct target *t = NULL;

		if (n < 0)
			return;
		if (health_parse_reply(buf, (size_t)n, &id, &seq, &sent))
			continue;
		for (unsigned i = 0; i < h->n; i++)
			if (h->t[i].id == id && h->t[i].dst == ntohl(from.sin_addr.s_addr))
				t = &h->t[i];
		/* Only the answer to the latest probe counts; the timestamp is our own. */
		if (!t || seq != t->seq || !t->awaiting || sent > now)
			continue;
		t->awaiting = 0;
		t->st.received++;
		t->st.last_ns = now - sent;
		t->rtt[t->rtt_pos] = t->st.last_ns;
		t->rtt_pos = (t->rtt_pos + 1) % RTT_WINDOW;
		if (t->n_rtt < RTT_WINDOW)
			t->n_rtt++;
		if (t->st.status != HEALTH_CONNECTED) {
			pr_info("health %s: replies arrive, status connected (rtt %llu us)\n",
				t->cluster, (unsigned long long)(t->st.last_ns / 1000));
			h->changed = true;
		}
		t->st.status = HEALTH_CONNECTED;
		t->st.lost_in_row = 0;
	}
}
