# globalnet/: global CIDR/IP allocation, the user-space side of the BPF NAT, and the
# gateway's globalnet agent.
LIB_SRCS += $(wildcard globalnet/*.c)
