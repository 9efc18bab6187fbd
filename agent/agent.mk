# agent/: the subagent binary. cli/ is the command line (main.c is linked alone); the
# per-node daemon (node/) and its parts each have a folder: engine/, election/, routing/,
# cable/; dns/ is the service discovery DNS server (`subagent dns`); diag/ holds what
# diagnose, benchmark and gather do.
LIB_SRCS += $(filter-out agent/cli/main.c,$(wildcard agent/cli/*.c))
LIB_SRCS += $(wildcard agent/engine/*.c)
LIB_SRCS += $(wildcard agent/node/*.c)
LIB_SRCS += $(wildcard agent/election/*.c)
LIB_SRCS += $(wildcard agent/routing/*.c)
LIB_SRCS += $(wildcard agent/cable/*.c agent/cable/strongswan/*.c)
LIB_SRCS += $(wildcard agent/dns/*.c)
LIB_SRCS += $(wildcard agent/diag/*.c)
