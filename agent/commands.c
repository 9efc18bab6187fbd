/* The table of subcommands: exact names, one line of help each. */
#include "agent/cmd.h"

#include "common/util.h"

const struct command commands[] = {
	{ "version", cmd_version, "print the version" },
	{ "broker", cmd_broker, "run the broker (HTTPS API over SQLite or etcd)" },
};

const unsigned n_commands = ARRAY_SIZE(commands);
