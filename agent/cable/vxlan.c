/* Cable driver "vxlan": unencrypted kernel VXLAN between gateways, for networks that are
 * already private. One device (sa-vx0) for every remote: each remote gateway gets a
 * next-hop address 240.x.y.z (from the last three octets of its underlay address), a
 * permanent neighbour entry next-hop -> its device MAC (published in its Endpoint), and a
 * forwarding entry MAC -> its underlay address. Routes to the remote subnets go through
 * the next hop in the agent's routing table (agent/routing/routes.h). */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cable/cable.h"
#include "agent/routing/netlink.h"
#include "agent/routing/routes.h"
#include "common/log.h"
#include "common/util.h"

#define VX_DEV "sa-vx0"
#define VX_VNI 4242
#define VX_PORT 4790
#define VX_OVERHEAD 50	/* outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14 */
#define MAX_REMOTES 64

struct vx_remote {
	char cluster_id[CABLE_ID_MAX];
	uint32_t remote_ip, nexthop;
	uint64_t epoch;
	uint8_t mac[6];
	struct cidr4 subnets[CABLE_MAX_SUBNETS];
	unsigned n_subnets;
	struct retry st;	/* its neighbour, forwarding entry and routes */
};

struct cable_driver {
	struct netlink *nl;
	uint32_t underlay_ip, health_ip;
	uint8_t mac[6];
	int mtu;
	struct retry dev_st;
	struct vx_remote r[MAX_REMOTES];
	unsigned n;
	cable_event_cb on_event;
	void *ctx;
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

static int ensure_dev(struct cable_driver *d)
{
	struct netlink_vxlan vx = { .name = VX_DEV, .vni = VX_VNI, .local = d->underlay_ip,
				    .port = VX_PORT, .mtu = d->mtu, .mac = d->mac };

	return netlink_vxlan_ensure(d->nl, &vx);
}

static int vx_init(const struct cable_config *cfg, struct cable_driver **out)
{
	struct cable_driver *d = calloc(1, sizeof(*d));
	char dev[IFNAMSIZ];
	int mtu, rc;

	if (!d)
		return -ENOMEM;
	if (!cfg->underlay_ip) {
		free(d);
		return -EINVAL;
	}
	d->underlay_ip = cfg->underlay_ip;
	d->health_ip = cfg->health_ip;
	d->on_event = cfg->on_event;
	d->ctx = cfg->ctx;
	d->nl = netlink_open();
	if (!d->nl) {
		rc = -errno;
		goto err;
	}
	/* The MTU comes from the device the underlay address lives on. */
	rc = netlink_dev_of_addr(d->underlay_ip, dev);
	if (rc) {
		pr_err("vxlan: no local device holds the underlay address: %s\n", strerror(-rc));
		goto err;
	}
	mtu = netlink_link_mtu(dev);
	if (mtu < 0) {
		rc = mtu;
		goto err;
	}
	d->mtu = mtu - VX_OVERHEAD;
	vtep_mac(d->underlay_ip, d->mac);
	rc = ensure_dev(d);
	if (rc) {
		pr_err("vxlan: create %s: %s\n", VX_DEV, strerror(-rc));
		goto err;
	}
	rc = routes_init();
	if (rc)
		goto err;
	pr_info("vxlan: %s up (vni %u, port %u, mtu %d from %s)\n", VX_DEV, VX_VNI, VX_PORT,
		d->mtu, dev);
	*out = d;
	return 0;
err:
	if (d->nl) {
		(void)netlink_link_del(d->nl, VX_DEV);
		netlink_close(d->nl);
	}
	free(d);
	return rc;
}

static void vx_describe(struct cable_driver *d, struct cable_endpoint *local)
{
	netlink_format_mac(d->mac, local->vtep_mac);
}

static struct vx_remote *find(struct cable_driver *d, const char *cluster)
{
	for (unsigned i = 0; i < d->n; i++)
		if (!strcmp(d->r[i].cluster_id, cluster))
			return &d->r[i];
	return NULL;
}

static void remove_remote(struct cable_driver *d, struct vx_remote *r)
{
	for (unsigned i = 0; i < r->n_subnets; i++)
		routes_del(&r->subnets[i], VX_DEV);
	(void)netlink_fdb_del(d->nl, VX_DEV, r->mac, r->remote_ip);
	(void)netlink_neigh_del(d->nl, VX_DEV, r->nexthop);
}

/* The remote's neighbour and forwarding entries (replacing an entry that is there
 * changes nothing) and its routes (wanted in routes.h's tables even when this attempt
 * fails). A failure is retried by vx_sync(). */
static int install_remote(struct cable_driver *d, struct vx_remote *r)
{
	int rc, rr;

	if ((rc = netlink_neigh_replace(d->nl, VX_DEV, r->nexthop, r->mac)) ||
	    (rc = netlink_fdb_replace(d->nl, VX_DEV, r->mac, r->remote_ip)))
		retry_fail(&r->st, util_now_ns(), rc, "neighbour of %s on %s: %s", r->cluster_id,
			   VX_DEV, strerror(-rc));
	for (unsigned i = 0; i < r->n_subnets; i++) {
		rr = routes_add(&r->subnets[i], r->nexthop, VX_DEV, d->health_ip,
				(uint32_t)d->mtu);
		rc = rc ? rc : rr;
	}
	if (!rc)
		retry_ok(&r->st);
	return rc;
}

static int vx_disconnect(struct cable_driver *d, const char *cluster)
{
	struct vx_remote *r = find(d, cluster);

	if (!r)
		return -ENOENT;
	remove_remote(d, r);
	pr_info("vxlan: disconnected %s\n", cluster);
	if (d->on_event)
		d->on_event(d->ctx, cluster, false);
	*r = d->r[--d->n];
	return 0;
}

static int vx_connect(struct cable_driver *d, const struct cable_endpoint *ep,
		      uint32_t remote_ip, const struct cable_endpoint *local)
{
	struct vx_remote nr = { 0 }, *r;
	char ipbuf[16];
	int rc;

	if (netlink_parse_mac(ep->vtep_mac, nr.mac))
		return -EINVAL;
	snprintf(nr.cluster_id, sizeof(nr.cluster_id), "%s", ep->cluster_id);
	nr.remote_ip = remote_ip;
	nr.nexthop = nexthop_of(remote_ip);
	nr.epoch = ep->epoch;
	nr.n_subnets = ep->n_subnets < CABLE_MAX_SUBNETS ? ep->n_subnets : CABLE_MAX_SUBNETS;
	memcpy(nr.subnets, ep->subnets, sizeof(nr.subnets[0]) * nr.n_subnets);
	for (unsigned i = 0; i < d->n; i++) {
		if (strcmp(d->r[i].cluster_id, ep->cluster_id) && d->r[i].nexthop == nr.nexthop) {
			pr_err("vxlan: %s and %s map to the same next hop; not connecting %s\n",
			       d->r[i].cluster_id, ep->cluster_id, ep->cluster_id);
			return -EADDRINUSE;
		}
	}
	r = find(d, ep->cluster_id);
	if (r) {
		remove_remote(d, r);
	} else {
		if (d->n == MAX_REMOTES)
			return -ENOSPC;
		r = &d->r[d->n++];
	}
	*r = nr;
	rc = install_remote(d, r);
	if (rc)
		pr_warn("vxlan: connect %s: %s (retrying)\n", ep->cluster_id, strerror(-rc));
	ip4_format(remote_ip, ipbuf);
	pr_info("vxlan: connected %s via %s\n", ep->cluster_id, ipbuf);
	if (d->on_event)
		d->on_event(d->ctx, ep->cluster_id, true);
	return 0;
}

static int vx_list(struct cable_driver *d, struct cable_status **out, size_t *n)
{
	struct cable_status *st = calloc(d->n ? d->n : 1, sizeof(*st));
	bool up = netlink_ifindex(VX_DEV) > 0;

	if (!st)
		return -ENOMEM;
	for (unsigned i = 0; i < d->n; i++) {
		snprintf(st[i].cluster_id, sizeof(st[i].cluster_id), "%s", d->r[i].cluster_id);
		st[i].connected = up;
		snprintf(st[i].state, sizeof(st[i].state), "%s", up ? "connected" : "down");
		st[i].remote_ip = d->r[i].remote_ip;
		st[i].epoch = d->r[i].epoch;
		st[i].fault = d->dev_st.err ? d->dev_st : d->r[i].st;
	}
	*out = st;
	*n = d->n;
	return 0;
}

/* The device (put back when it was deleted: its entries and routes went with it) and
 * every remote's entries. */
static int vx_sync(struct cable_driver *d)
{
	uint64_t now = util_now_ns();
	bool had = netlink_ifindex(VX_DEV) > 0;
	int rc = 0;

	if (!retry_due(&d->dev_st, now))
		return d->dev_st.err;
	rc = ensure_dev(d);
	if (rc) {
		retry_fail(&d->dev_st, now, rc, "device %s: %s", VX_DEV, strerror(-rc));
		return rc;
	}
	if (!had)
		pr_info("vxlan: %s was missing; put back\n", VX_DEV);
	retry_ok(&d->dev_st);
	for (unsigned i = 0; i < d->n; i++)
		if (retry_due(&d->r[i].st, now) && install_remote(d, &d->r[i]))
			rc = d->r[i].st.err;
	return rc;
}

static int vx_fd(const struct cable_driver *d) { return -1; }
static int vx_dispatch(struct cable_driver *d) { return 0; }

static void vx_fini(struct cable_driver *d)
{
	if (!d)
		return;
	while (d->n)
		(void)vx_disconnect(d, d->r[0].cluster_id);
	(void)netlink_link_del(d->nl, VX_DEV);
	routes_fini();
	netlink_close(d->nl);
	free(d);
}

static int vxlan_tunnel_dev(const struct cable_driver *d, struct cable_dev *out)
{
	(void)d;
	snprintf(out->name, sizeof(out->name), "%s", VX_DEV);
	out->kind = CABLE_DEV_ETHER;
	return 0;
}

const struct cable_ops cable_vxlan_ops = {
	.name = "vxlan",
	.init = vx_init,
	.connect = vx_connect,
	.disconnect = vx_disconnect,
	.list = vx_list,
	.fd = vx_fd,
	.dispatch = vx_dispatch,
	.fini = vx_fini,
	.sync = vx_sync,
	.tunnel_dev = vxlan_tunnel_dev,
	.describe = vx_describe,
	.encrypts = false,
};
