/* `subagent dns`: the cluster's DNS server for clusterset.local (and more zones), fed by
 * the broker (dns_feed.h), answering from its records (dns_records.h) in DNS wire format
 * (dns_wire.h) over UDP and TCP (dns_server.h). */
#ifndef SA_DNS_H
#define SA_DNS_H

#include <stdint.h>

#include "agent/dns/dns_records.h"

struct dns_opts {
	const char *config_dir;		/* the cluster configuration written by `subagent join` */
	const char *listen;		/* "ADDR:PORT" */
	const char *zones[DNS_ZONE_MAX];
	unsigned n_zones;		/* 0: DNS_DEFAULT_ZONE */
	uint32_t ttl;
	const char *cache_path;		/* NULL: no cache file */
};

/* Runs the server until SIGTERM or SIGINT. 0, or -errno after logging why. */
int dns_run(const struct dns_opts *o) __attribute__((warn_unused_result));

#endif
