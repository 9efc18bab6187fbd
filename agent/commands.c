/* The table of subcommands: exact names, one line of help each. */
#include "agent/cmd.h"

#include "common/util.h"

const struct command commands[] = {
	{ "version", cmd_version, "print the version" },
	{ "deploy-broker", cmd_deploy_broker, "create a broker's CA, credentials and broker-info.subm" },
	{ "join", cmd_join, "register this cluster with a broker and write its configuration" },
	{ "leave", cmd_leave, "remove this cluster from the broker and delete its configuration" },
};

const unsigned n_commands = ARRAY_SIZE(commands);
