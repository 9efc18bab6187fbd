/* The table of subcommands: exact names, one line of help each. */
#include "agent/cli/cmd.h"
#include "common/util.h"

const struct command commands[] = {
	{ "version", cmd_version, "print the version" },
	{ "broker", cmd_broker, "run the broker (HTTPS API over SQLite or etcd)" },
	{ "deploy-broker", cmd_deploy_broker, "create a broker's CA, credentials and broker-info.subm" },
	{ "join", cmd_join, "register this cluster with a broker and write its configuration" },
	{ "leave", cmd_leave, "remove this cluster from the broker and delete its configuration" },
	{ "agent", cmd_agent, "run the per-node daemon (gateway engine)" },
	{ "show", cmd_show, "show connections, endpoints, gateways or networks" },
	{ "verify", cmd_verify, "check connectivity and encryption to every remote cluster" },
	{ "benchmark", cmd_benchmark, "latency and throughput (iperf3) to a pod or node of another cluster" },
	{ "gather", cmd_gather, "collect logs, state, SAs, routes, nft, BPF and broker objects into one tarball, secrets removed" },
	{ "diagnose", cmd_diagnose, "check this node (kernel, firewall, MTU, broker, clock, charon) and say what to fix" },
	{ "globalnet", cmd_globalnet, "global egress/ingress IPs of pods and services (overlapping CIDRs)" },
	{ "export", cmd_export, "export a service to the other clusters (and its global IP with globalnet)" },
	{ "unexport", cmd_unexport, "withdraw an exported service" },
	{ "dns", cmd_dns, "serve clusterset.local: the exported services of every cluster" },
};

const unsigned n_commands = ARRAY_SIZE(commands);
