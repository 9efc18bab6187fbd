# tests/: unit tests (plain and ASan/UBSan), fuzz targets, benchmarks. One per line (merges).
# Shell tests (lab, e2e) are found by tests/run-all.sh.
UNIT_TESTS += tests/unit/test_cidr.c
UNIT_TESTS += tests/unit/test_util.c
UNIT_TESTS += tests/unit/test_bpf_counter.c
UNIT_TESTS += tests/unit/test_health.c
UNIT_TESTS += tests/unit/test_endpoint.c
UNIT_TESTS += tests/unit/test_netlink.c
UNIT_TESTS += tests/unit/test_probe.c
UNIT_TESTS += tests/unit/test_vici_msg.c
UNIT_TESTS += tests/unit/test_charon.c
UNIT_TESTS += tests/unit/test_vici_conn.c
UNIT_TESTS += tests/unit/ipsec_node.c
FUZZ_TARGETS += tests/fuzz/fuzz_cidr.c
FUZZ_TARGETS += tests/fuzz/fuzz_health.c
FUZZ_TARGETS += tests/fuzz/fuzz_endpoint.c
FUZZ_TARGETS += tests/fuzz/fuzz_vici.c
UNIT_TESTS += tests/unit/test_election.c
FUZZ_TARGETS += tests/fuzz/fuzz_election.c
BENCH_PROGS += tests/bench/election_node.c
UNIT_TESTS += tests/unit/test_globalnet_bpf.c
UNIT_TESTS += tests/unit/test_gn_pool.c
FUZZ_TARGETS += tests/fuzz/fuzz_globalnet_bpf.c
BENCH_PROGS += tests/bench/bench_globalnet_bpf.c
