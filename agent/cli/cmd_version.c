/* subagent version */
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "agent/cli/cmd.h"

int cmd_version(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("Usage: subagent version\n\nPrints the version of subagent and of the libraries it uses.\n");
		return 0;
	}
	if (argc > 1) {
		fprintf(stderr, "subagent version: unexpected argument '%s'\n", argv[1]);
		return 2;
	}
	printf("subagent %s (libbpf %s)\n", SUBAGENT_VERSION, libbpf_version_string());
	return 0;
}
