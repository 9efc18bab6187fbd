#!/bin/bash
# Broker benchmark: write rate and watch fan-out latency (create -> ADDED event at every
# watcher, p50/p99/max) with 100 and 1000 concurrent watchers, on SQLite and on etcd.
# Everything runs on loopback: a broker (and an etcd) started here, killed at the end.
# Usage: tests/bench/bench_broker.sh [WATCHER_COUNTS] (default "100 1000")
set -u
cd "$(dirname "$0")/../.."
T=$(mktemp -d /tmp/sbs-bench.XXXXXX)
. tests/e2e/broker_lib.sh
trap 'brk_cleanup; rm -rf "$T"' EXIT
COUNTS=${1:-100 1000}
PROG=build/tests/bench/bench_broker
EVENTS=${BENCH_EVENTS:-50}
SECS=${BENCH_SECONDS:-5}
[ -x "$PROG" ] && [ -x "$BIN" ] || { echo "bench_broker: build first (make test-build)"; exit 1; }

results=()
run_store() {	# NAME STORE_SPEC
	local name=$1 spec=$2 dir=$T/$1 port n line
	# one host opens every watch: lift the per-address connection limit
	mkstate "$dir" "$spec" '' ',"limits":{"connectionsPerAddress":5000}'
	port=$(free_port)
	URL=https://127.0.0.1:$port
	brk_start "$dir" "$port" --log-level warn || { echo "bench: $name broker did not start"; return 1; }
	req POST "$API/clusters" "$JOIN" "$(cluster_json c1 10.1.0.0/16 10.96.0.0/16)"
	for n in $COUNTS; do
		req GET "$API/endpoints" "$ADMIN"
		line=$(BENCH_RV=$(out .metadata.resourceVersion) "$PROG" --url "$URL" --ca "$CA" \
			--token "$ADMIN" --watchers "$n" --events "$EVENTS" --seconds "$SECS" --clients 8)
		echo "  $name: $line"
		results+=("$name $line")
	done
	kill "$BRK_PID"; wait "$BRK_PID" 2>/dev/null
}

run_store sqlite sqlite
if command -v etcd >/dev/null && start_etcd "$T/etcd"; then
	run_store etcd "etcd://$ETCD_EP"
else
	echo "bench: etcd not available; etcd rows skipped"
fi

kv() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }
echo
printf '%-7s %9s %10s %10s %10s %6s %14s %14s\n' store watchers p50_ms p99_ms max_ms lost \
	"writes/s(1)" "writes/s(8)"
for r in "${results[@]}"; do
	printf '%-7s %9s %10s %10s %10s %6s %14s %14s\n' "${r%% *}" "$(kv "$r" watchers)" \
		"$(kv "$r" p50_ms)" "$(kv "$r" p99_ms)" "$(kv "$r" max_ms)" "$(kv "$r" lost)" \
		"$(kv "$r" writes_per_s_1)" "$(kv "$r" writes_per_s_8)"
done
