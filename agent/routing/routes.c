/* The agent's routing table and its lookup rule. */
#include "agent/routing/routes.h"

#include <errno.h>
#include <string.h>

#include "agent/routing/guard.h"

#include "common/log.h"

/* The rule is shared by the cable and the route agent of one process: counted. */
static int users;

int routes_init(struct netlink *nl)
{
	int rc = netlink_rule_ensure(nl, SA_ROUTE_PRIO, SA_ROUTE_TABLE);

	if (rc)
		pr_err("add rule 'lookup %d': %s\n", SA_ROUTE_TABLE, strerror(-rc));
	else
		users++;
	return rc;
}

int routes_add(struct netlink *nl, const struct cidr4 *dst, uint32_t gw, const char *dev,
	       uint32_t src, uint32_t mtu)
{
	return routes_add_table(nl, SA_ROUTE_TABLE, dst, gw, dev, src, mtu);
}

int routes_add_table(struct netlink *nl, uint32_t table, const struct cidr4 *dst, uint32_t gw,
		     const char *dev, uint32_t src, uint32_t mtu)
{
	struct netlink_route r = { .dst = *dst, .gw = gw, .dev = dev, .src = src,
				   .table = table, .onlink = gw != 0, .mtu = mtu,
				   .advmss = mtu > 40 ? mtu - 40 : 0 };
	char buf[CIDR4_STRLEN], why[160];
	int rc;

	/* Routes to other clusters never take the broker, a peer's underlay or the node's own
	 * networks, whoever asked for them (the engine refuses such remotes before). */
	if (table == SA_ROUTE_TABLE && route_guard_check(dst, NULL, 0, why, sizeof(why))) {
		cidr4_format(dst, buf);
		pr_err("refuse route %s dev %s: %s\n", buf, dev, why);
		return -EPERM;
	}
	rc = netlink_route_replace(nl, &r);
	if (rc) {
		cidr4_format(dst, buf);
		pr_err("add route %s dev %s: %s\n", buf, dev, strerror(-rc));
	}
	return rc;
}

int routes_del(struct netlink *nl, const struct cidr4 *dst, const char *dev)
{
	return routes_del_table(nl, SA_ROUTE_TABLE, dst, dev);
}

int routes_del_table(struct netlink *nl, uint32_t table, const struct cidr4 *dst, const char *dev)
{
	struct netlink_route r = { .dst = *dst, .dev = dev, .table = table };

	return netlink_route_del(nl, &r);
}

void routes_fini(struct netlink *nl)
{
	if (users > 0 && --users == 0)
		(void)netlink_rule_del(nl, SA_ROUTE_PRIO, SA_ROUTE_TABLE);
}
