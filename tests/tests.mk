# tests/: unit tests (plain and ASan/UBSan), fuzz targets, benchmarks.
# Shell tests (lab, e2e) are found by tests/run-all.sh.
UNIT_TESTS += tests/unit/test_cidr.c tests/unit/test_util.c tests/unit/test_bpf_counter.c tests/unit/test_health.c tests/unit/test_endpoint.c tests/unit/test_netlink.c tests/unit/test_probe.c
FUZZ_TARGETS += tests/fuzz/fuzz_cidr.c tests/fuzz/fuzz_health.c tests/fuzz/fuzz_endpoint.c
UNIT_TESTS += tests/unit/test_election.c
FUZZ_TARGETS += tests/fuzz/fuzz_election.c
BENCH_PROGS += tests/bench/election_node.c
