/* The node's own addresses: on the cluster network, and that network's broadcast; the
 * broker's addresses, which no route to another cluster may cover. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "agent/node/node_int.h"
#include "agent/routing/guard.h"
#include "agent/routing/netlink.h"
#include "agent/routing/podcidr.h"
#include "broker/creds/broker_info.h"
#include "common/log.h"
#include "common/util.h"

int node_find_ip(struct node *n)
{
	struct ifaddrs *ifa, *i;
	uint32_t avoid = 0;
	int rc = -ENOENT;

	if (n->o->node_ip)
		return ip4_parse(n->o->node_ip, &n->node_ip) ? -EINVAL : 0;
	if (n->cfg.n_broker_urls) {
		char host[BRK_URL_MAX + 1];
		unsigned port;
		uint32_t b;

		if (!brk_url_parse(n->cfg.broker_urls[0], host, sizeof(host), &port) &&
		    !ip4_parse(host, &b))
			(void)!netlink_source_for(b, &avoid);
	}
	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (int pass = 0; pass < 2 && rc; pass++) {
		for (i = ifa; i; i = i->ifa_next) {
			uint32_t a;
			bool skip = false;

			if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !strcmp(i->ifa_name, "lo"))
				continue;
			a = ntohl(((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr);
			for (size_t k = 0; k < n->cfg.n_cluster_cidrs; k++)
				skip |= cidr4_contains(&n->cfg.cluster_cidrs[k], a);
			for (size_t k = 0; k < n->cfg.n_service_cidrs; k++)
				skip |= cidr4_contains(&n->cfg.service_cidrs[k], a);
			if (skip || (a >> 24) >= 240 || (a >> 16) == 0xa9fe || (pass == 0 && a == avoid))
				continue;
			n->node_ip = a;
			rc = 0;
			break;
		}
	}
	freeifaddrs(ifa);
	return rc;
}

uint32_t node_broadcast_of(uint32_t addr)
{
	struct ifaddrs *ifa, *i;
	uint32_t b = 0;

	if (getifaddrs(&ifa) < 0)
		return 0;
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !i->ifa_netmask)
			continue;
		if (ntohl(((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr) != addr)
			continue;
		b = addr | ~ntohl(((struct sockaddr_in *)i->ifa_netmask)->sin_addr.s_addr);
		break;
	}
	freeifaddrs(ifa);
	return b;
}

void node_guard_brokers(const struct node *n)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res, *r;
	uint32_t addrs[16];
	unsigned cnt = 0;

	for (size_t i = 0; i < n->cfg.n_broker_urls && cnt < ARRAY_SIZE(addrs); i++) {
		char host[BRK_URL_MAX + 1];
		unsigned port;
		uint32_t a;

		if (brk_url_parse(n->cfg.broker_urls[i], host, sizeof(host), &port))
			continue;
		if (!ip4_parse(host, &a)) {
			addrs[cnt++] = a;
			continue;
		}
		/* a name: what it resolves to now (a broker that moves later is not covered) */
		if (getaddrinfo(host, NULL, &hints, &res))
			continue;
		for (r = res; r && cnt < ARRAY_SIZE(addrs); r = r->ai_next)
			addrs[cnt++] = ntohl(((struct sockaddr_in *)r->ai_addr)->sin_addr.s_addr);
		freeaddrinfo(res);
	}
	route_guard_set_brokers(addrs, cnt);
}

bool node_pod_cidr_refresh(struct node *n)
{
	char how[PODCIDR_HOW_MAX], buf[CIDR4_STRLEN];
	struct cidr4 c;
	int rc;

	if (n->o->pod_cidr)
		return false;
	rc = podcidr_detect(n->cfg.cluster_cidrs, n->cfg.n_cluster_cidrs, &c, how);
	if (rc) {
		/* said once per reason; the slice found before stays (a CNI that is being
		 * reconfigured does not take the return path away) */
		if (strcmp(how, n->pod_cidr_why))
			pr_warn("pod CIDR slice of this node not found (%s)%s\n", how,
				n->pod_cidr.len ? "; keeping the last one" :
				": pass --pod-cidr, or remote clusters reach this node's pods only "
				"through the CNI's own routes");
		snprintf(n->pod_cidr_why, sizeof(n->pod_cidr_why), "%s", how);
		return false;
	}
	n->pod_cidr_why[0] = '\0';
	if (c.addr == n->pod_cidr.addr && c.len == n->pod_cidr.len)
		return false;
	cidr4_format(&c, buf);
	pr_info("pod CIDR slice of this node: %s (from %s)\n", buf, how);
	n->pod_cidr = c;
	return true;
}
