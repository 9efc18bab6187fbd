# common/: the little code shared by every part (logging, CIDR math, files, JSON getters,
# name checks).
LIB_SRCS += $(wildcard common/*.c)
