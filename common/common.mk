# common/: the little code shared by agent, broker and CLI (logging, CIDR math, helpers).
LIB_SRCS += common/log.c common/cidr.c common/util.c
