/* subagent dns: the cluster's DNS server for service discovery (agent/dns/dns.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cli/cmd.h"
#include "agent/dns/dns.h"
#include "common/log.h"
#include "common/util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: subagent dns --config-dir DIR --listen ADDR:PORT [OPTIONS]\n\n"
		"Serves the zone " DNS_DEFAULT_ZONE " for the services clusters export\n"
		"('subagent export service'), from a watch on the broker, over UDP and TCP:\n"
		"  NAME.NS.svc.ZONE                A, SRV: this cluster's service when it exports it\n"
		"                                  and is ready, else one connected, ready cluster\n"
		"                                  (weighted round robin)\n"
		"  CLUSTER.NAME.NS.svc.ZONE        A, SRV: that cluster's\n"
		"  HOST.CLUSTER.NAME.NS.svc.ZONE   A: a pod of a Headless service\n"
		"  _PORT._PROTO.NAME.NS.svc.ZONE   SRV\n"
		"The cluster's resolver forwards the zone here (CoreDNS: a 'forward' stanza).\n\n"
		"Options:\n"
		"  --config-dir DIR   the cluster configuration written by 'subagent join'\n"
		"  --listen ADDR:PORT where to listen (e.g. 0.0.0.0:53, 10.0.0.5:5353)\n"
		"  --zone ZONE        serve ZONE as well (repeatable, %d zones at most)\n"
		"  --ttl SECONDS      TTL of the answers (default %d)\n"
		"  --cache FILE       keep the broker's objects in FILE: a restart while the broker\n"
		"                     is away answers from it\n"
		"  --log-level LEVEL  error, warn, info (default) or debug\n"
		"  -h, --help         this text\n", DNS_ZONE_MAX - 1, DNS_DEFAULT_TTL);
}

int cmd_dns(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config-dir", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "zone", required_argument, NULL, 'z' },
		{ "ttl", required_argument, NULL, 't' },
		{ "cache", required_argument, NULL, 'C' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dns_opts o = { .ttl = DNS_DEFAULT_TTL, .zones = { DNS_DEFAULT_ZONE }, .n_zones = 1 };
	enum log_level lvl;
	uint64_t v;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': o.config_dir = optarg; break;
		case 'l': o.listen = optarg; break;
		case 'C': o.cache_path = optarg; break;
		case 'z':
			if (!dns_zone_ok(optarg)) {
				fprintf(stderr, "subagent dns: --zone '%s' is not a DNS name (lowercase "
					"labels joined by '.')\n", optarg);
				return 2;
			}
			if (o.n_zones == DNS_ZONE_MAX) {
				fprintf(stderr, "subagent dns: at most %d zones\n", DNS_ZONE_MAX);
				return 2;
			}
			o.zones[o.n_zones++] = optarg;
			break;
		case 't':
			if (util_parse_u64(optarg, 86400, &v)) {
				fprintf(stderr, "subagent dns: --ttl must be 0..86400 seconds\n");
				return 2;
			}
			o.ttl = (uint32_t)v;
			break;
		case 'L':
			if (log_parse_level(optarg, &lvl)) {
				fprintf(stderr, "subagent dns: --log-level: error, warn, info or debug\n");
				return 2;
			}
			log_set_level(lvl);
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "subagent dns: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!o.config_dir || !o.listen) {
		fprintf(stderr, "subagent dns: --config-dir and --listen are required\n");
		return 2;
	}
	log_set_timestamps(1);
	log_set_component("dns");
	return dns_run(&o) ? 1 : 0;
}
