/* rtnetlink through libnl-route-3: the few operations the agent needs. */
#include "agent/routing/netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/fib_rules.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/link/xfrmi.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>
#include <netlink/route/rule.h>

struct netlink {
	struct nl_sock *sk;
};

/* libnl's own error codes, mapped to the errno values callers test for. */
static int nlerr(int e)
{
	if (e >= 0)
		return 0;
	switch (-e) {
	case NLE_EXIST:		return -EEXIST;
	case NLE_OBJ_NOTFOUND:	return -ESRCH;
	case NLE_NODEV:		return -ENODEV;
	case NLE_PERM:		return -EPERM;
	case NLE_NOMEM:		return -ENOMEM;
	case NLE_INVAL:		return -EINVAL;
	case NLE_BUSY:		return -EBUSY;
	case NLE_RANGE:		return -ERANGE;
	case NLE_OPNOTSUPP:	return -EOPNOTSUPP;
	case NLE_NOADDR:	return -EADDRNOTAVAIL;
	case NLE_AGAIN:		return -EAGAIN;
	default:		return -EIO;
	}
}

struct netlink *netlink_open(void)
{
	struct netlink *nl = calloc(1, sizeof(*nl));

	if (!nl)
		return NULL;
	nl->sk = nl_socket_alloc();
	if (!nl->sk || nl_connect(nl->sk, NETLINK_ROUTE) < 0) {
		if (nl->sk)
			nl_socket_free(nl->sk);
		free(nl);
		errno = EIO;
		return NULL;
	}
	return nl;
}

void netlink_close(struct netlink *nl)
{
	if (!nl)
		return;
	nl_socket_free(nl->sk);
	free(nl);
}

static struct nl_addr *addr4(uint32_t a, uint8_t len)
{
	uint32_t be = htonl(a);
	struct nl_addr *na = nl_addr_build(AF_INET, &be, 4);

	if (na)
		nl_addr_set_prefixlen(na, len);
	return na;
}

int netlink_ifindex(const char *name)
{
	unsigned idx = if_nametoindex(name);

	return idx ? (int)idx : -ENODEV;
}

static int ifreq_op(const char *name, unsigned long op, struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (s < 0)
		return -errno;
	if (strlen(name) >= IFNAMSIZ) {
		close(s);
		return -ENAMETOOLONG;
	}
	memset(ifr, 0, sizeof(*ifr));
	strcpy(ifr->ifr_name, name);
	if (ioctl(s, op, ifr) < 0)
		rc = -errno;
	close(s);
	return rc;
}

int netlink_link_mtu(const char *name)
{
	struct ifreq ifr;
	int rc = ifreq_op(name, SIOCGIFMTU, &ifr);

	return rc ? rc : ifr.ifr_mtu;
}

int netlink_link_mac(const char *name, uint8_t mac[6])
{
	struct ifreq ifr;
	int rc = ifreq_op(name, SIOCGIFHWADDR, &ifr);

	if (!rc)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return rc;
}

int netlink_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &tail) != 6 || strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

void netlink_format_mac(const uint8_t m[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

int netlink_link_del(struct netlink *nl, const char *name)
{
	struct rtnl_link *l = rtnl_link_alloc();
	int rc;

	if (!l)
		return -ENOMEM;
	if (netlink_ifindex(name) < 0) {
		rtnl_link_put(l);
		return -ENODEV;
	}
	rtnl_link_set_name(l, name);
	rc = nlerr(rtnl_link_delete(nl->sk, l));
	rtnl_link_put(l);
	return rc;
}

static int link_set_up(struct netlink *nl, const char *name, int mtu)
{
	struct rtnl_link *orig = NULL, *chg = rtnl_link_alloc();
	int rc;

	if (!chg)
		return -ENOMEM;
	rc = nlerr(rtnl_link_get_kernel(nl->sk, 0, name, &orig));
	if (rc)
		goto out;
	rtnl_link_set_flags(chg, IFF_UP);
	if (mtu > 0)
		rtnl_link_set_mtu(chg, (unsigned)mtu);
	rc = nlerr(rtnl_link_change(nl->sk, orig, chg, 0));
out:
	if (orig)
		rtnl_link_put(orig);
	rtnl_link_put(chg);
	return rc;
}

int netlink_link_set_mtu(struct netlink *nl, const char *name, int mtu)
{
	return link_set_up(nl, name, mtu);
}

static int vxlan_matches(struct netlink *nl, const struct netlink_vxlan *vx)
{
	struct rtnl_link *l = NULL;
	struct nl_addr *local = NULL;
	uint32_t id = 0, port = 0;
	int same = 0;

	if (rtnl_link_get_kernel(nl->sk, 0, vx->name, &l) < 0)
		return 0;
	if (rtnl_link_is_vxlan(l) && rtnl_link_vxlan_get_id(l, &id) == 0 && id == vx->vni &&
	    rtnl_link_vxlan_get_port(l, &port) == 0 && port == vx->port &&
	    rtnl_link_vxlan_get_local(l, &local) == 0 && local &&
	    nl_addr_get_len(local) == 4) {
		uint32_t a;

		memcpy(&a, nl_addr_get_binary_addr(local), 4);
		same = ntohl(a) == vx->local;
	}
	if (local)
		nl_addr_put(local);
	rtnl_link_put(l);
	return same;
}

int netlink_vxlan_ensure(struct netlink *nl, const struct netlink_vxlan *vx)
{
	struct rtnl_link *l;
	struct nl_addr *local;
	int rc;

	if (!vxlan_matches(nl, vx)) {
		(void)netlink_link_del(nl, vx->name);
		l = rtnl_link_vxlan_alloc();
		local = addr4(vx->local, 32);
		if (!l || !local) {
			rc = -ENOMEM;
			goto out_free;
		}
		rtnl_link_set_name(l, vx->name);
		rtnl_link_vxlan_set_id(l, vx->vni);
		rtnl_link_vxlan_set_local(l, local);
		rtnl_link_vxlan_set_port(l, vx->port);
		rtnl_link_vxlan_set_learning(l, 0);
		if (vx->mac) {
			struct nl_addr *m = nl_addr_build(AF_LLC, vx->mac, 6);

			if (m) {
				rtnl_link_set_addr(l, m);
				nl_addr_put(m);
			}
		}
		rc = nlerr(rtnl_link_add(nl->sk, l, NLM_F_CREATE | NLM_F_EXCL));
out_free:
		if (local)
			nl_addr_put(local);
		if (l)
			rtnl_link_put(l);
		if (rc)
			return rc;
	}
	return link_set_up(nl, vx->name, vx->mtu);
}

/* An XFRM interface named name with if_id if_id (and the same underlying device)? */
static int xfrmi_matches(struct netlink *nl, const struct netlink_xfrmi *x)
{
	struct rtnl_link *l = NULL;
	uint32_t id = 0, link = 0;
	int same;

	if (rtnl_link_get_kernel(nl->sk, 0, x->name, &l) < 0)
		return 0;
	same = rtnl_link_is_xfrmi(l) && rtnl_link_xfrmi_get_if_id(l, &id) == 0 && id == x->if_id &&
	       rtnl_link_xfrmi_get_link(l, &link) == 0 && link == x->link;
	rtnl_link_put(l);
	return same;
}

int netlink_xfrmi_ensure(struct netlink *nl, const struct netlink_xfrmi *x)
{
	struct rtnl_link *l;
	int rc;

	if (!x->if_id)
		return -EINVAL;
	if (!xfrmi_matches(nl, x)) {
		(void)netlink_link_del(nl, x->name);
		l = rtnl_link_xfrmi_alloc();
		if (!l)
			return -ENOMEM;
		rtnl_link_set_name(l, x->name);
		rtnl_link_xfrmi_set_if_id(l, x->if_id);
		if (x->link)
			rtnl_link_xfrmi_set_link(l, x->link);
		rc = nlerr(rtnl_link_add(nl->sk, l, NLM_F_CREATE | NLM_F_EXCL));
		rtnl_link_put(l);
		if (rc)
			return rc;
	}
	return link_set_up(nl, x->name, x->mtu);
}

/* Adds (replacing) or deletes the address a/len on dev. */
static int addr_op(struct netlink *nl, const char *dev, uint32_t a, uint8_t len, bool add)
{
	struct rtnl_addr *ra = rtnl_addr_alloc();
	struct nl_addr *na = addr4(a, len);
	int idx = netlink_ifindex(dev), rc;

	if (!ra || !na) {
		rc = -ENOMEM;
		goto out;
	}
	if (idx < 0) {
		rc = idx;
		goto out;
	}
	rtnl_addr_set_ifindex(ra, idx);
	rtnl_addr_set_local(ra, na);
	if (add) {
		rc = nlerr(rtnl_addr_add(nl->sk, ra, NLM_F_REPLACE));
		if (rc == -EEXIST)
			rc = 0;
	} else {
		rc = nlerr(rtnl_addr_delete(nl->sk, ra, 0));
	}
out:
	if (na)
		nl_addr_put(na);
	if (ra)
		rtnl_addr_put(ra);
	return rc;
}

int netlink_addr_replace(struct netlink *nl, const char *dev, uint32_t a, uint8_t len)
{
	return addr_op(nl, dev, a, len, true);
}

int netlink_addr_del(struct netlink *nl, const char *dev, uint32_t a, uint8_t len)
{
	return addr_op(nl, dev, a, len, false);
}

static struct rtnl_route *build_route(const struct netlink_route *r, int *err)
{
	struct rtnl_route *rt = rtnl_route_alloc();
	struct nl_addr *dst = addr4(r->dst.addr, r->dst.len);
	struct rtnl_nexthop *nh = NULL;

	*err = -ENOMEM;
	if (!rt || !dst)
		goto err;
	rtnl_route_set_family(rt, AF_INET);
	rtnl_route_set_dst(rt, dst);
	rtnl_route_set_table(rt, r->table ? r->table : RT_TABLE_MAIN);
	rtnl_route_set_protocol(rt, RTPROT_STATIC);
	if (r->priority)
		rtnl_route_set_priority(rt, r->priority);
	if (r->blackhole) {
		/* no next hop: the kernel drops what takes it, silently */
		rtnl_route_set_type(rt, RTN_BLACKHOLE);
		nl_addr_put(dst);
		*err = 0;
		return rt;
	}
	rtnl_route_set_type(rt, RTN_UNICAST);
	if (r->src) {
		struct nl_addr *src = addr4(r->src, 32);

		if (!src)
			goto err;
		rtnl_route_set_pref_src(rt, src);
		nl_addr_put(src);
	}
	if (r->mtu)
		rtnl_route_set_metric(rt, RTAX_MTU, r->mtu);
	if (r->advmss)
		rtnl_route_set_metric(rt, RTAX_ADVMSS, r->advmss);
	if (!r->gw)
		rtnl_route_set_scope(rt, RT_SCOPE_LINK);
	nh = rtnl_route_nh_alloc();
	if (!nh)
		goto err;
	if (r->dev) {
		int idx = netlink_ifindex(r->dev);

		if (idx < 0) {
			*err = idx;
			goto err;
		}
		rtnl_route_nh_set_ifindex(nh, idx);
	}
	if (r->gw) {
		struct nl_addr *gw = addr4(r->gw, 32);

		if (!gw)
			goto err;
		rtnl_route_nh_set_gateway(nh, gw);
		nl_addr_put(gw);
	}
	if (r->onlink)
		rtnl_route_nh_set_flags(nh, RTNH_F_ONLINK);
	rtnl_route_add_nexthop(rt, nh);
	nh = NULL;
	nl_addr_put(dst);
	*err = 0;
	return rt;
err:
	if (nh)
		rtnl_route_nh_free(nh);
	if (dst)
		nl_addr_put(dst);
	if (rt)
		rtnl_route_put(rt);
	return NULL;
}

int netlink_route_replace(struct netlink *nl, const struct netlink_route *r)
{
	int err;
	struct rtnl_route *rt = build_route(r, &err);

	if (!rt)
		return err;
	err = nlerr(rtnl_route_add(nl->sk, rt, NLM_F_CREATE | NLM_F_REPLACE));
	rtnl_route_put(rt);
	return err;
}

/* A delete matches on what it names: dst and table, and the device when given. Protocol,
 * type and scope are left open (a route with a gateway has universe scope, one someone
 * added by hand another protocol). */
int netlink_route_del(struct netlink *nl, const struct netlink_route *r)
{
	struct rtnl_route *rt = rtnl_route_alloc();
	struct nl_addr *dst = addr4(r->dst.addr, r->dst.len);
	struct rtnl_nexthop *nh = NULL;
	int err = -ENOMEM;

	if (!rt || !dst)
		goto out;
	rtnl_route_set_family(rt, AF_INET);
	rtnl_route_set_dst(rt, dst);
	rtnl_route_set_table(rt, r->table ? r->table : RT_TABLE_MAIN);
	rtnl_route_set_protocol(rt, RTPROT_UNSPEC);
	rtnl_route_set_type(rt, RTN_UNSPEC);
	rtnl_route_set_scope(rt, RT_SCOPE_NOWHERE);
	if (r->dev) {
		int idx = netlink_ifindex(r->dev);

		if (idx < 0) {
			err = idx;
			goto out;
		}
		nh = rtnl_route_nh_alloc();
		if (!nh)
			goto out;
		rtnl_route_nh_set_ifindex(nh, idx);
		rtnl_route_add_nexthop(rt, nh);
	}
	err = nlerr(rtnl_route_delete(nl->sk, rt, 0));
out:
	if (dst)
		nl_addr_put(dst);
	if (rt)
		rtnl_route_put(rt);
	return err;
}

/* An IPv4 nl_addr as host order address and prefix length (NULL: 0.0.0.0/0). */
static struct cidr4 cidr_of(struct nl_addr *a)
{
	struct cidr4 c = { 0 };
	uint32_t be;

	if (a && nl_addr_get_family(a) == AF_INET && nl_addr_get_len(a) == 4) {
		memcpy(&be, nl_addr_get_binary_addr(a), 4);
		c.addr = ntohl(be);
		c.len = (uint8_t)nl_addr_get_prefixlen(a);
	}
	return c;
}

struct route_walk {
	uint32_t table;
	void (*cb)(void *ctx, const struct netlink_route_info *r);
	void *ctx;
};

static void route_one(struct nl_object *o, void *arg)
{
	struct rtnl_route *rt = (struct rtnl_route *)o;
	struct route_walk *w = arg;
	struct netlink_route_info ri = { .table = rtnl_route_get_table(rt) };
	struct rtnl_nexthop *nh;
	uint32_t mtu = 0;

	if (rtnl_route_get_family(rt) != AF_INET || ri.table != w->table)
		return;
	ri.dst = cidr_of(rtnl_route_get_dst(rt));
	ri.blackhole = rtnl_route_get_type(rt) == RTN_BLACKHOLE;
	if (rtnl_route_get_pref_src(rt))
		ri.src = cidr_of(rtnl_route_get_pref_src(rt)).addr;
	if (rtnl_route_get_metric(rt, RTAX_MTU, &mtu) == 0)
		ri.mtu = mtu;
	if (rtnl_route_get_nnexthops(rt) > 0 && (nh = rtnl_route_nexthop_n(rt, 0))) {
		ri.ifindex = rtnl_route_nh_get_ifindex(nh);
		if (rtnl_route_nh_get_gateway(nh))
			ri.gw = cidr_of(rtnl_route_nh_get_gateway(nh)).addr;
	}
	w->cb(w->ctx, &ri);
}

int netlink_route_list(struct netlink *nl, uint32_t table,
		       void (*cb)(void *ctx, const struct netlink_route_info *r), void *ctx)
{
	struct route_walk w = { .table = table, .cb = cb, .ctx = ctx };
	struct nl_cache *cache = NULL;
	int err = nlerr(rtnl_route_alloc_cache(nl->sk, AF_INET, 0, &cache));

	if (err)
		return err;
	nl_cache_foreach(cache, route_one, &w);
	nl_cache_free(cache);
	return 0;
}

struct rule_walk {
	void (*cb)(void *ctx, const struct netlink_rule_info *r);
	void *ctx;
};

static void rule_one(struct nl_object *o, void *arg)
{
	struct rtnl_rule *r = (struct rtnl_rule *)o;
	struct rule_walk *w = arg;
	struct netlink_rule_info ri = { .prio = rtnl_rule_get_prio(r),
					.table = rtnl_rule_get_table(r) };

	if (rtnl_rule_get_family(r) != AF_INET || rtnl_rule_get_action(r) != FR_ACT_TO_TBL)
		return;
	ri.src = cidr_of(rtnl_rule_get_src(r));
	w->cb(w->ctx, &ri);
}

int netlink_rule_list(struct netlink *nl,
		      void (*cb)(void *ctx, const struct netlink_rule_info *r), void *ctx)
{
	struct rule_walk w = { .cb = cb, .ctx = ctx };
	struct nl_cache *cache = NULL;
	int err = nlerr(rtnl_rule_alloc_cache(nl->sk, AF_INET, &cache));

	if (err)
		return err;
	nl_cache_foreach(cache, rule_one, &w);
	nl_cache_free(cache);
	return 0;
}

static struct rtnl_neigh *build_neigh(const char *dev, int family, uint32_t ip,
				      const uint8_t *mac, int *err)
{
	struct rtnl_neigh *n = rtnl_neigh_alloc();
	int idx = netlink_ifindex(dev);

	*err = -ENOMEM;
	if (!n)
		return NULL;
	if (idx < 0) {
		*err = idx;
		rtnl_neigh_put(n);
		return NULL;
	}
	rtnl_neigh_set_ifindex(n, idx);
	if (ip || family == AF_INET) {
		struct nl_addr *d = addr4(ip, 32);

		if (!d) {
			rtnl_neigh_put(n);
			return NULL;
		}
		/* before the family: libnl refuses a dst whose family differs from it */
		rtnl_neigh_set_dst(n, d);
		nl_addr_put(d);
	}
	rtnl_neigh_set_family(n, family);
	rtnl_neigh_set_state(n, NUD_PERMANENT);
	if (mac) {
		struct nl_addr *m = nl_addr_build(AF_LLC, mac, 6);

		if (!m) {
			rtnl_neigh_put(n);
			return NULL;
		}
		rtnl_neigh_set_lladdr(n, m);
		nl_addr_put(m);
	}
	*err = 0;
	return n;
}

/* Adds (replacing) or deletes a neighbour (AF_INET) or a VXLAN forwarding entry
 * (AF_BRIDGE, NTF_SELF). */
static int neigh_op(struct netlink *nl, const char *dev, int family, uint32_t ip,
		    const uint8_t *mac, bool add)
{
	int err;
	struct rtnl_neigh *n = build_neigh(dev, family, ip, mac, &err);

	if (!n)
		return err;
	if (family == AF_BRIDGE)
		rtnl_neigh_set_flags(n, NTF_SELF);
	err = nlerr(add ? rtnl_neigh_add(nl->sk, n, NLM_F_CREATE | NLM_F_REPLACE) :
			  rtnl_neigh_delete(nl->sk, n, 0));
	rtnl_neigh_put(n);
	return err;
}

int netlink_neigh_replace(struct netlink *nl, const char *dev, uint32_t ip, const uint8_t mac[6])
{
	return neigh_op(nl, dev, AF_INET, ip, mac, true);
}

int netlink_neigh_del(struct netlink *nl, const char *dev, uint32_t ip)
{
	return neigh_op(nl, dev, AF_INET, ip, NULL, false);
}

int netlink_fdb_replace(struct netlink *nl, const char *dev, const uint8_t mac[6], uint32_t dst)
{
	return neigh_op(nl, dev, AF_BRIDGE, dst, mac, true);
}

int netlink_fdb_del(struct netlink *nl, const char *dev, const uint8_t mac[6], uint32_t dst)
{
	return neigh_op(nl, dev, AF_BRIDGE, dst, mac, false);
}

/* Adds ("from SRC", or all when src is NULL, "lookup TABLE" at prio) or deletes a rule.
 * Adding an existing rule is not an error (NLM_F_EXCL turns the duplicate into EEXIST). */
static int rule_op(struct netlink *nl, uint32_t prio, uint32_t table, const struct cidr4 *src,
		   bool add)
{
	struct rtnl_rule *r = rtnl_rule_alloc();
	int err;

	if (!r)
		return -ENOMEM;
	rtnl_rule_set_family(r, AF_INET);
	rtnl_rule_set_prio(r, prio);
	rtnl_rule_set_table(r, table);
	rtnl_rule_set_action(r, FR_ACT_TO_TBL);
	if (src) {
		struct nl_addr *a = addr4(src->addr, src->len);

		if (!a) {
			rtnl_rule_put(r);
			return -ENOMEM;
		}
		rtnl_rule_set_src(r, a);
		nl_addr_put(a);
	}
	err = nlerr(add ? rtnl_rule_add(nl->sk, r, NLM_F_CREATE | NLM_F_EXCL) :
			  rtnl_rule_delete(nl->sk, r, 0));
	rtnl_rule_put(r);
	return add && err == -EEXIST ? 0 : err;
}

int netlink_rule_ensure(struct netlink *nl, uint32_t prio, uint32_t table)
{
	return rule_op(nl, prio, table, NULL, true);
}

int netlink_rule_del(struct netlink *nl, uint32_t prio, uint32_t table)
{
	return rule_op(nl, prio, table, NULL, false);
}

int netlink_rule_from_ensure(struct netlink *nl, uint32_t prio, uint32_t table,
			     const struct cidr4 *src)
{
	return rule_op(nl, prio, table, src, true);
}

int netlink_rule_from_del(struct netlink *nl, uint32_t prio, uint32_t table,
			  const struct cidr4 *src)
{
	return rule_op(nl, prio, table, src, false);
}

int netlink_source_for(uint32_t dst, uint32_t *src)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9),
				  .sin_addr.s_addr = htonl(dst) }, me;
	socklen_t len = sizeof(me);
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (s < 0)
		return -errno;
	/* connect() on UDP only runs the route lookup; nothing is sent. */
	if (connect(s, (struct sockaddr *)&to, sizeof(to)) < 0 ||
	    getsockname(s, (struct sockaddr *)&me, &len) < 0)
		rc = -errno;
	else
		*src = ntohl(me.sin_addr.s_addr);
	close(s);
	return rc;
}

static int find_addr(const struct cidr4 *c, uint32_t exact, uint32_t *addr, char *ifname)
{
	struct ifaddrs *ifa, *i;
	int rc = -ENOENT;

	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (i = ifa; i; i = i->ifa_next) {
		uint32_t a;

		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		a = ntohl(((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr);
		if (c ? cidr4_contains(c, a) : a == exact) {
			if (addr)
				*addr = a;
			if (ifname)
				snprintf(ifname, IFNAMSIZ, "%s", i->ifa_name);
			rc = 0;
			break;
		}
	}
	freeifaddrs(ifa);
	return rc;
}

int netlink_local_addr_in(const struct cidr4 *c, uint32_t *addr, char *ifname)
{
	return find_addr(c, 0, addr, ifname);
}

int netlink_dev_of_addr(uint32_t addr, char *ifname)
{
	return find_addr(NULL, addr, NULL, ifname);
}
