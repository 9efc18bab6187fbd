# agent/: the subagent binary's CLI and the per-node daemon. One source per line (merges).
LIB_SRCS += agent/commands.c
LIB_SRCS += agent/cmd_version.c
LIB_SRCS += agent/health.c
LIB_SRCS += agent/endpoint.c
LIB_SRCS += agent/netlink.c
LIB_SRCS += agent/routes.c
LIB_SRCS += agent/cable.c
LIB_SRCS += agent/cable_vxlan.c
LIB_SRCS += agent/probe.c
LIB_SRCS += agent/table.c
LIB_SRCS += agent/vici_msg.c
LIB_SRCS += agent/vici_conn.c
LIB_SRCS += agent/charon.c
LIB_SRCS += agent/cable_ipsec.c
LIB_SRCS += agent/election.c
LIB_SRCS += agent/election_msg.c
LIB_SRCS += agent/cmd_broker.c
