/* The route agent: VXLAN between every node and the active gateway. It keeps what it wants
 * (the gateway it follows and the routes through it; as the gateway, the nodes it serves
 * and their return path) and ra_sync() makes the node agree again: the device, its
 * neighbour and forwarding entries. Its routes and rules are in routes.c's tables, which
 * converge the same way. */
#include "agent/routing/route_agent.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/routing/netlink.h"
#include "agent/routing/routes.h"
#include "common/log.h"
#include "common/retry.h"
#include "common/util.h"

#define RA_VNI 4243
#define RA_PORT 4791
#define RA_OVERHEAD 50	/* outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14 */
#define RA_MAX 256

struct ra_neigh {
	uint32_t vtep, nexthop;
	uint8_t mac[6];
};

struct route_agent {
	struct netlink *nl;
	uint32_t node_ip, src;
	uint8_t mac[6];
	int mtu;
	struct retry dev_st, neigh_st;
	/* following: the active gateway and the routes wanted through it */
	struct ra_neigh gw;
	bool have_gw;
	char gw_node[ELECTION_NAME_MAX + 1];
	struct cidr4 routes[ELECTION_MAX_ROUTES];
	unsigned n_routes;
	uint32_t route_mtu;
	/* serving: other nodes' slices and the source rules */
	struct ra_neigh nodes[RA_MAX];
	struct cidr4 slices[RA_MAX];
	unsigned n_nodes;
	struct cidr4 rules[ELECTION_MAX_ROUTES];
	unsigned n_rules;
};

static uint32_t nexthop_of(uint32_t vtep)
{
	return (241u << 24) | (vtep & 0xffffff);
}

static void mac_of(uint32_t ip, uint8_t mac[6])
{
	mac[0] = 0x02;
	mac[1] = 0x5b;
	mac[2] = (uint8_t)(ip >> 24);
	mac[3] = (uint8_t)(ip >> 16);
	mac[4] = (uint8_t)(ip >> 8);
	mac[5] = (uint8_t)ip;
}

static int ensure_dev(struct route_agent *ra)
{
	struct netlink_vxlan vx = { .name = RA_DEV, .vni = RA_VNI, .local = ra->node_ip,
				    .port = RA_PORT, .mtu = ra->mtu, .mac = ra->mac };

	return netlink_vxlan_ensure(ra->nl, &vx);
}

struct route_agent *ra_open(uint32_t node_ip, uint32_t src)
{
	struct route_agent *ra = calloc(1, sizeof(*ra));
	char dev[IFNAMSIZ];
	bool routes = false;
	int mtu, rc;

	if (!ra)
		return NULL;
	ra->node_ip = node_ip;
	ra->src = src;
	ra->nl = netlink_open();
	if (!ra->nl)
		goto err;
	rc = netlink_dev_of_addr(node_ip, dev);
	if (rc) {
		errno = -rc;
		goto err;
	}
	/* The MTU is the node network device's, less what VXLAN adds. */
	mtu = netlink_link_mtu(dev);
	if (mtu < 0) {
		errno = -mtu;
		goto err;
	}
	ra->mtu = mtu - RA_OVERHEAD;
	mac_of(node_ip, ra->mac);
	rc = routes_init();
	routes = rc == 0;
	if (!rc)
		rc = ensure_dev(ra);
	if (rc) {
		errno = -rc;
		goto err;
	}
	pr_info("route agent: %s up on %s (mtu %d)\n", RA_DEV, dev, ra->mtu);
	return ra;
err:
	{
		int e = errno;

		if (routes)
			routes_fini();
		if (ra->nl) {
			(void)netlink_link_del(ra->nl, RA_DEV);
			netlink_close(ra->nl);
		}
		free(ra);
		errno = e;
	}
	return NULL;
}

void ra_vtep_mac(const struct route_agent *ra, uint8_t mac[6]) { memcpy(mac, ra->mac, 6); }
int ra_mtu(const struct route_agent *ra) { return ra->mtu; }

static int neigh_add(struct route_agent *ra, const struct ra_neigh *n)
{
	int rc = netlink_neigh_replace(ra->nl, RA_DEV, n->nexthop, n->mac);

	if (!rc)
		rc = netlink_fdb_replace(ra->nl, RA_DEV, n->mac, n->vtep);
	return rc;
}

static void neigh_del(struct route_agent *ra, const struct ra_neigh *n)
{
	(void)netlink_fdb_del(ra->nl, RA_DEV, n->mac, n->vtep);
	(void)netlink_neigh_del(ra->nl, RA_DEV, n->nexthop);
}

/* The neighbour and forwarding entries of everything wanted: replacing an entry that is
 * already there changes nothing, one that is missing is put back. */
static int neighs_apply(struct route_agent *ra, uint64_t now)
{
	char ip[16];
	int rc = 0, r;

	if (ra->have_gw && (r = neigh_add(ra, &ra->gw))) {
		rc = r;
		retry_fail(&ra->neigh_st, now, r, "neighbour of gateway %s on %s: %s", ra->gw_node,
			   RA_DEV, strerror(-r));
	}
	for (unsigned i = 0; i < ra->n_nodes; i++) {
		if (!(r = neigh_add(ra, &ra->nodes[i])))
			continue;
		rc = r;
		ip4_format(ra->nodes[i].vtep, ip);
		retry_fail(&ra->neigh_st, now, r, "neighbour of node %s on %s: %s", ip, RA_DEV,
			   strerror(-r));
	}
	if (!rc)
		retry_ok(&ra->neigh_st);
	return rc;
}

static void unfollow(struct route_agent *ra)
{
	for (unsigned i = 0; i < ra->n_routes; i++)
		routes_del(&ra->routes[i], RA_DEV);
	ra->n_routes = 0;
	if (ra->have_gw)
		neigh_del(ra, &ra->gw);
	ra->have_gw = false;
}

void ra_follow(struct route_agent *ra, const struct election_peer *a)
{
	struct ra_neigh gw;
	uint32_t mtu;
	unsigned i;

	if (!a || a->self || !a->adv.vtep_ip) {
		if (ra->have_gw)
			pr_info("route agent: no active gateway to follow\n");
		unfollow(ra);
		return;
	}
	memset(&gw, 0, sizeof(gw));
	gw.vtep = a->adv.vtep_ip;
	gw.nexthop = nexthop_of(gw.vtep);
	memcpy(gw.mac, a->adv.vtep_mac, 6);
	/* The path MTU is the smaller of our VXLAN link and the gateway's tunnel. */
	mtu = (uint32_t)ra->mtu;
	if (a->adv.tunnel_mtu && a->adv.tunnel_mtu < mtu)
		mtu = a->adv.tunnel_mtu;
	if (ra->have_gw && !memcmp(&ra->gw, &gw, sizeof(gw)) && ra->route_mtu == mtu &&
	    ra->n_routes == a->adv.n_routes) {
		for (i = 0; i < ra->n_routes; i++)
			if (ra->routes[i].addr != a->adv.route_net[i] ||
			    ra->routes[i].len != a->adv.route_prefix[i])
				break;
		if (i == ra->n_routes)
			return;	/* nothing changed */
	}
	unfollow(ra);
	ra->gw = gw;
	ra->have_gw = true;
	snprintf(ra->gw_node, sizeof(ra->gw_node), "%s", a->node);
	ra->route_mtu = mtu;
	(void)neighs_apply(ra, util_now_ns());
	/* Wanted even when the first attempt fails: routes_sync() retries them. */
	for (i = 0; i < a->adv.n_routes && i < ELECTION_MAX_ROUTES; i++) {
		struct cidr4 c = { .addr = a->adv.route_net[i], .len = a->adv.route_prefix[i] };

		(void)routes_add(&c, gw.nexthop, RA_DEV, ra->src, mtu);
		ra->routes[ra->n_routes++] = c;
	}
	pr_info("route agent: %u remote subnet(s) via gateway %s (mtu %u)\n", ra->n_routes,
		a->node, mtu);
}

static void unserve(struct route_agent *ra)
{
	for (unsigned i = 0; i < ra->n_rules; i++)
		routes_rule_del(SA_RETURN_PRIO, SA_RETURN_TABLE, &ra->rules[i]);
	ra->n_rules = 0;
	for (unsigned i = 0; i < ra->n_nodes; i++) {
		routes_del_table(SA_RETURN_TABLE, &ra->slices[i], RA_DEV);
		neigh_del(ra, &ra->nodes[i]);
	}
	ra->n_nodes = 0;
}

void ra_serve(struct route_agent *ra, const struct election_peer *peers, unsigned n,
	      const struct cidr4 *remote, unsigned nremote)
{
	struct ra_neigh want_nodes[RA_MAX];
	struct cidr4 want_slices[RA_MAX];
	unsigned nw = 0, nr = nremote < ELECTION_MAX_ROUTES ? nremote : ELECTION_MAX_ROUTES;

	for (unsigned i = 0; nremote && i < n && nw < RA_MAX; i++) {
		const struct election_peer *p = &peers[i];

		if (p->self || !p->adv.vtep_ip || !p->adv.pod_prefix)
			continue;
		/* zeroed: padding takes part in the comparison below */
		memset(&want_nodes[nw], 0, sizeof(want_nodes[nw]));
		memset(&want_slices[nw], 0, sizeof(want_slices[nw]));
		want_nodes[nw].vtep = p->adv.vtep_ip;
		want_nodes[nw].nexthop = nexthop_of(p->adv.vtep_ip);
		memcpy(want_nodes[nw].mac, p->adv.vtep_mac, 6);
		want_slices[nw].addr = p->adv.pod_net;
		want_slices[nw].len = p->adv.pod_prefix;
		nw++;
	}
	/* Called at every election or remote change: leave an unchanged return path alone
	 * instead of tearing it down and putting it back. */
	if (nw == ra->n_nodes && nr == ra->n_rules &&
	    !memcmp(want_nodes, ra->nodes, nw * sizeof(want_nodes[0])) &&
	    !memcmp(want_slices, ra->slices, nw * sizeof(want_slices[0])) &&
	    !memcmp(remote, ra->rules, nr * sizeof(remote[0])))
		return;
	unserve(ra);
	if (!nr)
		return;
	memcpy(ra->nodes, want_nodes, nw * sizeof(want_nodes[0]));
	memcpy(ra->slices, want_slices, nw * sizeof(want_slices[0]));
	ra->n_nodes = nw;
	(void)neighs_apply(ra, util_now_ns());
	for (unsigned i = 0; i < nw; i++)
		(void)routes_add_table(SA_RETURN_TABLE, &want_slices[i], want_nodes[i].nexthop,
				       RA_DEV, 0, (uint32_t)ra->mtu);
	for (unsigned i = 0; i < nr; i++) {
		(void)routes_rule_add(SA_RETURN_PRIO, SA_RETURN_TABLE, &remote[i]);
		ra->rules[ra->n_rules++] = remote[i];
	}
}

int ra_sync(struct route_agent *ra, uint64_t now)
{
	int had = netlink_ifindex(RA_DEV) > 0, rc;

	if (!retry_due(&ra->dev_st, now) && !retry_due(&ra->neigh_st, now))
		return ra->dev_st.err ? ra->dev_st.err : ra->neigh_st.err;
	rc = ensure_dev(ra);
	if (rc) {
		retry_fail(&ra->dev_st, now, rc, "device %s: %s", RA_DEV, strerror(-rc));
		return rc;
	}
	if (!had)
		pr_info("route agent: %s was missing; put back\n", RA_DEV);
	retry_ok(&ra->dev_st);
	return neighs_apply(ra, now);
}

void ra_report(const struct route_agent *ra, cJSON *arr, uint64_t now)
{
	retry_report(&ra->dev_st, now, arr, "route agent device " RA_DEV);
	retry_report(&ra->neigh_st, now, arr, "route agent neighbours on " RA_DEV);
}

void ra_close(struct route_agent *ra)
{
	if (!ra)
		return;
	unfollow(ra);
	unserve(ra);
	(void)netlink_link_del(ra->nl, RA_DEV);
	routes_fini();
	netlink_close(ra->nl);
	free(ra);
}
