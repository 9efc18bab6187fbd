/* subagent broker: runs the broker daemon on a state directory made by deploy-broker. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "agent/cli/cmd.h"
#include "broker/server/server.h"
#include "common/log.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: subagent broker --dir DIR [--listen ADDR:PORT] [--metrics-listen ADDR:PORT]\n"
		   "                      [--log-level LEVEL]\n\n"
		   "Serves the broker API over HTTPS from the state directory DIR (made by\n"
		   "'subagent deploy-broker'): DIR/config.json, tls.pem, tls-key.pem, admin.token,\n"
		   "join.token, and the SQLite store DIR/broker.db (or etcd, per config.json).\n"
		   "Stops cleanly on SIGTERM or SIGINT.\n\n"
		   "  --dir DIR           broker state directory (required)\n"
		   "  --listen ADDR:PORT  overrides config.json's \"listen\"\n"
		   "  --metrics-listen ADDR:PORT  serves /metrics (Prometheus) and /healthz over\n"
		   "                      plain HTTP there (config.json's \"metricsListen\"; default none)\n"
		   "  --log-level LEVEL   error|warn|info|debug (default info)\n");
}

int cmd_broker(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "metrics-listen", required_argument, NULL, 'm' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *listen = NULL, *mlisten = NULL;
	enum log_level lvl;
	int c, err;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'l':
			listen = optarg;
			break;
		case 'm':
			mlisten = optarg;
			break;
		case 'L':
			if (log_parse_level(optarg, &lvl)) {
				fprintf(stderr, "subagent broker: bad --log-level '%s'\n", optarg);
				return 2;
			}
			log_set_level(lvl);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "subagent broker: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!dir) {
		fprintf(stderr, "subagent broker: --dir is required\n");
		return 2;
	}
	log_set_component("broker");
	log_set_timestamps(1);
	err = srv_server_run(dir, listen, mlisten);
	if (err) {
		pr_err("broker: %s\n", strerror(-err));
		return 1;
	}
	return 0;
}
