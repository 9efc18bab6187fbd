/* Cable driver "vxlan": unencrypted kernel VXLAN between gateways, for networks that are
 * already private. One device (sa-vx0) for every remote: each remote gateway gets a
 * next-hop address 240.x.y.z (from the last three octets of its underlay address), a
 * permanent neighbour entry next-hop -> its device MAC (published in its Endpoint), and a
 * forwarding entry MAC -> its underlay address. Routes to the remote subnets go through
 * the next hop in the agent's routing table. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cable.h"
#include "agent/netlink.h"
#include "agent/routes.h"
#include "common/log.h"
#include "common/util.h"

#define VX_DEV "sa-vx0"
#define VX_VNI 4242
#define VX_PORT 4790
#define VX_OVERHEAD 50	/* outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14 */
#define MAX_REMOTES 64

struct vx_remote {
	char cluster_id[EP_NAME_MAX];
	uint32_t remote_ip, nexthop;
	uint8_t mac[6];
	struct cidr4 subnets[EP_MAX_SUBNETS];
	unsigned n_subnets;
};

struct cable {
	struct netlink *nl;
	struct cable_local local;
	uint8_t mac[6];
	int mtu;
	struct vx_remote r[MAX_REMOTES];
	unsigned n;
};

/* A locally administered MAC derived from the underlay address: stable across restarts. */
static void vtep_mac(uint32_t ip, uint8_t mac[6])
{
	mac[0] = 0x02;
	mac[1] = 0x5a;
	mac[2] = (uint8_t)(ip >> 24);
	mac[3] = (uint8_t)(ip >> 16);
	mac[4] = (uint8_t)(ip >> 8);
	mac[5] = (uint8_t)ip;
}

static uint32_t nexthop_of(uint32_t ip)
{
	return (240u << 24) | (ip & 0xffffff);
}

static int vx_open(const struct cable_local *local, struct cable **out)
{
	struct cable *c = calloc(1, sizeof(*c));
	char dev[IFNAMSIZ];
	int mtu, rc;

	if (!c)
		return -ENOMEM;
	c->local = *local;
	c->nl = netlink_open();
	if (!c->nl) {
		rc = -errno;
		goto err;
	}
	/* The MTU comes from the device the underlay address lives on. */
	rc = netlink_dev_of_addr(local->private_ip, dev);
	if (rc) {
		pr_err("vxlan: no local device holds the underlay address: %s\n", strerror(-rc));
		goto err;
	}
	mtu = netlink_link_mtu(dev);
	if (mtu < 0) {
		rc = mtu;
		goto err;
	}
	c->mtu = mtu - VX_OVERHEAD;
	vtep_mac(local->private_ip, c->mac);
	struct netlink_vxlan vx = { .name = VX_DEV, .vni = VX_VNI, .local = local->private_ip,
				    .port = VX_PORT, .mtu = c->mtu, .mac = c->mac };
	rc = netlink_vxlan_ensure(c->nl, &vx);
	if (rc) {
		pr_err("vxlan: create %s: %s\n", VX_DEV, strerror(-rc));
		goto err;
	}
	rc = routes_init(c->nl);
	if (rc)
		goto err;
	pr_info("vxlan: %s up (vni %u, port %u, mtu %d from %s)\n", VX_DEV, VX_VNI, VX_PORT,
		c->mtu, dev);
	*out = c;
	return 0;
err:
	if (c->nl) {
		(void)netlink_link_del(c->nl, VX_DEV);
		netlink_close(c->nl);
	}
	free(c);
	return rc;
}

static void vx_describe(struct cable *c, struct sa_endpoint *ep)
{
	netlink_format_mac(c->mac, ep->vtep_mac);
}

static struct vx_remote *find(struct cable *c, const char *cluster)
{
	for (unsigned i = 0; i < c->n; i++)
		if (!strcmp(c->r[i].cluster_id, cluster))
			return &c->r[i];
	return NULL;
}

static void remove_remote(struct cable *c, struct vx_remote *r)
{
	for (unsigned i = 0; i < r->n_subnets; i++)
		(void)routes_del(c->nl, &r->subnets[i], VX_DEV);
	(void)netlink_fdb_del(c->nl, VX_DEV, r->mac, r->remote_ip);
	(void)netlink_neigh_del(c->nl, VX_DEV, r->nexthop);
}

static int install_remote(struct cable *c, const struct vx_remote *r)
{
	int rc;

	if ((rc = netlink_neigh_replace(c->nl, VX_DEV, r->nexthop, r->mac)) ||
	    (rc = netlink_fdb_replace(c->nl, VX_DEV, r->mac, r->remote_ip)))
		return rc;
	for (unsigned i = 0; i < r->n_subnets; i++) {
		rc = routes_add(c->nl, &r->subnets[i], r->nexthop, VX_DEV, c->local.health_ip,
				(uint32_t)c->mtu);
		if (rc)
			return rc;
	}
	return 0;
}

static int vx_disconnect(struct cable *c, const char *cluster)
{
	struct vx_remote *r = find(c, cluster);

	if (!r)
		return -ENOENT;
	remove_remote(c, r);
	pr_info("vxlan: disconnected %s\n", cluster);
	*r = c->r[--c->n];
	return 0;
}

static int vx_connect(struct cable *c, const struct sa_endpoint *ep, uint32_t remote_ip)
{
	struct vx_remote nr = { 0 }, *r;
	char ipbuf[16];
	int rc;

	if (netlink_parse_mac(ep->vtep_mac, nr.mac))
		return -EINVAL;
	snprintf(nr.cluster_id, sizeof(nr.cluster_id), "%s", ep->cluster_id);
	nr.remote_ip = remote_ip;
	nr.nexthop = nexthop_of(remote_ip);
	memcpy(nr.subnets, ep->subnets, sizeof(ep->subnets));
	nr.n_subnets = ep->n_subnets;
	for (unsigned i = 0; i < c->n; i++) {
		if (strcmp(c->r[i].cluster_id, ep->cluster_id) && c->r[i].nexthop == nr.nexthop) {
			pr_err("vxlan: %s and %s map to the same next hop; not connecting %s\n",
			       c->r[i].cluster_id, ep->cluster_id, ep->cluster_id);
			return -EADDRINUSE;
		}
	}
	r = find(c, ep->cluster_id);
	if (r) {
		remove_remote(c, r);
	} else {
		if (c->n == MAX_REMOTES)
			return -ENOSPC;
		r = &c->r[c->n++];
	}
	*r = nr;
	rc = install_remote(c, r);
	if (rc)
		goto err;
	ip4_format(remote_ip, ipbuf);
	pr_info("vxlan: connected %s via %s\n", ep->cluster_id, ipbuf);
	return 0;
err:
	pr_err("vxlan: connect %s: %s\n", ep->cluster_id, strerror(-rc));
	remove_remote(c, r);
	*r = c->r[--c->n];
	return rc;
}

static int vx_status(struct cable *c, const char *cluster, struct cable_status *st)
{
	memset(st, 0, sizeof(*st));
	if (!find(c, cluster))
		return -ENOENT;
	st->up = netlink_ifindex(VX_DEV) > 0;
	return 0;
}

static int vx_fd(struct cable *c) { return -1; }
static void vx_dispatch(struct cable *c) { }

static void vx_tick(struct cable *c)
{
	/* Someone deleted the device: build it again with every remote. */
	if (netlink_ifindex(VX_DEV) > 0)
		return;
	pr_warn("vxlan: %s vanished; recreating it\n", VX_DEV);
	struct netlink_vxlan vx = { .name = VX_DEV, .vni = VX_VNI, .local = c->local.private_ip,
				    .port = VX_PORT, .mtu = c->mtu, .mac = c->mac };
	if (netlink_vxlan_ensure(c->nl, &vx))
		return;
	for (unsigned i = 0; i < c->n; i++)
		if (install_remote(c, &c->r[i]))
			pr_warn("vxlan: could not restore %s\n", c->r[i].cluster_id);
}

static void vx_close(struct cable *c)
{
	if (!c)
		return;
	while (c->n)
		(void)vx_disconnect(c, c->r[0].cluster_id);
	(void)netlink_link_del(c->nl, VX_DEV);
	routes_fini(c->nl);
	netlink_close(c->nl);
	free(c);
}

const struct cable_ops cable_vxlan_ops = {
	.name = "vxlan",
	.open = vx_open,
	.describe = vx_describe,
	.connect = vx_connect,
	.disconnect = vx_disconnect,
	.status = vx_status,
	.fd = vx_fd,
	.dispatch = vx_dispatch,
	.tick = vx_tick,
	.close = vx_close,
};
