# bpf/: BPF programs, built with clang -target bpf and embedded through bpftool skeletons.
BPF_SRCS += bpf/tc_counter.bpf.c
BPF_SRCS += bpf/globalnet.bpf.c
