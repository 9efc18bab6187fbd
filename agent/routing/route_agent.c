/* The route agent: VXLAN between every node and the active gateway. */
#include "agent/routing/route_agent.h"

#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include "agent/routing/netlink.h"
#include "agent/routing/routes.h"
#include "common/log.h"

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
	/* following: the active gateway and the routes installed towards it */
	struct ra_neigh gw;
	bool have_gw;
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

struct route_agent *ra_open(uint32_t node_ip, uint32_t src)
{
	struct route_agent *ra = calloc(1, sizeof(*ra));
	char dev[IFNAMSIZ];
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
	struct netlink_vxlan vx = { .name = RA_DEV, .vni = RA_VNI, .local = node_ip,
				    .port = RA_PORT, .mtu = ra->mtu, .mac = ra->mac };
	rc = netlink_vxlan_ensure(ra->nl, &vx);
	if (!rc)
		rc = routes_init(ra->nl);
	if (rc) {
		errno = -rc;
		goto err;
	}
	pr_info("route agent: %s up on %s (mtu %d)\n", RA_DEV, dev, ra->mtu);
	return ra;
err:
	{
		int e = errno;

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

static void unfollow(struct route_agent *ra)
{
	for (unsigned i = 0; i < ra->n_routes; i++)
		(void)routes_del(ra->nl, &ra->routes[i], RA_DEV);
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
	if (neigh_add(ra, &gw)) {
		pr_warn("route agent: cannot reach gateway %s's VTEP\n", a->node);
		return;
	}
	ra->gw = gw;
	ra->have_gw = true;
	ra->route_mtu = mtu;
	for (i = 0; i < a->adv.n_routes && i < ELECTION_MAX_ROUTES; i++) {
		struct cidr4 c = { .addr = a->adv.route_net[i], .len = a->adv.route_prefix[i] };

		if (routes_add(ra->nl, &c, gw.nexthop, RA_DEV, ra->src, mtu))
			continue;
		ra->routes[ra->n_routes++] = c;
	}
	pr_info("route agent: %u remote subnet(s) via gateway %s (mtu %u)\n", ra->n_routes,
		a->node, mtu);
}

static void unserve(struct route_agent *ra)
{
	for (unsigned i = 0; i < ra->n_rules; i++)
		(void)netlink_rule_from_del(ra->nl, RA_RETURN_PRIO, RA_RETURN_TABLE, &ra->rules[i]);
	ra->n_rules = 0;
	for (unsigned i = 0; i < ra->n_nodes; i++) {
		(void)routes_del_table(ra->nl, RA_RETURN_TABLE, &ra->slices[i], RA_DEV);
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
	for (unsigned i = 0; i < nw; i++) {
		if (neigh_add(ra, &want_nodes[i]) ||
		    routes_add_table(ra->nl, RA_RETURN_TABLE, &want_slices[i], want_nodes[i].nexthop,
				     RA_DEV, 0, (uint32_t)ra->mtu)) {
			neigh_del(ra, &want_nodes[i]);
			continue;
		}
		ra->nodes[ra->n_nodes] = want_nodes[i];
		ra->slices[ra->n_nodes++] = want_slices[i];
	}
	for (unsigned i = 0; i < nr; i++) {
		if (netlink_rule_from_ensure(ra->nl, RA_RETURN_PRIO, RA_RETURN_TABLE, &remote[i]))
			continue;
		ra->rules[ra->n_rules++] = remote[i];
	}
}

void ra_close(struct route_agent *ra)
{
	if (!ra)
		return;
	unfollow(ra);
	unserve(ra);
	(void)netlink_link_del(ra->nl, RA_DEV);
	routes_fini(ra->nl);
	netlink_close(ra->nl);
	free(ra);
}
