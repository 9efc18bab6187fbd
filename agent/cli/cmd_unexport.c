/* subagent unexport service: withdraws a ServiceExport (and its global IPs). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "agent/cli/cli.h"
#include "agent/cli/cmd.h"
#include "agent/cli/svc_objects.h"
#include "common/name.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: subagent unexport service --config-dir DIR --name N [--namespace NS]\n\n"
		"Withdraws this cluster's export of service N.NS (and, with globalnet, the global\n"
		"IPs 'export service' gave it). Other clusters stop resolving it to this cluster.\n");
}

int cmd_unexport(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config-dir", required_argument, NULL, 'c' },
		{ "name", required_argument, NULL, 'n' },
		{ "namespace", required_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *name = NULL, *ns = "default", *prog = "unexport service";
	int c;

	if ((c = cli_verb_kind(&argc, &argv, "subagent unexport", "service", usage)) >= 0)
		return c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': dir = optarg; break;
		case 'n': name = optarg; break;
		case 'N': ns = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc)
		return cli_error(prog, 2, "unexpected argument '%s'", argv[optind]);
	if (!name_is_dns_label(name) || !name_is_dns_label(ns))
		return cli_error(prog, 2, "--name and --namespace must be DNS labels (a-z, 0-9, '-', 1..63)");
	return svc_cli_unexport(prog, dir, name, ns);
}
