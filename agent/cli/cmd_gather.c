/* subagent gather: one tarball with what a bug report needs from this node, secrets
 * removed (agent/diag/gather.c). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/cli/cli.h"
#include "agent/cli/cmd.h"
#include "agent/diag/gather.h"

#define PROG "subagent gather"
#define MAX_LOGS 8

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: subagent gather --config-dir DIR [--state-dir DIR] [--log FILE]...\n"
		"                       [--out FILE.tar.gz] [--no-broker]\n\n"
		"Writes one tarball with the agent's and charon's logs, the agent's status and state\n"
		"files, charon's SAs and connections, the node's addresses, routes, rules, XFRM\n"
		"state, nft tables, tc filters, BPF programs and maps (globalnet's counters), and\n"
		"this cluster's objects in the broker. Tokens, PSKs, private keys and XFRM keys are\n"
		"removed from every file; the secret files themselves are never read into it.\n\n"
		"Options:\n"
		"  --config-dir DIR   the cluster configuration written by 'subagent join'\n"
		"  --state-dir DIR    the local agent's state directory\n"
		"                     (default /var/lib/subagent/<hostname>)\n"
		"  --log FILE         the agent's log (repeatable; default: journalctl's\n"
		"                     subagent-agent unit when there is a journal)\n"
		"  --out FILE         the tarball (default ./subagent-gather-CLUSTER-NODE-TIME.tar.gz)\n"
		"  --no-broker        do not ask the broker for this cluster's objects\n");
}

static void progress(const char *what)
{
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "\r\033[Kgather: %s", what);
}

int cmd_gather(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config-dir", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "log", required_argument, NULL, 'l' },
		{ "out", required_argument, NULL, 'O' },
		{ "no-broker", no_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *logs[MAX_LOGS];
	struct gather_opts o = { .logs = logs, .progress = progress };
	char path[4096], err[512] = "";
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': o.config_dir = optarg; break;
		case 's': o.state_dir = optarg; break;
		case 'l':
			if (o.n_logs == MAX_LOGS)
				return cli_error(PROG, 2, "at most %d --log", MAX_LOGS);
			logs[o.n_logs++] = optarg;
			break;
		case 'O': o.out = optarg; break;
		case 'B': o.no_broker = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc)
		return cli_error(PROG, 2, "unexpected argument '%s'", argv[optind]);
	if (!o.config_dir)
		return cli_error(PROG, 2, "--config-dir is required");
	rc = gather_run(&o, path, sizeof(path), err, sizeof(err));
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "\r\033[K");
	if (rc)
		return cli_error(PROG, 1, "%s", err);
	printf("%s\n", path);
	return 0;
}
