/* The ipsec cable's tunnel device: one L3 device per node where the tunnels' packets are
 * clear, on both data paths, so that routes, MTU, MSS clamping and globalnet's BPF programs
 * have one place to go:
 *   kernel-libipsec: charon's TUN device ipsec0 (charon makes it, and a new one whenever
 *                    charon restarts);
 *   kernel XFRM:     route-based IPsec through our XFRM interface sa-xfrm0 with if_id
 *                    XFRM_IF_ID. Every CHILD_SA and its policies carry that if_id
 *                    (if_id_in/if_id_out), so the policies match only packets routed into
 *                    the device, and decrypted packets come out of it. The agent makes the
 *                    device, and makes it again when it is gone.
 * Either way charon installs no routes: the driver routes the remote subnets through the
 * device in its own table (agent/routing/routes.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/cable/ipsec_int.h"
#include "agent/cable/strongswan/charon.h"
#include "agent/routing/netlink.h"
#include "agent/routing/routes.h"
#include "agent/routing/xfrm.h"
#include "common/log.h"

/* The if_id of our XFRM interface and of every SA and policy charon installs for us: any
 * value but 0 does (one device per network namespace); this one spells "SA". */
#define XFRM_IF_ID 0x5341
/* Our inbound policies rank after anything more specific an operator may install. */
#define XFRM_INNER_PRIO 1000

/* The largest packet that still fits the underlay once ESP in UDP is added, for the
 * costliest proposal charon may negotiate: outer IPv4 20 + UDP 8 + ESP header 8 + IV 16
 * (AES-CBC) + the payload and its 2 trailer bytes padded to a 16-byte block + ICV 32
 * (SHA-512). 1406 on a 1500-byte underlay (with AES-GCM alone it could be 1446). */
static int xfrm_mtu(int underlay_mtu)
{
	int room = underlay_mtu - 20 - 8 - 8 - 16 - 32;

	return room > 100 ? (room & ~15) - 2 : 0;
}

/* MTU of the device that holds the underlay address (1500 when unknown). */
static int underlay_mtu(uint32_t ip)
{
	char dev[16];
	int mtu;

	if (!ip || netlink_dev_of_addr(ip, dev))
		return 1500;
	mtu = netlink_link_mtu(dev);
	return mtu > 0 ? mtu : 1500;
}

static int make_xfrmi(struct cable_driver *d)
{
	/* No underlying device: the outer packets follow the routes to each peer, whichever
	 * interface that is. */
	struct netlink_xfrmi x = { .name = XFRM_DEV, .if_id = d->if_id,
				   .mtu = xfrm_mtu(underlay_mtu(d->underlay_ip)) };
	int rc = netlink_xfrmi_ensure(d->nl, &x);

	if (rc)
		pr_err("ipsec: create %s (if_id %#x): %s\n", XFRM_DEV, d->if_id, strerror(-rc));
	else
		pr_info("ipsec: %s up (if_id %#x, mtu %d)\n", XFRM_DEV, d->if_id, x.mtu);
	return rc;
}

int ipsec_dev_init(struct cable_driver *d, const struct cable_config *cfg, struct charon_opts *co)
{
	int err;

	d->libipsec = co->datapath == CHARON_DP_LIBIPSEC;
	d->if_id = d->libipsec ? 0 : XFRM_IF_ID;
	snprintf(d->dev, sizeof(d->dev), "%s", d->libipsec ? LIBIPSEC_DEV : XFRM_DEV);
	co->no_install_routes = true;
	d->health_ip = cfg->health_ip;
	d->underlay_ip = cfg->underlay_ip;
	for (unsigned i = 0; i < cfg->n_inner_subnets && d->n_inner < CABLE_MAX_SUBNETS; i++)
		d->inner[d->n_inner++] = cfg->inner_subnets[i];
	d->nl = netlink_open();
	if (!d->nl)
		return -errno;
	err = routes_init();
	if (err) {
		netlink_close(d->nl);
		d->nl = NULL;
		return err;
	}
	return d->libipsec ? 0 : make_xfrmi(d);
}

void ipsec_dev_fini(struct cable_driver *d)
{
	if (!d->nl)
		return;
	if (!d->libipsec && d->dev[0]) {
		int rc = netlink_link_del(d->nl, d->dev);

		if (rc && rc != -ENODEV)
			pr_warn("ipsec: remove %s: %s\n", d->dev, strerror(-rc));
	}
	routes_fini();
	netlink_close(d->nl);
	d->nl = NULL;
}

bool ipsec_dev_check(struct cable_driver *d)
{
	int idx;

	if (!d->nl || !d->dev[0])
		return false;
	idx = netlink_ifindex(d->dev);
	if (idx < 0 && !d->libipsec) {
		pr_warn("ipsec: %s is gone; making it again\n", d->dev);
		if (!make_xfrmi(d))
			idx = netlink_ifindex(d->dev);
	}
	if (idx < 0) {
		d->dev_ifindex = 0;
		return false;
	}
	if (idx == d->dev_ifindex)
		return false;
	d->dev_ifindex = idx;
	return true;
}

void ipsec_dev_policies(struct cable_driver *d, const struct peer *p, bool install)
{
	char s[CIDR4_STRLEN], t[CIDR4_STRLEN];

	if (d->libipsec || !d->if_id || !p->reqid)
		return;
	for (uint32_t i = 0; i < p->remote.n_subnets && i < CABLE_MAX_SUBNETS; i++)
		for (unsigned j = 0; j < d->n_inner; j++) {
			struct xfrm_in_policy xp = { .src = p->remote.subnets[i], .dst = d->inner[j],
						     .if_id = d->if_id, .reqid = p->reqid,
						     .priority = XFRM_INNER_PRIO };
			int rc = install ? xfrm_in_policy_update(&xp) : xfrm_in_policy_delete(&xp);

			if (!rc || (!install && rc == -ENOENT))
				continue;
			cidr4_format(&xp.src, s);
			cidr4_format(&xp.dst, t);
			pr_warn("ipsec: %s inbound policy %s -> %s (%s): %s\n",
				install ? "add" : "remove", s, t, p->remote.cluster_id, strerror(-rc));
		}
}
