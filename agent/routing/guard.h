/* What no route the agent installs towards other clusters may cover: the broker's
 * addresses (the agent must always reach it), the remote gateways' underlay addresses
 * (the tunnel's own packets must not enter the tunnel), and the node's own networks
 * (its node network, pods, loopback). A remote cluster that claims such a subnet is
 * refused before anything is installed, and routes_add() checks again. The node sets the
 * brokers, the gateway engine the peers; the node's networks are read from its
 * interfaces at every check. Used from the node's main thread only. */
#ifndef SA_ROUTE_GUARD_H
#define SA_ROUTE_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include "common/cidr.h"

#define GUARD_MAX_ADDRS 256

struct guard_addr {
	uint32_t addr;
	char what[96];		/* "the broker", "gateway c2-n1's public address" */
};

struct guard_net {
	struct cidr4 net;
	char dev[16];
};

/* Replace the list of broker / peer addresses (copied). */
void route_guard_set_brokers(const uint32_t *addrs, unsigned n);
void route_guard_set_peers(const struct guard_addr *peers, unsigned n);
/* 0 when dst covers no broker or peer address (nor one of extra), and overlaps none of the
 * node's networks; -EPERM with the reason in why otherwise. */
int route_guard_check(const struct cidr4 *dst, const struct guard_addr *extra, unsigned n_extra,
		      char *why, size_t len) __attribute__((warn_unused_result));
/* The same against explicit lists (what route_guard_check() gathers). */
int route_guard_check_lists(const struct cidr4 *dst, const struct guard_addr *addrs, unsigned n,
			    const struct guard_net *nets, unsigned nn, char *why, size_t len)
	__attribute__((warn_unused_result));
/* The node's networks: every IPv4 address's prefix, except on the agent's own devices
 * (ipsec0, sa-*). Returns how many (<= max), or -errno. */
int route_guard_local_nets(struct guard_net *out, unsigned max);

#endif
