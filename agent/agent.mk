# agent/: the subagent binary's CLI and the per-node daemon.
LIB_SRCS += agent/commands.c agent/cmd_version.c
LIB_SRCS += agent/vici_msg.c
LIB_SRCS += agent/vici_conn.c
LIB_SRCS += agent/charon.c
LIB_SRCS += agent/cable_ipsec.c
