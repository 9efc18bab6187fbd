/* TCP MSS clamping where the path shrinks: an nftables table "subagent_mss" in the node's
 * network namespace that sets the MSS of forwarded SYNs leaving through a subagent device
 * (sa-vxr, sa-vx0, and ipsec0 or sa-xfrm0, the ipsec cable's device on either data path) to
 * what the route's MTU allows. The route MTUs come from the real devices (see route_agent.c
 * and agent/cable/ipsec_dev.c). Runs the nft command. */
#ifndef SA_MSS_H
#define SA_MSS_H

int mss_clamp_install(void) __attribute__((warn_unused_result));
/* 0 when the table is there, -ENOENT when it is not, other -errno when nft cannot run. */
int mss_clamp_check(void) __attribute__((warn_unused_result));
void mss_clamp_remove(void);

#endif
