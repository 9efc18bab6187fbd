/* Route agent: every node's VXLAN link (sa-vxr) to the cluster's active gateway.
 * On a node that is not the active gateway, the remote clusters' subnets (advertised by
 * the active gateway in its election heartbeat) are routed over sa-vxr to the active
 * gateway's VTEP. On the active gateway, traffic coming from the remote subnets to another
 * node's pod slice goes back the same way (a source rule and the return table). */
#ifndef SA_ROUTE_AGENT_H
#define SA_ROUTE_AGENT_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "agent/election/election.h"
#include "common/cidr.h"

#define RA_DEV "sa-vxr"

struct route_agent;

/* Creates sa-vxr on the device holding node_ip (its routes and the return path's are in
 * the tables of routes.h). src: preferred source of routed host
 * traffic (an address inside the cluster CIDR, 0: none). NULL + errno. */
struct route_agent *ra_open(uint32_t node_ip, uint32_t src);
void ra_close(struct route_agent *ra);	/* removes everything it made; NULL-safe */
void ra_vtep_mac(const struct route_agent *ra, uint8_t mac[6]);
int ra_mtu(const struct route_agent *ra);

/* Routes the active gateway's advertised subnets via its VTEP; NULL (or self): none. */
void ra_follow(struct route_agent *ra, const struct election_peer *active);
/* Active gateway: return path for remote subnets to every other alive node's pod slice;
 * n == 0 or nremote == 0 removes it. */
void ra_serve(struct route_agent *ra, const struct election_peer *peers, unsigned n,
	      const struct cidr4 *remote, unsigned nremote);
/* Checks and repairs the device and the neighbour and forwarding entries of what it
 * follows and serves (routes: routes_sync()). 0, or the -errno of what is still failing. */
int ra_sync(struct route_agent *ra, uint64_t now);
/* What has not converged (retry_report() entries). */
void ra_report(const struct route_agent *ra, cJSON *arr, uint64_t now);

#endif
