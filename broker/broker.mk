# broker/: the broker daemon, its stores, and the client library.
LIB_SRCS += broker/pki.c broker/broker_info.c
UNIT_TESTS += tests/unit/test_pki.c tests/unit/test_broker_info.c
FUZZ_TARGETS += tests/fuzz/fuzz_broker_info.c
