/* Links, addresses, routes, rules and neighbours through rtnetlink (libnl-route-3), in the
 * network namespace the process runs in. Addresses are IPv4, host byte order. All functions
 * return 0 or -errno (libnl errors mapped to errno values). */
#ifndef SA_NETLINK_H
#define SA_NETLINK_H

#include <stdbool.h>
#include <stdint.h>

#include "common/cidr.h"

struct netlink;

struct netlink *netlink_open(void);	/* NULL + errno */
void netlink_close(struct netlink *nl);

struct netlink_vxlan {
	const char *name;
	uint32_t vni;
	uint32_t local;		/* underlay source address */
	uint16_t port;		/* UDP destination port */
	int mtu;		/* 0: let the kernel derive it */
	const uint8_t *mac;	/* 6 bytes or NULL */
};

/* Creates the VXLAN device, or leaves an existing one with the same settings alone
 * (an existing one with other settings is replaced). Brings it up. */
int netlink_vxlan_ensure(struct netlink *nl, const struct netlink_vxlan *vx)
	__attribute__((warn_unused_result));
struct netlink_xfrmi {
	const char *name;
	uint32_t if_id;		/* the XFRM states and policies it carries (not 0) */
	uint32_t link;		/* ifindex of the underlying device; 0: none (routes decide) */
	int mtu;		/* 0: the kernel's default */
};

/* Creates the XFRM interface (route-based IPsec), or leaves an existing one with the same
 * if_id and link alone (one with other settings is replaced). Brings it up with mtu. */
int netlink_xfrmi_ensure(struct netlink *nl, const struct netlink_xfrmi *x)
	__attribute__((warn_unused_result));
int netlink_link_del(struct netlink *nl, const char *name);	/* -ENODEV if absent */
int netlink_link_set_mtu(struct netlink *nl, const char *name, int mtu)
	__attribute__((warn_unused_result));
/* ifindex, or -ENODEV. */
int netlink_ifindex(const char *name);
/* MTU of a device, or -errno. */
int netlink_link_mtu(const char *name);
int netlink_link_mac(const char *name, uint8_t mac[6]) __attribute__((warn_unused_result));

int netlink_addr_replace(struct netlink *nl, const char *dev, uint32_t addr, uint8_t len)
	__attribute__((warn_unused_result));
int netlink_addr_del(struct netlink *nl, const char *dev, uint32_t addr, uint8_t len);

struct netlink_route {
	struct cidr4 dst;
	uint32_t gw;		/* 0: directly on dev */
	const char *dev;	/* NULL: resolved by the kernel from gw */
	uint32_t src;		/* preferred source, 0: none */
	uint32_t table;		/* 0: main */
	int onlink;
	uint32_t mtu;		/* RTAX_MTU, 0: none */
	uint32_t advmss;	/* RTAX_ADVMSS, 0: none */
	uint32_t priority;
	bool blackhole;		/* a blackhole route (dev, gw, src, mtu unused) */
};

int netlink_route_replace(struct netlink *nl, const struct netlink_route *r)
	__attribute__((warn_unused_result));
/* Deletes the route to dst in table (and dev, when given). -ESRCH when absent. */
int netlink_route_del(struct netlink *nl, const struct netlink_route *r);

/* A route as the kernel has it (what netlink_route_list() reports). */
struct netlink_route_info {
	struct cidr4 dst;
	uint32_t table;
	int ifindex;		/* of the first next hop, 0: none */
	uint32_t gw, src, mtu;	/* 0: none */
	bool blackhole;
};
/* Calls cb for every IPv4 route of table (a dump; cb must not call back into nl). */
int netlink_route_list(struct netlink *nl, uint32_t table,
		       void (*cb)(void *ctx, const struct netlink_route_info *r), void *ctx)
	__attribute__((warn_unused_result));

/* Permanent neighbour entry ip -> mac on dev. */
int netlink_neigh_replace(struct netlink *nl, const char *dev, uint32_t ip, const uint8_t mac[6])
	__attribute__((warn_unused_result));
int netlink_neigh_del(struct netlink *nl, const char *dev, uint32_t ip);
/* VXLAN forwarding entry: frames for mac go to the remote VTEP dst. */
int netlink_fdb_replace(struct netlink *nl, const char *dev, const uint8_t mac[6], uint32_t dst)
	__attribute__((warn_unused_result));
int netlink_fdb_del(struct netlink *nl, const char *dev, const uint8_t mac[6], uint32_t dst);

/* "from all lookup TABLE" at priority prio; adding an existing rule is not an error. */
int netlink_rule_ensure(struct netlink *nl, uint32_t prio, uint32_t table)
	__attribute__((warn_unused_result));
int netlink_rule_del(struct netlink *nl, uint32_t prio, uint32_t table);
/* "from SRC lookup TABLE" at priority prio. */
int netlink_rule_from_ensure(struct netlink *nl, uint32_t prio, uint32_t table,
			     const struct cidr4 *src) __attribute__((warn_unused_result));
int netlink_rule_from_del(struct netlink *nl, uint32_t prio, uint32_t table,
			  const struct cidr4 *src);

/* A rule as the kernel has it: "from src (len 0: all) lookup table" at prio. */
struct netlink_rule_info {
	uint32_t prio, table;
	struct cidr4 src;
};
/* Calls cb for every IPv4 rule that looks up a table (a dump). */
int netlink_rule_list(struct netlink *nl,
		      void (*cb)(void *ctx, const struct netlink_rule_info *r), void *ctx)
	__attribute__((warn_unused_result));

/* The local source address the kernel would use to reach dst (no packet is sent). */
int netlink_source_for(uint32_t dst, uint32_t *src) __attribute__((warn_unused_result));
/* The first local address inside c; -ENOENT when none. ifname (IFNAMSIZ) may be NULL. */
int netlink_local_addr_in(const struct cidr4 *c, uint32_t *addr, char *ifname)
	__attribute__((warn_unused_result));
/* The device holding local address addr, into ifname (IFNAMSIZ); -ENOENT when none. */
int netlink_dev_of_addr(uint32_t addr, char *ifname) __attribute__((warn_unused_result));

int netlink_parse_mac(const char *s, uint8_t mac[6]) __attribute__((warn_unused_result));
void netlink_format_mac(const uint8_t mac[6], char out[18]);

#endif
