#!/bin/bash
# What one client can do to the broker (issue 11's findings, measured): 200 connections
# that announce 1 MiB bodies without a token; 8,200 idle TCP connections from one address
# while another asks /healthz; 400 PUTs of a 1 MB Endpoint by one cluster; 400 PUTs of a
# 60 KB Endpoint (under the object size limit: the write rate and the history bound act).
# Prints RSS, database size, answers and latency. A broker on SQLite on loopback, started
# here with its default limits.
# Usage: tests/bench/bench_broker_limits.sh [BINARY] (another build, e.g. an older one:
# objects are then named the old way, "c1-gw")
set -u
cd "$(dirname "$0")/../.."
T=$(mktemp -d /tmp/sbs-blimits.XXXXXX)
BIN=$(realpath "${1:-build/subagent}")
. tests/e2e/broker_lib.sh
trap 'brk_cleanup; rm -rf "$T"' EXIT
FLOOD="python3 tests/e2e/broker_flood.py"
[ -x "$BIN" ] || { echo "bench_broker_limits: build first (make)"; exit 1; }
SEP=.
# an older broker wants "<cluster>-<name>"
grep -aq 'a dot, a DNS name' "$BIN" || SEP=-

STATE_DIR=$T/state
mkstate "$STATE_DIR" sqlite
PORT=$(free_port)
URL=https://127.0.0.1:$PORT
brk_start "$STATE_DIR" "$PORT" --log-level warn || { echo "bench: broker did not start"; exit 1; }
rss() { awk '/VmRSS/{print int($2 / 1024)}' "/proc/$BRK_PID/status"; }
db() { du -sk "$STATE_DIR" | awk '{printf "%.1f", $1 / 1024}'; }
req POST "$API/clusters" "$JOIN" "$(cluster_json c1 10.1.0.0/16 10.96.0.0/16)"
tok=$(out .credential.token)
echo "broker: $BIN"

base=$(rss)
$FLOOD body 127.0.0.1 "$PORT" "$CA" 200 10 >"$T/body" &
fp=$!
peak=$base
while kill -0 "$fp" 2>/dev/null; do
	r=$(rss); [ "$r" -gt "$peak" ] && peak=$r
	sleep 0.2
done
wait "$fp"
echo "200 unauthenticated 1 MiB bodies: RSS $base -> $peak MB (peak), $(rss) MB after; $(cat "$T/body")"

$FLOOD idle 127.0.0.1 "$PORT" 127.0.0.2 8200 20 >"$T/idle" &
fp=$!
wait_until 60 grep -q connected= "$T/idle"
sleep 1
held=$(ss -Htn state established "( sport = :$PORT )" 2>/dev/null | grep -c ' 127.0.0.2:')
lat=()
for i in 1 2 3 4 5; do
	lat+=("$(curl -sS --max-time 3 --cacert "$CA" -o /dev/null -w '%{http_code}/%{time_total}' "$URL/healthz" 2>/dev/null)")
done
wait "$fp"
echo "8,200 idle connections from 127.0.0.2: broker held $held; /healthz from 127.0.0.1 (code/seconds, 3 s timeout): ${lat[*]}; $(cat "$T/idle")"

for size in 1000000 60000; do
	base=$(rss) dbase=$(db)
	t0=$(date +%s%N)
	$FLOOD puts 127.0.0.1 "$PORT" "$CA" "$tok" "c1${SEP}gw$size" 400 "$size" >"$T/puts"
	secs=$(( ($(date +%s%N) - t0) / 1000000 ))
	echo "400 PUTs of a $((size / 1000)) kB Endpoint by one cluster: $(cat "$T/puts") in $secs ms; RSS $base -> $(rss) MB; state dir $dbase -> $(db) MB"
done
