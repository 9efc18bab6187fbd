/* The route guard (see guard.h). */
#include "agent/routing/guard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"

#define MAX_NETS 256

static struct guard_addr brokers[16], peers[GUARD_MAX_ADDRS];
static unsigned n_brokers, n_peers;

void route_guard_set_brokers(const uint32_t *addrs, unsigned n)
{
	n_brokers = 0;
	for (unsigned i = 0; i < n && n_brokers < ARRAY_SIZE(brokers); i++) {
		brokers[n_brokers].addr = addrs[i];
		snprintf(brokers[n_brokers].what, sizeof(brokers[0].what), "the broker");
		n_brokers++;
	}
}

void route_guard_set_peers(const struct guard_addr *p, unsigned n)
{
	n_peers = n < GUARD_MAX_ADDRS ? n : GUARD_MAX_ADDRS;
	memcpy(peers, p, n_peers * sizeof(*p));
}

int route_guard_check_lists(const struct cidr4 *dst, const struct guard_addr *addrs, unsigned n,
			    const struct guard_net *nets, unsigned nn, char *why, size_t len)
{
	char a[16], c[CIDR4_STRLEN];

	for (unsigned i = 0; i < n; i++) {
		if (addrs[i].addr && cidr4_contains(dst, addrs[i].addr)) {
			ip4_format(addrs[i].addr, a);
			return util_refuse(why, len, -EPERM, "it covers %s (%s)", a, addrs[i].what);
		}
	}
	/* Either way round: a wider route takes the node's network, a narrower one takes a
	 * part of it (other nodes, the default gateway). */
	for (unsigned i = 0; i < nn; i++) {
		if (cidr4_overlap(dst, &nets[i].net)) {
			cidr4_format(&nets[i].net, c);
			return util_refuse(why, len, -EPERM, "it overlaps the node's network %s on %s", c, nets[i].dev);
		}
	}
	return 0;
}

static bool agent_dev(const char *name)
{
	return !strcmp(name, "ipsec0") || !strncmp(name, "sa-", 3);
}

int route_guard_local_nets(struct guard_net *out, unsigned max)
{
	struct ifaddrs *ifa, *i;
	unsigned n = 0;

	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (i = ifa; i && n < max; i = i->ifa_next) {
		uint32_t a, m;
		unsigned len;

		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !i->ifa_netmask ||
		    agent_dev(i->ifa_name))
			continue;
		a = ntohl(((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr);
		m = ntohl(((struct sockaddr_in *)i->ifa_netmask)->sin_addr.s_addr);
		len = (unsigned)__builtin_popcount(m);
		out[n].net.len = (uint8_t)len;
		out[n].net.addr = a & cidr4_mask((uint8_t)len);
		snprintf(out[n].dev, sizeof(out[n].dev), "%s", i->ifa_name);
		n++;
	}
	freeifaddrs(ifa);
	return (int)n;
}

int route_guard_check(const struct cidr4 *dst, const struct guard_addr *extra, unsigned n_extra,
		      char *why, size_t len)
{
	struct guard_addr all[ARRAY_SIZE(brokers) + GUARD_MAX_ADDRS + 16];
	struct guard_net nets[MAX_NETS];
	unsigned n = 0;
	int nn = route_guard_local_nets(nets, MAX_NETS);

	if (nn < 0)
		return util_refuse(why, len, -EPERM, "cannot read the node's addresses: %s", strerror(-nn));
	memcpy(all, brokers, n_brokers * sizeof(all[0]));
	n += n_brokers;
	memcpy(all + n, peers, n_peers * sizeof(all[0]));
	n += n_peers;
	for (unsigned i = 0; i < n_extra && n < ARRAY_SIZE(all); i++)
		all[n++] = extra[i];
	return route_guard_check_lists(dst, all, n, nets, (unsigned)nn, why, len);
}
