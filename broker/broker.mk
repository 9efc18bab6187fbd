# broker/: the broker daemon, its stores, and the client library.
LIB_SRCS += broker/server.c broker/api.c broker/api_cluster.c broker/objects.c broker/validate.c
LIB_SRCS += broker/watch.c broker/store.c broker/store_sqlite.c broker/store_etcd.c
UNIT_TESTS += tests/unit/test_broker_store.c
FUZZ_TARGETS += tests/fuzz/fuzz_broker_request.c
BENCH_PROGS += tests/bench/bench_broker.c
LIB_SRCS += broker/pki.c broker/broker_info.c broker/json_util.c broker/cluster_config.c \
	broker/client.c broker/informer.c
UNIT_TESTS += tests/unit/test_pki.c tests/unit/test_broker_info.c tests/unit/test_cluster_config.c \
	tests/unit/test_broker_client.c tests/unit/test_informer_live.c
FUZZ_TARGETS += tests/fuzz/fuzz_broker_info.c
FUZZ_TARGETS += tests/fuzz/fuzz_watch_event.c
# The broker under ASan/UBSan for tests/e2e/test_broker_asan.sh.
$(B)/asan/subagent: $(B)/asan/agent/main.o $(B)/asan/libsubagent.a
	@echo "  LD-ASAN $@"
	$(Q)$(CC) $(ASAN_FLAGS) -o $@ $^ $(PKG_LIBS)
test-build: $(B)/asan/subagent
