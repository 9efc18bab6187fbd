/* The table of subcommands: exact names, one line of help each. */
#include "agent/cmd.h"

#include "common/util.h"

const struct command commands[] = {
	{ "version", cmd_version, "print the version" },
};

const unsigned n_commands = ARRAY_SIZE(commands);
