/* This node's pod CIDR slice from what the CNI leaves on the node. In a pod the agent has
 * no Kubernetes API and the downward API has no spec.podCIDR, but every CNI exposes the
 * slice in the host network namespace in one of a few shapes:
 *   - a bridge holding the slice's first address (flannel, kubenet, the bridge plugin:
 *     cni0 10.244.1.1/24): the connected route 10.244.1.0/24 dev cni0;
 *   - a blackhole route for the node's block (Calico: blackhole 10.244.120.64/26);
 *   - a route to the slice through the node's own address (Cilium: 10.0.1.0/24 via
 *     10.0.1.197 dev cilium_host);
 *   - only /32 routes to the pods' veths, the node's own /32 on them (the lab; Calico's
 *     routes per pod): the slice is then the node's pod addresses masked to the length of
 *     the routes to the other nodes' slices (they all have one length), else the smallest
 *     prefix that covers them (when there is at least one pod route: the node's own
 *     address alone sizes nothing).
 * Routes of the main table inside a cluster CIDR are "local" when they have no gateway, a
 * gateway that is one of the node's own pod addresses, or are blackhole/unreachable/
 * prohibit; routes through another address are other nodes' slices. A covering local route
 * is a candidate when it is smaller than the cluster CIDR, covers no other node's slice and
 * holds at least one of the node's pod addresses or pod routes (a blackhole needs none); the
 * candidate holding the most of them wins, the larger one on a tie. Addresses on lo are not
 * pods' (the ipsec driver anchors subnet addresses there). */
#include "agent/routing/podcidr.h"

#include <errno.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

#define MAX_ITEMS 1024

struct local_route {
	struct cidr4 dst;
	int ifindex;
	bool blackhole;
};

struct view {
	const struct cidr4 *cluster;
	size_t n_cluster;
	uint32_t addrs[MAX_ITEMS];		/* the node's addresses inside the cluster CIDR */
	size_t n_addrs;
	struct local_route local[MAX_ITEMS];	/* local routes inside it */
	size_t n_local;
	struct cidr4 other[MAX_ITEMS];		/* routes through another node */
	size_t n_other;
	uint32_t points[2 * MAX_ITEMS];		/* pod addresses and /32 pod routes */
	size_t n_points;
};

static bool to_cidr(struct nl_addr *a, struct cidr4 *out)
{
	uint32_t v;

	if (!a || nl_addr_get_family(a) != AF_INET || nl_addr_get_len(a) != 4)
		return false;
	memcpy(&v, nl_addr_get_binary_addr(a), 4);
	out->len = (uint8_t)nl_addr_get_prefixlen(a);
	if (out->len > 32)
		return false;
	out->addr = ntohl(v) & cidr4_mask(out->len);
	return true;
}

/* The cluster CIDR that holds c entirely, or NULL. */
static const struct cidr4 *inside(const struct view *v, const struct cidr4 *c)
{
	for (size_t i = 0; i < v->n_cluster; i++)
		if (c->len >= v->cluster[i].len && cidr4_contains(&v->cluster[i], c->addr))
			return &v->cluster[i];
	return NULL;
}

static bool is_addr(const struct view *v, uint32_t a)
{
	for (size_t i = 0; i < v->n_addrs; i++)
		if (v->addrs[i] == a)
			return true;
	return false;
}

static void read_addrs(struct view *v, struct nl_cache *addrs, struct nl_cache *links)
{
	for (struct nl_object *o = nl_cache_get_first(addrs); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *ad = (struct rtnl_addr *)o;
		struct rtnl_link *l = rtnl_link_get(links, rtnl_addr_get_ifindex(ad));
		bool loop = l && (rtnl_link_get_flags(l) & IFF_LOOPBACK);
		struct cidr4 one;

		rtnl_link_put(l);
		if (loop || rtnl_addr_get_family(ad) != AF_INET ||
		    !to_cidr(rtnl_addr_get_local(ad), &one) || v->n_addrs == MAX_ITEMS)
			continue;
		one.len = 32;
		if (!inside(v, &one) || is_addr(v, one.addr))
			continue;
		v->addrs[v->n_addrs++] = one.addr;
	}
}

static void read_routes(struct view *v, struct nl_cache *routes)
{
	for (struct nl_object *o = nl_cache_get_first(routes); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *r = (struct rtnl_route *)o;
		struct rtnl_nexthop *nh = rtnl_route_nexthop_n(r, 0);
		uint8_t type = rtnl_route_get_type(r);
		struct cidr4 dst, gw = { 0 };
		bool has_gw;

		if (rtnl_route_get_table(r) != RT_TABLE_MAIN || rtnl_route_get_family(r) != AF_INET ||
		    !to_cidr(rtnl_route_get_dst(r), &dst) || !inside(v, &dst))
			continue;
		has_gw = nh && to_cidr(rtnl_route_nh_get_gateway(nh), &gw) && gw.addr;
		if (type == RTN_BLACKHOLE || type == RTN_UNREACHABLE || type == RTN_PROHIBIT ||
		    (type == RTN_UNICAST && (!has_gw || is_addr(v, gw.addr)))) {
			if (v->n_local == MAX_ITEMS)
				continue;
			v->local[v->n_local].dst = dst;
			v->local[v->n_local].ifindex = nh ? rtnl_route_nh_get_ifindex(nh) : 0;
			v->local[v->n_local++].blackhole = type != RTN_UNICAST;
		} else if (type == RTN_UNICAST && v->n_other < MAX_ITEMS) {
			v->other[v->n_other++] = dst;
		}
	}
}

static bool covers_other(const struct view *v, const struct cidr4 *c)
{
	for (size_t i = 0; i < v->n_other; i++)
		if (cidr4_overlap(c, &v->other[i]))
			return true;
	return false;
}

static size_t points_in(const struct view *v, const struct cidr4 *c)
{
	size_t k = 0;

	for (size_t i = 0; i < v->n_points; i++)
		k += cidr4_contains(c, v->points[i]);
	return k;
}

/* The smallest prefix that holds every point. */
static struct cidr4 smallest_cover(const struct view *v)
{
	uint32_t lo = v->points[0], hi = v->points[0];
	struct cidr4 c;

	for (size_t i = 1; i < v->n_points; i++) {
		lo = v->points[i] < lo ? v->points[i] : lo;
		hi = v->points[i] > hi ? v->points[i] : hi;
	}
	c.len = 32;
	while (c.len > 0 && (lo & cidr4_mask(c.len)) != (hi & cidr4_mask(c.len)))
		c.len--;
	c.addr = lo & cidr4_mask(c.len);
	return c;
}

/* The prefix length most routes to other nodes' slices have (0: none). */
static uint8_t sibling_len(const struct view *v)
{
	unsigned count[33] = { 0 }, best = 0;
	uint8_t len = 0;

	for (size_t i = 0; i < v->n_other; i++)
		count[v->other[i].len]++;
	for (uint8_t l = 1; l < 32; l++)
		if (count[l] > best) {
			best = count[l];
			len = l;
		}
	return len;
}

static int pick(struct view *v, struct cidr4 *out, char *how, struct nl_cache *links)
{
	const struct local_route *best = NULL;
	size_t best_pts = 0;
	char buf[CIDR4_STRLEN], dev[IFNAMSIZ] = "?";
	size_t pod_routes = 0;
	uint8_t len;

	for (size_t i = 0; i < v->n_addrs; i++)
		v->points[v->n_points++] = v->addrs[i];
	for (size_t i = 0; i < v->n_local; i++)
		if (v->local[i].dst.len == 32 && !v->local[i].blackhole) {
			v->points[v->n_points++] = v->local[i].dst.addr;
			pod_routes++;
		}

	for (size_t i = 0; i < v->n_local; i++) {
		const struct local_route *r = &v->local[i];
		const struct cidr4 *cl = inside(v, &r->dst);
		size_t pts;

		if (r->dst.len == 32 || r->dst.len <= cl->len || covers_other(v, &r->dst))
			continue;
		pts = points_in(v, &r->dst);
		if (!pts && !r->blackhole)
			continue;
		if (!best || pts > best_pts || (pts == best_pts && r->dst.len < best->dst.len)) {
			best = r;
			best_pts = pts;
		}
	}
	if (best) {
		*out = best->dst;
		if (best->blackhole)
			snprintf(how, PODCIDR_HOW_MAX, "the node's blackhole route");
		else {
			if (best->ifindex > 0)
				rtnl_link_i2name(links, best->ifindex, dev, sizeof(dev));
			snprintf(how, PODCIDR_HOW_MAX, "the route on %s", dev);
		}
		return 0;
	}
	if (!v->n_points) {
		snprintf(how, PODCIDR_HOW_MAX, "no address or route of this node in the cluster CIDR");
		return -ENOENT;
	}
	/* /32s only: the other nodes' slice length, placed on our points */
	len = sibling_len(v);
	if (len) {
		for (size_t i = 0; i < v->n_points; i++) {
			struct cidr4 c = { .addr = v->points[i] & cidr4_mask(len), .len = len };
			const struct cidr4 *cl = inside(v, &c);

			if (!cl || c.len <= cl->len || covers_other(v, &c))
				continue;
			if (points_in(v, &c) == v->n_points) {
				*out = c;
				snprintf(how, PODCIDR_HOW_MAX,
					 "%zu pod address(es) and routes, /%u as the other nodes' slices",
					 v->n_points, len);
				return 0;
			}
		}
	}
	if (!pod_routes) {
		snprintf(how, PODCIDR_HOW_MAX, "only this node's own address(es) in the cluster CIDR, "
			 "no pod route and no route that sizes a slice");
		return -EAGAIN;
	}
	*out = smallest_cover(v);
	{
		const struct cidr4 *cl = inside(v, out);

		if (cl && out->len > cl->len && !covers_other(v, out)) {
			snprintf(how, PODCIDR_HOW_MAX,
				 "the smallest prefix holding %zu pod address(es) and routes", v->n_points);
			return 0;
		}
	}
	cidr4_format(out, buf);
	snprintf(how, PODCIDR_HOW_MAX, "this node's pod addresses span %s, which %s", buf,
		 covers_other(v, out) ? "holds other nodes' slices" : "is the whole cluster CIDR");
	return -EAGAIN;
}

int podcidr_detect(const struct cidr4 *cluster, size_t n, struct cidr4 *out, char *how)
{
	static __thread struct view v;	/* large: not on the stack */
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_cache *routes = NULL, *addrs = NULL, *links = NULL;
	char scratch[PODCIDR_HOW_MAX];
	int rc;

	memset(&v, 0, sizeof(v));
	v.cluster = cluster;
	v.n_cluster = n;
	if (!how)
		how = scratch;
	how[0] = '\0';
	if (!sk)
		return -ENOMEM;
	rc = nl_connect(sk, NETLINK_ROUTE);
	if (!rc)
		rc = rtnl_link_alloc_cache(sk, AF_UNSPEC, &links);
	if (!rc)
		rc = rtnl_addr_alloc_cache(sk, &addrs);
	if (!rc)
		rc = rtnl_route_alloc_cache(sk, AF_INET, 0, &routes);
	if (rc) {
		snprintf(how, PODCIDR_HOW_MAX, "netlink: %s", nl_geterror(rc));
		rc = -EIO;
		goto out;
	}
	read_addrs(&v, addrs, links);
	read_routes(&v, routes);
	rc = pick(&v, out, how, links);
out:
	nl_cache_free(routes);
	nl_cache_free(addrs);
	nl_cache_free(links);
	nl_socket_free(sk);
	return rc;
}
