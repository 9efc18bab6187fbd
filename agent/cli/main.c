/* subagent: entry point. Dispatches to the subcommand named by argv[1]. */
#include <stdio.h>
#include <string.h>

#include "agent/cli/cmd.h"
#include "common/log.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: subagent COMMAND [ARGS...]\n\n"
		   "subagent joins clusters into one flat, encrypted L3 network.\n\n"
		   "Commands:\n");
	for (unsigned i = 0; i < n_commands; i++)
		fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\nRun 'subagent COMMAND --help' for the options of one command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version"))
		argv[1] = "version";
	log_route_libbpf();
	for (unsigned i = 0; i < n_commands; i++) {
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "subagent: unknown command '%s'; see 'subagent --help'\n", argv[1]);
	return 2;
}
