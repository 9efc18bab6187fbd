# agent/: the subagent binary's CLI and the per-node daemon.
LIB_SRCS += agent/commands.c agent/cmd_version.c agent/health.c agent/endpoint.c agent/netlink.c agent/routes.c agent/cable.c agent/cable_vxlan.c agent/probe.c agent/table.c
LIB_SRCS += agent/election.c agent/election_msg.c
