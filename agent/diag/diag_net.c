/* Diagnose: the node's network against the remote clusters. Routes and addresses that
 * overlap a remote cluster's subnets (and clusters that overlap each other without
 * globalnet); the path MTU to every remote cluster, probed with DF-marked ICMP echo
 * (through the tunnel to the remote gateway's health-check IP, and on the gateway also
 * under it, to the remote gateway's own address), against the MTU the route promises. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

#include "agent/diag/diag_int.h"
#include "agent/diag/diag_net.h"
#include "common/json.h"
#include "common/util.h"

/* Tables and devices that are subagent's own (agent/routing, agent/cable), and charon's. */
static bool ours(uint32_t table, const char *dev)
{
	return table == 150 || table == 151 || table == 220 || table == 255 ||
	       !strcmp(dev, "sa-vxr") || !strcmp(dev, "sa-vx0") || !strcmp(dev, "ipsec0");
}

static const struct sa_endpoint *overlapping(struct diag_ctx *c, const struct cidr4 *x,
					     struct cidr4 *sub)
{
	for (unsigned i = 0; i < c->n_remotes; i++)
		for (unsigned j = 0; j < c->remotes[i].n_subnets; j++)
			if (cidr4_overlap(x, &c->remotes[i].subnets[j])) {
				*sub = c->remotes[i].subnets[j];
				return &c->remotes[i];
			}
	return NULL;
}

static bool nl_to_cidr(struct nl_addr *a, struct cidr4 *out)
{
	uint32_t v;

	if (!a || nl_addr_get_family(a) != AF_INET || nl_addr_get_len(a) != 4)
		return false;
	memcpy(&v, nl_addr_get_binary_addr(a), 4);
	out->len = (uint8_t)nl_addr_get_prefixlen(a);
	out->addr = ntohl(v) & cidr4_mask(out->len);
	return true;
}

void diag_check_routes(struct diag_ctx *c)
{
	static const char *hint = "a route or address of this node covers a remote cluster's "
		"CIDR: traffic from this node (host network) goes there instead of the tunnel; "
		"remove it, or join the clusters with globalnet";
	struct nl_sock *sk = NULL;
	struct nl_cache *routes = NULL, *addrs = NULL, *links = NULL;
	char a[CIDR4_STRLEN], b[CIDR4_STRLEN];
	int bad = 0;

	if (!c->n_remotes) {
		diag_add(c, "routes", "", DIAG_SKIP, NULL, "no remote cluster known");
		return;
	}
	/* clusters that overlap each other need globalnet (the broker refuses them without) */
	for (size_t i = 0; !c->cfg.n_global_cidrs && i < c->cfg.n_cluster_cidrs + c->cfg.n_service_cidrs; i++) {
		const struct cidr4 *l = i < c->cfg.n_cluster_cidrs ? &c->cfg.cluster_cidrs[i] :
					&c->cfg.service_cidrs[i - c->cfg.n_cluster_cidrs];
		struct cidr4 sub;
		const struct sa_endpoint *ep = overlapping(c, l, &sub);

		if (ep) {
			cidr4_format(l, a);
			cidr4_format(&sub, b);
			diag_add(c, "routes", ep->cluster_id, DIAG_FAIL,
				 "clusters with overlapping CIDRs need globalnet (deploy-broker --globalnet, join again)",
				 "this cluster's %s overlaps %s's %s", a, ep->cluster_id, b);
			bad++;
		}
	}
	sk = nl_socket_alloc();
	if (!sk || nl_connect(sk, NETLINK_ROUTE) || rtnl_route_alloc_cache(sk, AF_INET, 0, &routes) ||
	    rtnl_addr_alloc_cache(sk, &addrs) || rtnl_link_alloc_cache(sk, AF_INET, &links)) {
		diag_add(c, "routes", "", DIAG_WARN, NULL, "cannot read the routing tables");
		goto out;
	}
	for (struct nl_object *o = nl_cache_get_first(routes); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *r = (struct rtnl_route *)o;
		struct rtnl_nexthop *nh = rtnl_route_nexthop_n(r, 0);
		char dev[IFNAMSIZ] = "";
		struct cidr4 dst, sub;
		const struct sa_endpoint *ep;

		if (nh)
			rtnl_link_i2name(links, rtnl_route_nh_get_ifindex(nh), dev, sizeof(dev));
		if (!nl_to_cidr(rtnl_route_get_dst(r), &dst) || !dst.len ||
		    ours(rtnl_route_get_table(r), dev) || !(ep = overlapping(c, &dst, &sub)))
			continue;
		cidr4_format(&dst, a);
		cidr4_format(&sub, b);
		diag_add(c, "routes", ep->cluster_id, DIAG_FAIL, hint, "route %s%s%s (table %u) overlaps %s's %s",
			 a, dev[0] ? " dev " : "", dev, rtnl_route_get_table(r), ep->cluster_id, b);
		bad++;
	}
	for (struct nl_object *o = nl_cache_get_first(addrs); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *ad = (struct rtnl_addr *)o;
		char dev[IFNAMSIZ] = "";
		struct cidr4 one, sub;
		const struct sa_endpoint *ep;

		rtnl_link_i2name(links, rtnl_addr_get_ifindex(ad), dev, sizeof(dev));
		if (!nl_to_cidr(rtnl_addr_get_local(ad), &one) || ours(0, dev))
			continue;
		one.len = 32;
		if (!(ep = overlapping(c, &one, &sub)))
			continue;
		ip4_format(one.addr, a);
		cidr4_format(&sub, b);
		diag_add(c, "routes", ep->cluster_id, DIAG_FAIL, hint, "address %s on %s is inside %s's %s",
			 a, dev, ep->cluster_id, b);
		bad++;
	}
	if (!bad)
		diag_add(c, "routes", "", DIAG_PASS, NULL,
			 "no route or address of this node overlaps the %u remote cluster(s)", c->n_remotes);
out:
	nl_cache_free(links);
	nl_cache_free(addrs);
	nl_cache_free(routes);
	nl_socket_free(sk);
}

/* ---- path MTU ---- */

/* The MTU the kernel's route to dst promises (a route's mtu, else its device's). */
static int route_mtu(uint32_t dst)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(9),
				  .sin_addr.s_addr = htonl(dst) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), mtu = -1;
	socklen_t l = sizeof(mtu);

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockopt(fd, IPPROTO_IP, IP_MTU, &mtu, &l))
		mtu = -errno;
	close(fd);
	return mtu;
}

/* One ICMP echo of size bytes (IP header included) with DF: 1 answered, 0 not, -errno. */
static int echo_df(int fd, uint32_t dst, int size, uint16_t id, uint16_t seq, int timeout_ms)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(dst) };
	size_t len = (size_t)size - sizeof(struct iphdr);
	uint8_t pkt[65536], rx[65536 + 64];
	struct icmphdr *ih = (struct icmphdr *)pkt;
	uint64_t deadline = util_now_ns() + (uint64_t)timeout_ms * NSEC_PER_MSEC;

	memset(pkt, 0, len);
	ih->type = ICMP_ECHO;
	ih->un.echo.id = htons(id);
	ih->un.echo.sequence = htons(seq);
	for (size_t i = sizeof(*ih); i < len; i++)
		pkt[i] = (uint8_t)i;
	ih->checksum = util_inet_csum(pkt, len);
	if (sendto(fd, pkt, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return errno == EMSGSIZE ? 0 : -errno;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = util_now_ns();
		ssize_t n;

		if (now >= deadline)
			return 0;
		if (poll(&p, 1, (int)((deadline - now) / NSEC_PER_MSEC) + 1) <= 0)
			continue;
		n = recv(fd, rx, sizeof(rx), MSG_DONTWAIT);
		if (diag_echo_reply_ok(rx, n > 0 ? (size_t)n : 0, id, seq, size))
			return 1;
	}
}

int diag_echo_reply_ok(const uint8_t *pkt, size_t n, uint16_t id, uint16_t seq, int size)
{
	struct icmphdr rh;
	size_t ihl;

	if (n < sizeof(struct iphdr) || (pkt[0] >> 4) != 4)
		return 0;
	ihl = (size_t)(pkt[0] & 15) * 4;
	if (ihl < sizeof(struct iphdr) || n < ihl + sizeof(rh))
		return 0;
	memcpy(&rh, pkt + ihl, sizeof(rh));
	/* the whole echo came back: as large as it was sent */
	return rh.type == ICMP_ECHOREPLY && ntohs(rh.un.echo.id) == id &&
	       ntohs(rh.un.echo.sequence) == seq && n - ihl + sizeof(struct iphdr) == (size_t)size;
}

/* Each size gets two tries: one lost echo is not an MTU. */
static int try2(int fd, uint32_t dst, int size, uint16_t id, uint16_t *seq, int timeout_ms)
{
	int r = echo_df(fd, dst, size, id, ++*seq, timeout_ms);

	return r ? r : echo_df(fd, dst, size, id, ++*seq, timeout_ms);
}

int diag_pmtu(uint32_t dst, int lo, int hi, int timeout_ms, int *found)
{
	int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	/* DF set, and the route's cached path MTU ignored: the probe finds the real one */
	int pmtu = IP_PMTUDISC_PROBE, rc = 0;
	uint16_t id, seq = 0;

	*found = 0;
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu))) {
		rc = -errno;
		goto out;
	}
	if (util_random(&id, sizeof(id)))
		id = (uint16_t)getpid();
	rc = try2(fd, dst, hi, id, &seq, timeout_ms);
	if (rc == 1) {
		*found = hi;
		rc = 0;
		goto out;
	}
	if (rc < 0)
		goto out;
	rc = try2(fd, dst, lo, id, &seq, timeout_ms);
	if (rc <= 0) {
		rc = rc < 0 ? rc : -EHOSTUNREACH;
		goto out;
	}
	while (hi - lo > 1) {		/* lo answers, hi does not */
		int mid = lo + (hi - lo) / 2;

		rc = try2(fd, dst, mid, id, &seq, timeout_ms);
		if (rc < 0)
			goto out;
		if (rc)
			lo = mid;
		else
			hi = mid;
	}
	*found = lo;
	rc = 0;
out:
	close(fd);
	return rc;
}

#define MTU_MIN 576
#define MTU_HINT "packets larger than the path's MTU are dropped silently (TCP stalls after " \
		 "its handshake): raise the underlay's MTU, or lower the tunnel's (the agent " \
		 "sizes routes and MSS from the devices' MTU)"

void diag_check_mtu(struct diag_ctx *c)
{
	bool gw = !strcmp(c->role, "gateway");

	if (!c->n_remotes) {
		diag_add(c, "mtu", "", DIAG_SKIP, NULL, "no remote cluster known");
		return;
	}
	for (unsigned i = 0; i < c->n_remotes; i++) {
		const struct sa_endpoint *ep = &c->remotes[i];
		const char *uip = ep->public_ip[0] ? ep->public_ip : ep->private_ip;
		uint32_t hc, under = 0;
		int want, got = 0, rc, uwant = 0, ugot = 0, urc = -ENOENT;
		char u[96] = "";

		if (!ep->health_ip[0] || ip4_parse(ep->health_ip, &hc)) {
			diag_add(c, "mtu", ep->cluster_id, DIAG_SKIP, NULL,
				 "the remote gateway publishes no health-check IP");
			continue;
		}
		want = route_mtu(hc);
		if (want < MTU_MIN) {
			diag_add(c, "mtu", ep->cluster_id, DIAG_FAIL,
				 "the agent routes remote subnets once the tunnel is up: see the connection checks",
				 "no route to %s's health-check IP %s", ep->cluster_id, ep->health_ip);
			continue;
		}
		rc = diag_pmtu(hc, MTU_MIN, want, c->timeout_ms * 2 / 5, &got);
		/* on the gateway, also the underlay to the remote gateway (public or private) */
		if (gw && !ip4_parse(uip, &under)) {
			uwant = route_mtu(under);
			if (uwant >= MTU_MIN)
				urc = diag_pmtu(under, MTU_MIN, uwant, c->timeout_ms * 2 / 5, &ugot);
			if (!urc)
				snprintf(u, sizeof(u), "; underlay to %s: %d of %d bytes", uip, ugot, uwant);
		}
		if (rc == -EHOSTUNREACH)
			diag_add(c, "mtu", ep->cluster_id, DIAG_FAIL,
				 "the tunnel does not carry even small packets: see the connection and firewall checks",
				 "no echo from %s's health-check IP %s, even at %d bytes%s", ep->cluster_id,
				 ep->health_ip, MTU_MIN, u);
		else if (rc)
			diag_add(c, "mtu", ep->cluster_id, DIAG_WARN, "run diagnose as root (raw sockets)",
				 "cannot probe: %s", strerror(-rc));
		else if (got < want)
			diag_add(c, "mtu", ep->cluster_id, DIAG_FAIL, MTU_HINT,
				 "path MTU through the tunnel is %d bytes, the route promises %d%s",
				 got, want, u);
		else
			diag_add(c, "mtu", ep->cluster_id, DIAG_PASS, NULL,
				 "%d-byte packets cross the tunnel with DF set%s", got, u);
	}
}
