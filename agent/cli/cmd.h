/* The subcommands of the subagent binary. Each cmd_<name>() lives in agent/cmd_<name>.c
 * and gets argv starting at its own name (argv[0] == "<name>"). Returns the exit code. */
#ifndef SA_CMD_H
#define SA_CMD_H

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

extern const struct command commands[];
extern const unsigned n_commands;

int cmd_version(int argc, char **argv);
int cmd_broker(int argc, char **argv);
int cmd_deploy_broker(int argc, char **argv);
int cmd_join(int argc, char **argv);
int cmd_leave(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_globalnet(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_unexport(int argc, char **argv);
int cmd_dns(int argc, char **argv);
int cmd_diagnose(int argc, char **argv);
int cmd_gather(int argc, char **argv);
int cmd_benchmark(int argc, char **argv);

#include "common/version.h"

#endif
