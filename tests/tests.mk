# tests/: unit tests (plain and ASan/UBSan), fuzz targets, benchmarks.
# Shell tests (lab, e2e) are found by tests/run-all.sh.
UNIT_TESTS += tests/unit/test_cidr.c tests/unit/test_util.c tests/unit/test_bpf_counter.c
FUZZ_TARGETS += tests/fuzz/fuzz_cidr.c
UNIT_TESTS += tests/unit/test_vici_msg.c
FUZZ_TARGETS += tests/fuzz/fuzz_vici.c
UNIT_TESTS += tests/unit/test_charon.c
UNIT_TESTS += tests/unit/test_vici_conn.c
UNIT_TESTS += tests/unit/ipsec_node.c
