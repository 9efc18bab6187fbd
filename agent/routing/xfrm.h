/* XFRM policies of the agent's own, over NETLINK_XFRM (libmnl), in the network namespace the
 * process runs in. charon installs the policies of the traffic selectors it negotiates; the
 * agent adds only what charon cannot know: on the route-based kernel data path with
 * globalnet, the BPF programs on the XFRM interface translate a decrypted packet's global
 * destination to a local address *before* the kernel checks it against the inbound
 * policies, so each remote gets "in" and "fwd" policies from its global subnets to the
 * cluster's own subnets, bound to its CHILD_SA by reqid and to the XFRM interface by if_id.
 * A packet that another remote's SA decrypted still fails the check (another reqid).
 * Addresses are IPv4, host byte order; functions return 0 or -errno. */
#ifndef SA_XFRM_H
#define SA_XFRM_H

#include <stdint.h>

#include "common/cidr.h"

struct xfrm_in_policy {
	struct cidr4 src, dst;	/* the selector: from src to dst */
	uint32_t if_id;		/* only packets received through this XFRM interface */
	uint32_t reqid;		/* decrypted by an ESP tunnel-mode SA with this reqid */
	uint32_t priority;
};

/* Adds or replaces the "in" and "fwd" policies of p. */
int xfrm_in_policy_update(const struct xfrm_in_policy *p) __attribute__((warn_unused_result));
/* Deletes both; -ENOENT when neither was there. */
int xfrm_in_policy_delete(const struct xfrm_in_policy *p);

#endif
