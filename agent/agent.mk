# agent/: the subagent binary's CLI and the per-node daemon.
LIB_SRCS += agent/commands.c agent/cmd_version.c
LIB_SRCS += agent/cmd_deploy_broker.c agent/cmd_join.c agent/cmd_leave.c
