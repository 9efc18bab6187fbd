/* subagent export service: gives a local service a global IP (a GlobalIngressIP). */
#include <stdio.h>
#include <string.h>

#include "agent/cli/cmd.h"
#include "agent/cli/gn_objects.h"

static void export_usage(FILE *f)
{
	fprintf(f,
		"Usage: subagent export service --config-dir DIR --name N --vip VIP [--wait S]\n\n"
		"Gives a local service a global IP (a GlobalIngressIP) that pods of other clusters\n"
		"connect to; with globalnet only. See 'subagent globalnet --help'.\n");
}

int cmd_export(int argc, char **argv)
{
	struct gn_cli_opts go = { 0 };
	int rc;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		export_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "service")) {
		fprintf(stderr, "subagent export: unknown '%s' (only 'service')\n", argv[1]);
		return 2;
	}
	rc = gn_cli_parse("export service", argc - 1, argv + 1, &go, export_usage);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (!go.name || !go.service || go.pod || go.cidr) {
		fprintf(stderr, "subagent export service: --name and --vip are required\n");
		return 2;
	}
	rc = gn_cli_check_target("export service", &go, true);
	return rc ? rc : gn_cli_create("export service", &go, true);
}
