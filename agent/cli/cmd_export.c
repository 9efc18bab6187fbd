/* subagent export service: publishes a ServiceExport of a local service (and, with
 * globalnet, gives its addresses global IPs). Logic in svc_objects.c. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cli/cli.h"
#include "agent/cli/cmd.h"
#include "agent/cli/svc_objects.h"
#include "common/cidr.h"
#include "common/name.h"
#include "common/util.h"

static void export_usage(FILE *f)
{
	fprintf(f,
		"Usage: subagent export service --config-dir DIR --name N [--namespace NS]\n"
		"         (--vip IP... | --headless) [--port [NAME:]PORT[/PROTO]]...\n"
		"         [--endpoint HOST=IP[,IP...][,notready]]... [--weight W] [--wait S]\n\n"
		"Exports service N.NS of this cluster to every cluster: the broker merges the\n"
		"exports of all clusters into one ServiceImport, which 'subagent dns' answers as\n"
		"N.NS.svc.clusterset.local. Running it again updates the export (ports, endpoints,\n"
		"readiness). With globalnet the service's cluster IP (or, Headless, each endpoint\n"
		"address) also gets a global IP (a GlobalIngressIP) that other clusters reach.\n\n"
		"Options:\n"
		"  --config-dir DIR     the cluster configuration written by 'subagent join'\n"
		"  --name N             the service's name (a DNS label)\n"
		"  --namespace NS       its namespace (default: default)\n"
		"  --vip IP             its cluster IP (ClusterSetIP; repeatable)\n"
		"  --headless           a Headless service: answered with its endpoints' addresses\n"
		"  --port SPEC          a port: [NAME:]PORT[/tcp|udp|sctp] (repeatable; named ports\n"
		"                       get SRV records _NAME._PROTO.N.NS.svc.clusterset.local)\n"
		"  --endpoint SPEC      a backend: HOST=IP[,IP...][,notready] (repeatable)\n"
		"  --weight W           share of the round robin among clusters, 0..%d (default 1;\n"
		"                       0: only cluster-qualified names answer with this cluster)\n"
		"  --wait S             globalnet: wait up to S seconds for the global IPs\n",
		SVC_WEIGHT_MAX);
}

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config-dir", required_argument, NULL, 'c' },
		{ "name", required_argument, NULL, 'n' },
		{ "namespace", required_argument, NULL, 'N' },
		{ "vip", required_argument, NULL, 'v' },
		{ "headless", no_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "endpoint", required_argument, NULL, 'e' },
		{ "weight", required_argument, NULL, 'W' },
		{ "wait", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *name = NULL, *ns = "default", *prog = "export service";
	struct svc_record r = { .weight = 1 };
	struct svc_endpoint *eps = NULL;
	unsigned n_eps = 0;
	bool headless = false;
	uint64_t v;
	int c, rc = 2, wait_s = 0;

	if ((c = cli_verb_kind(&argc, &argv, "subagent export", "service", export_usage)) >= 0)
		return c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': dir = optarg; break;
		case 'n': name = optarg; break;
		case 'N': ns = optarg; break;
		case 'H': headless = true; break;
		case 'v':
			if (r.n_ips == SVC_MAX_IPS || ip4_parse(optarg, &r.ips[r.n_ips])) {
				cli_error(prog, 2, "--vip '%s': not an IPv4 address (at most %d)", optarg,
					  SVC_MAX_IPS);
				goto out;
			}
			r.n_ips++;
			break;
		case 'p':
			if (r.n_ports == SVC_MAX_PORTS || svc_cli_parse_port(optarg, &r.ports[r.n_ports])) {
				cli_error(prog, 2, "--port '%s': want [NAME:]PORT[/tcp|udp|sctp] (at most %d)",
					  optarg, SVC_MAX_PORTS);
				goto out;
			}
			r.n_ports++;
			break;
		case 'e': {
			struct svc_endpoint *ne;

			if (n_eps == SVC_MAX_ENDPOINTS ||
			    !(ne = realloc(eps, (n_eps + 1) * sizeof(*eps)))) {
				cli_error(prog, 2, "at most %d endpoints", SVC_MAX_ENDPOINTS);
				goto out;
			}
			eps = ne;
			if (svc_cli_parse_endpoint(optarg, &eps[n_eps])) {
				cli_error(prog, 2, "--endpoint '%s': want HOST=IP[,IP...][,notready]", optarg);
				goto out;
			}
			n_eps++;
			break;
		}
		case 'W':
			if (util_parse_u64(optarg, SVC_WEIGHT_MAX, &v)) {
				cli_error(prog, 2, "--weight must be 0..%d", SVC_WEIGHT_MAX);
				goto out;
			}
			r.weight = (unsigned)v;
			break;
		case 'w':
			if (util_parse_u64(optarg, 3600, &v)) {
				cli_error(prog, 2, "--wait must be 0..3600 seconds");
				goto out;
			}
			wait_s = (int)v;
			break;
		case 'h': export_usage(stdout); rc = 0; goto out;
		default: export_usage(stderr); goto out;
		}
	}
	if (optind < argc) {
		cli_error(prog, 2, "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (!name_is_dns_label(name) || !name_is_dns_label(ns)) {
		cli_error(prog, 2, "--name and --namespace must be DNS labels (a-z, 0-9, '-', 1..63)");
		goto out;
	}
	if (headless == !!r.n_ips) {
		cli_error(prog, 2, "give either --vip (ClusterSetIP) or --headless");
		goto out;
	}
	strcpy(r.name, name);
	strcpy(r.ns, ns);
	r.type = headless ? SVC_HEADLESS : SVC_CLUSTERSET_IP;
	r.eps = eps;
	r.n_eps = n_eps;
	rc = svc_cli_export(prog, dir, &r, wait_s);
out:
	free(eps);
	return rc;
}
