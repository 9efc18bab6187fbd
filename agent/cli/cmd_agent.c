/* subagent agent: the per-node daemon. */
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/cli/cmd.h"
#include "agent/node/node.h"
#include "broker/client/endpoint.h"
#include "common/httpd.h"
#include "common/log.h"
#include "common/name.h"
#include "common/util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: subagent agent --config-dir DIR --node NAME [OPTIONS]\n\n"
		"Runs the per-node daemon. On the cluster's gateway node it publishes the cluster's\n"
		"Endpoint to the broker, watches every other cluster's and connects a cable\n"
		"(IPsec through charon, or VXLAN) to each, probes them, and publishes its status.\n\n"
		"Options:\n"
		"  --config-dir DIR        the cluster configuration written by 'subagent join'\n"
		"  --node NAME             this node's name (default: the hostname)\n"
		"  --state-dir DIR         cache, status and charon files (default /var/lib/subagent/NAME)\n"
		"  --public-ip IP          the address the world reaches this gateway by\n"
		"                          (default: as the broker sees it)\n"
		"  --private-ip IP         the underlay address (default: the source towards the broker)\n"
		"  --health-interval-ms N  time between health probes (default 1000)\n"
		"  --no-gateway            never become the cluster's gateway (route agent only)\n"
		"  --node-ip IP            this node's address on the cluster's node network\n"
		"                          (default: the first address not towards the broker)\n"
		"  --pod-cidr CIDR         this node's pod CIDR slice (for the gateway's return path)\n"
		"                          (default: found from the CNI's addresses and routes\n"
		"                          inside the cluster CIDR, again every 5 s)\n"
		"  --election-interval-ms N  heartbeat interval (default 100)\n"
		"  --election-dead-ms N    a node not heard for this long is dead (default 600)\n"
		"  --liveness-ms N         the active gateway's liveness probes to the standbys:\n"
		"                          every N ms (default 20; 0: none, heartbeats only)\n"
		"  --liveness-multiplier N a standby takes over after N missed probes (default 5)\n"
		"  --resync-ms N           how often everything the agent made is checked and\n"
		"                          repaired (default 10000)\n"
		"  --bpf-dir DIR           globalnet: bpffs directory for the pinned flow table\n"
		"                          (default /sys/fs/bpf/subagent/CLUSTER-NODE)\n"
		"  --globalnet-datapath bpf|none  globalnet: translate with tc BPF (default), or\n"
		"                          not at all (the operator's own NAT; benchmarks)\n"
		"  --metrics-listen ADDR:PORT  serve /metrics (Prometheus), /healthz and /readyz\n"
		"                          over plain HTTP there (default: not served)\n"
		"  --log-level LEVEL       error, warn, info (default) or debug\n"
		"  -h, --help              this text\n");
}

int cmd_agent(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config-dir", required_argument, NULL, 'c' },
		{ "node", required_argument, NULL, 'n' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "public-ip", required_argument, NULL, 'p' },
		{ "private-ip", required_argument, NULL, 'P' },
		{ "health-interval-ms", required_argument, NULL, 'i' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "no-gateway", no_argument, NULL, 'G' },
		{ "node-ip", required_argument, NULL, 'N' },
		{ "pod-cidr", required_argument, NULL, 'C' },
		{ "election-interval-ms", required_argument, NULL, 'E' },
		{ "election-dead-ms", required_argument, NULL, 'D' },
		{ "resync-ms", required_argument, NULL, 'R' },
		{ "liveness-ms", required_argument, NULL, 'L' },
		{ "liveness-multiplier", required_argument, NULL, 'm' },
		{ "bpf-dir", required_argument, NULL, 'b' },
		{ "globalnet-datapath", required_argument, NULL, 'g' },
		{ "metrics-listen", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct node_opts o = { .gateway_capable = true };
	char host[HOST_NAME_MAX + 1], state[PATH_MAX];
	enum log_level lvl;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': o.config_dir = optarg; break;
		case 'n': o.node = optarg; break;
		case 's': o.state_dir = optarg; break;
		case 'p': o.public_ip = optarg; break;
		case 'P': o.private_ip = optarg; break;
		case 'b': o.bpf_dir = optarg; break;
		case 'M': {
			struct sockaddr_in sa;

			if (httpd_parse_listen(optarg, &sa)) {
				fprintf(stderr, "subagent agent: --metrics-listen wants ADDR:PORT\n");
				return 2;
			}
			o.metrics_listen = optarg;
			break;
		}
		case 'g':
			if (strcmp(optarg, "bpf") && strcmp(optarg, "none")) {
				fprintf(stderr, "subagent agent: --globalnet-datapath is bpf or none\n");
				return 2;
			}
			o.globalnet_no_attach = !strcmp(optarg, "none");
			break;
		case 'i': {
			char *end;
			unsigned long ms = strtoul(optarg, &end, 10);

			if (*end || ms < 10 || ms > 60000) {
				fprintf(stderr, "subagent agent: --health-interval-ms must be 10..60000\n");
				return 2;
			}
			o.health_interval_ns = ms * NSEC_PER_MSEC;
			break;
		}
		case 'l':
			if (log_parse_level(optarg, &lvl)) {
				fprintf(stderr, "subagent agent: unknown log level '%s'\n", optarg);
				return 2;
			}
			log_set_level(lvl);
			break;
		case 'G': o.gateway_capable = false; break;
		case 'N': o.node_ip = optarg; break;
		case 'C': o.pod_cidr = optarg; break;
		case 'E':
		case 'D': {
			char *end;
			unsigned long ms = strtoul(optarg, &end, 10);

			if (*end || ms < 10 || ms > 60000) {
				fprintf(stderr, "subagent agent: --election-*-ms must be 10..60000\n");
				return 2;
			}
			if (c == 'E')
				o.election_interval_ns = ms * NSEC_PER_MSEC;
			else
				o.election_dead_ns = ms * NSEC_PER_MSEC;
			break;
		}
		case 'L':
		case 'm': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (*end || (c == 'L' && v > 10000) || (c == 'm' && (v < 2 || v > 100))) {
				fprintf(stderr, "subagent agent: --liveness-ms must be 0..10000, "
					"--liveness-multiplier 2..100\n");
				return 2;
			}
			if (c == 'm')
				o.liveness_mult = (unsigned)v;
			else
				o.liveness_interval_ns = v ? v * NSEC_PER_MSEC : UINT64_MAX;
			break;
		}
		case 'R': {
			char *end;
			unsigned long ms = strtoul(optarg, &end, 10);

			if (*end || ms < 100 || ms > 3600000) {
				fprintf(stderr, "subagent agent: --resync-ms must be 100..3600000\n");
				return 2;
			}
			o.resync_ns = ms * NSEC_PER_MSEC;
			break;
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "subagent agent: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!o.config_dir) {
		fprintf(stderr, "subagent agent: --config-dir is required\n");
		return 2;
	}
	if (!o.node) {
		if (gethostname(host, sizeof(host)))
			strcpy(host, "node");
		host[sizeof(host) - 1] = '\0';
		o.node = host;
	}
	if (!name_is_dns_label(o.node)) {
		fprintf(stderr, "subagent agent: node name '%s' is not a DNS label "
			"(lowercase letters, digits, '-')\n", o.node);
		return 2;
	}
	if (!o.state_dir) {
		snprintf(state, sizeof(state), "/var/lib/subagent/%s", o.node);
		o.state_dir = state;
	}
	log_set_timestamps(1);
	log_set_component(o.node);
	return node_run(&o);
}
