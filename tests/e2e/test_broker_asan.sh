#!/bin/bash
# The broker e2e suites again, with the broker built with ASan/UBSan
# (build/asan/subagent): any sanitizer report (memory error, undefined behaviour, leak at
# the SIGTERM exit) fails the test.
set -u
cd "$(dirname "$0")/../.."
BIN=$PWD/build/asan/subagent
if [ ! -x "$BIN" ]; then
	echo "SKIP: asan:broker ($BIN not built; make test-build)"
	exit 0
fi
T=$(mktemp -d /tmp/sbs-asan.XXXXXX)
trap 'rm -rf "$T"' EXIT
export BIN T_NAME=asan:broker
export ASAN_OPTIONS=detect_leaks=1:log_path=$T/asan UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$T/ubsan
rc=0
tests/e2e/test_broker_sqlite.sh || rc=1
tests/e2e/test_broker_etcd.sh || rc=1
tests/e2e/test_broker_services.sh || rc=1
if ls "$T"/asan* "$T"/ubsan* >/dev/null 2>&1; then
	echo "FAIL: asan:broker-sanitizer-reports"
	head -n 60 "$T"/asan* "$T"/ubsan* 2>/dev/null
	rc=1
else
	echo "PASS: asan:broker-no-sanitizer-reports"
fi
exit $rc
