# globalnet/: global CIDR/IP allocation and the user-space side of the BPF NAT.
LIB_SRCS += globalnet/gn_nat.c globalnet/gn_pool.c
