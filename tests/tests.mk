# tests/: every test program is registered here, by name: unit tests (plain and ASan/UBSan),
# fuzz targets, benchmark programs, test-only BPF programs. Shell tests (lab, e2e) are found
# by tests/run-all.sh.
UNIT_TESTS   += $(wildcard tests/unit/test_*.c)
UNIT_TESTS   += tests/unit/ipsec_node.c	# a helper program of tests/e2e/test_ipsec_cable.sh
FUZZ_TARGETS += $(wildcard tests/fuzz/fuzz_*.c)
BENCH_PROGS  += $(wildcard tests/bench/*.c)
BPF_SRCS     += $(wildcard tests/bpf/*.bpf.c)

# The whole program under ASan/UBSan for the e2e suites that run it (test_*_asan.sh).
$(B)/asan/subagent: $(B)/asan/agent/cli/main.o $(B)/asan/libsubagent.a
	@echo "  LD-ASAN $@"
	$(Q)$(CC) $(ASAN_FLAGS) -o $@ $^ $(PKG_LIBS)
test-build: $(B)/asan/subagent
