/* The agent's own routing tables, kept converged: routes to remote clusters live in table
 * SA_ROUTE_TABLE, looked up through one rule at priority SA_ROUTE_PRIO (before the main
 * table), and the active gateway's return path in SA_RETURN_TABLE behind source rules, so
 * the agent never edits the node's main table and cleaning up is two tables and their
 * rules.
 *
 * Callers say what they want; this module makes the kernel agree, at once and again at
 * every routes_sync(), which reads the tables and rules back, puts back what is missing or
 * different (a route deleted by hand, one whose device came back), removes what nobody
 * wants (left by an agent that was killed), and retries failed steps with backoff. One per
 * process (the tables are the node's); single-threaded. */
#ifndef SA_ROUTES_H
#define SA_ROUTES_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "common/cidr.h"

#define SA_ROUTE_TABLE 150
#define SA_ROUTE_PRIO 150
#define SA_RETURN_TABLE 151
#define SA_RETURN_PRIO 149

/* A user of the tables (the route agent, a cable). The first opens the module's netlink
 * socket; while there is one the lookup rule of SA_ROUTE_TABLE is wanted. 0 or -errno. */
int routes_init(void) __attribute__((warn_unused_result));
/* The last user removes every route and rule of the agent's tables, wanted or not. */
void routes_fini(void);

/* Wants dst via gw (onlink; 0: directly) on dev with preferred source src (0: none) in
 * table; mtu, when not 0, sets the route's MTU and an advertised MSS that fits it. dev
 * NULL wants a blackhole route to dst (gw, src and mtu unused): what takes it is dropped
 * without a word. A route to the same dst in that table is replaced. Returns the result
 * of the first attempt; a failure is retried by routes_sync(). */
int routes_add_table(uint32_t table, const struct cidr4 *dst, uint32_t gw, const char *dev,
		     uint32_t src, uint32_t mtu);
int routes_add(const struct cidr4 *dst, uint32_t gw, const char *dev, uint32_t src,
	       uint32_t mtu);
/* No longer wants dst on dev (NULL: the blackhole route); a route to dst that was since
 * wanted on another device stays. */
void routes_del_table(uint32_t table, const struct cidr4 *dst, const char *dev);
void routes_del(const struct cidr4 *dst, const char *dev);
/* Wants "from src lookup table" at prio (counted: as many dels as adds). */
int routes_rule_add(uint32_t prio, uint32_t table, const struct cidr4 *src);
void routes_rule_del(uint32_t prio, uint32_t table, const struct cidr4 *src);

/* Reads the tables and rules back and repairs them (see above). Returns how many routes
 * and rules it put back or removed, or -errno when the kernel could not be read. */
int routes_sync(uint64_t now);
/* Every wanted route or rule whose last attempt failed (retry_report() entries). */
void routes_report(cJSON *arr, uint64_t now);

#endif
