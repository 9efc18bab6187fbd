#!/bin/bash
# tests/e2e/test_dns.sh with every subagent process (DNS servers, agents, broker, CLI) built
# with ASan/UBSan (build/asan/subagent): any sanitizer report (memory error, undefined
# behaviour, leak at the SIGTERM exit) fails the test.
set -u
cd "$(dirname "$0")/../.."
BIN=$PWD/build/asan/subagent
if [ ! -x "$BIN" ]; then
	echo "SKIP: test_dns_asan:all ($BIN not built; make test-build)"
	exit 0
fi
T=$(mktemp -d /tmp/sa-dns-asan.XXXXXX)
trap 'rm -rf "$T"' EXIT
export SA_DNS_SUBAGENT=$BIN T_NAME=test_dns_asan
export ASAN_OPTIONS=detect_leaks=1:log_path=$T/asan UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$T/ubsan
rc=0
tests/e2e/test_dns.sh || rc=1
if ls "$T"/asan* "$T"/ubsan* >/dev/null 2>&1; then
	echo "FAIL: test_dns_asan:no_sanitizer_reports"
	head -n 60 "$T"/asan* "$T"/ubsan* 2>/dev/null
	rc=1
else
	echo "PASS: test_dns_asan:no_sanitizer_reports"
fi
exit $rc
