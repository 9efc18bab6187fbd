# tests/: unit tests (plain and ASan/UBSan), fuzz targets, benchmarks.
# Shell tests (lab, e2e) are found by tests/run-all.sh.
UNIT_TESTS += tests/unit/test_cidr.c tests/unit/test_util.c tests/unit/test_bpf_counter.c
UNIT_TESTS += tests/unit/test_globalnet_bpf.c tests/unit/test_gn_pool.c
FUZZ_TARGETS += tests/fuzz/fuzz_cidr.c tests/fuzz/fuzz_globalnet_bpf.c
BENCH_PROGS += tests/bench/bench_globalnet_bpf.c
