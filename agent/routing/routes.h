/* The agent's own routing table: routes to remote clusters live in table SA_ROUTE_TABLE,
 * looked up through one rule at priority SA_ROUTE_PRIO (before the main table), so the
 * agent never edits the node's main table and cleaning up is one table and one rule. */
#ifndef SA_ROUTES_H
#define SA_ROUTES_H

#include <stdint.h>

#include "agent/routing/netlink.h"
#include "common/cidr.h"

#define SA_ROUTE_TABLE 150
#define SA_ROUTE_PRIO 150

int routes_init(struct netlink *nl) __attribute__((warn_unused_result));
/* Routes dst via gw (onlink) on dev with preferred source src (0: none). mtu, when not 0,
 * sets the route's MTU and an advertised MSS that fits it. */
int routes_add(struct netlink *nl, const struct cidr4 *dst, uint32_t gw, const char *dev,
	       uint32_t src, uint32_t mtu) __attribute__((warn_unused_result));
int routes_del(struct netlink *nl, const struct cidr4 *dst, const char *dev);
/* The same in another table (the gateway's return table). */
int routes_add_table(struct netlink *nl, uint32_t table, const struct cidr4 *dst, uint32_t gw,
		     const char *dev, uint32_t src, uint32_t mtu) __attribute__((warn_unused_result));
int routes_del_table(struct netlink *nl, uint32_t table, const struct cidr4 *dst, const char *dev);
void routes_fini(struct netlink *nl);

#endif
