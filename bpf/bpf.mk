# bpf/: BPF programs, built with clang -target bpf and embedded through bpftool skeletons.
BPF_SRCS += $(wildcard bpf/*.bpf.c)
