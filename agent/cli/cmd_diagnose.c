/* subagent diagnose: checks this node and says what to do about each failure (the checks
 * are agent/diag/'s). Exit 0 only when none failed. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cli/cli.h"
#include "agent/cli/cmd.h"
#include "agent/cli/print.h"
#include "agent/diag/diag.h"
#include "common/json.h"
#include "common/util.h"

#define PROG "subagent diagnose"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: subagent diagnose --config-dir DIR [--state-dir DIR] [--no-mtu]\n"
		"                         [--timeout-ms N] [-o json]\n\n"
		"Checks this node: the agent runs; the broker is reachable, its certificate valid,\n"
		"the clocks agree and this cluster's token is accepted; the kernel's ESP data path\n"
		"(or user-space ESP); BPF and tc; firewall rules that drop IKE, NAT-T, VXLAN or the\n"
		"election; routes or addresses that overlap remote clusters; the path MTU through\n"
		"every tunnel (probed); charon's health; every connection's status. Says what to do\n"
		"about each failure. Exits 0 only when no check failed (warnings do not fail).\n\n"
		"Options:\n"
		"  --config-dir DIR   the cluster configuration written by 'subagent join'\n"
		"  --state-dir DIR    the local agent's state directory\n"
		"                     (default /var/lib/subagent/<hostname>)\n"
		"  --no-mtu           skip the path MTU probes\n"
		"  --timeout-ms N     per probe (default 1000)\n"
		"  -o json            JSON instead of a table\n");
}

int cmd_diagnose(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config-dir", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "no-mtu", no_argument, NULL, 'M' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct print_col cols[] = {
		{ "CHECK", "check", NULL }, { "TARGET", "target", NULL },
		{ "RESULT", "result", NULL }, { "DETAIL", "detail", NULL },
	};
	struct diag_opts o = { 0 };
	cJSON *rows = NULL;
	const cJSON *r;
	char err[512] = "";
	int json = 0, c, failed;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': o.config_dir = optarg; break;
		case 's': o.state_dir = optarg; break;
		case 'M': o.no_mtu = true; break;
		case 't':
			o.timeout_ms = atoi(optarg);
			if (o.timeout_ms < 100 || o.timeout_ms > 60000)
				return cli_error(PROG, 2, "--timeout-ms must be 100..60000");
			break;
		case 'o':
			if (strcmp(optarg, "json"))
				return cli_error(PROG, 2, "-o takes only 'json'");
			json = 1;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc)
		return cli_error(PROG, 2, "unexpected argument '%s'", argv[optind]);
	if (!o.config_dir)
		return cli_error(PROG, 2, "--config-dir is required");
	failed = diag_run(&o, &rows, err, sizeof(err));
	if (failed < 0)
		return cli_error(PROG, 1, "%s", err);
	print_rows(stdout, rows, cols, ARRAY_SIZE(cols), json);
	if (!json) {
		bool first = true;

		cJSON_ArrayForEach(r, rows) {
			const char *hint = json_str(r, "hint", "");

			if (!*hint)
				continue;
			if (first)
				printf("\nWhat to do:\n");
			first = false;
			printf("  %s %s%s%s: %s\n", json_str(r, "result", ""), json_str(r, "check", ""),
			       *json_str(r, "target", "") ? " " : "", json_str(r, "target", ""), hint);
		}
		if (failed)
			printf("\ndiagnose: %d check(s) FAILED\n", failed);
		else
			printf("\ndiagnose: all checks passed\n");
	}
	cJSON_Delete(rows);
	return failed ? 1 : 0;
}
