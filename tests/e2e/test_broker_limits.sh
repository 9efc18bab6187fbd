#!/bin/bash
# A broker that one client cannot starve (issue 11), each finding reproduced against a real
# broker on SQLite: a request without a valid token is answered before its body is read
# (200 such connections with 1 MiB bodies made RSS grow by 200 MB); one address holds at
# most connectionsPerAddress connections (8,200 idle ones from one host made /healthz time
# out), idle connections are closed; per-cluster quotas on writes (429 + Retry-After),
# objects (403), watches (429) and object size (413); 400 PUTs of a 1 MB Endpoint by one
# cluster leave memory and the database as they were (806 MB of RSS and 385 MB of
# database before).
set -u
cd "$(dirname "$0")/../.."
T=$(mktemp -d /tmp/sbs-limits.XXXXXX)
. tests/e2e/broker_lib.sh
trap 'brk_cleanup; rm -rf "$T"' EXIT
FLOOD="python3 tests/e2e/broker_flood.py"

[ -x "$BIN" ] || { echo "FAIL: broker-limits (no $BIN; run make)"; exit 1; }
STATE_DIR=$T/state
mkstate "$STATE_DIR" sqlite '' ',"bookmarkIntervalMs":500,"limits":{"connectionTimeoutS":3,"objectsPerCluster":5,"watchesPerCluster":2,"writesPerSecond":1,"writeBurst":4,"objectBytes":16384,"maxBodyBytes":65536}'
PORT=$(free_port)
URL=https://127.0.0.1:$PORT
check "limits:start" brk_start "$STATE_DIR" "$PORT"
rss() { awk '/VmRSS/{print int($2 / 1024)}' "/proc/$BRK_PID/status"; }
req POST "$API/clusters" "$JOIN" "$(cluster_json c1 10.1.0.0/16 10.96.0.0/16)"
tok1=$(out .credential.token)

# ---- no token, no buffering: 200 connections announce 1 MiB bodies without a token
base=$(rss)
$FLOOD body 127.0.0.1 "$PORT" "$CA" 200 8 >"$T/body.out" &
fp=$!
peak=$base
while kill -0 "$fp" 2>/dev/null; do	# the largest RSS while the bodies come
	r=$(rss)
	[ "$r" -gt "$peak" ] && peak=$r
	sleep 0.2
done
wait "$fp"
echo "body flood: $(cat "$T/body.out"); RSS ${base} -> ${peak} MB" >&2
answered=$(sed -n 's/.*answered=\([0-9]*\).*/\1/p' "$T/body.out")
check "limits:unauthenticated-answered-before-body" [ "${answered:-0}" -ge 190 ]
check "limits:unauthenticated-401" grep -q 'codes=401x' "$T/body.out"
check "limits:unauthenticated-bodies-not-buffered" [ $((peak - base)) -lt 30 ]
head -c $((1024 * 1024)) /dev/zero | tr '\0' ' ' >"$T/mib"
CODE=$(curl -sS --max-time 20 --cacert "$CA" -o "$T/out" -w '%{http_code}' -X POST \
	-H "Authorization: Bearer $tok1" -H 'Content-Type: application/json' \
	-H 'Expect: 100-continue' --expect100-timeout 10 \
	--data-binary @"$T/mib" "$URL$API/endpoints") || CODE=000
check "limits:cluster-body-over-limit-413" says 413 'request body larger than 65536 bytes'

# ---- one address cannot take every connection; idle ones are closed
$FLOOD idle 127.0.0.1 "$PORT" 127.0.0.2 8200 6 >"$T/idle.out" &
fp=$!
wait_until 60 grep -q connected= "$T/idle.out"
sleep 1
held=$(ss -Htn state established "( sport = :$PORT )" 2>/dev/null | grep -c ' 127.0.0.2:')
t0=$(date +%s%N)
CODE=$(curl -sS --max-time 5 --cacert "$CA" -o /dev/null -w '%{http_code}' "$URL/healthz") || CODE=000
ms=$((($(date +%s%N) - t0) / 1000000))
wait "$fp"
echo "idle flood: $(cat "$T/idle.out"); broker held $held from 127.0.0.2; /healthz $CODE in $ms ms" >&2
check "limits:healthz-during-8200-idle-connections" [ "$CODE" = 200 -a "$ms" -lt 2000 ]
check "limits:per-address-limit" [ "$held" -le 64 ]
$FLOOD quiet 127.0.0.1 "$PORT" 10 >"$T/quiet.out"
echo "quiet connection: $(cat "$T/quiet.out")" >&2
check "limits:idle-connection-closed" grep -Eq 'closed_after=[0-5]\.' "$T/quiet.out"

# ---- write rate: a burst of 4, then 1 per second; 429 says when to come back. Eight
# writes on one connection, quicker than a second.
args=()
for i in 1 2 3 4 5 6 7 8; do
	[ "$i" -gt 1 ] && args+=(--next)
	args+=(-sS --max-time 10 --cacert "$CA" -D "$T/hdr$i" -o "$T/out$i" -w '%{http_code} ' -X POST
		-H "Authorization: Bearer $tok1" -H 'Content-Type: application/json'
		--data-binary "$(endpoint_json c1 w$i 10.1.0.$((10 + i)))" "$URL$API/endpoints")
done
codes=$(curl "${args[@]}")
echo "eight quick writes: $codes" >&2
n429=$(grep -o 429 <<<"$codes" | wc -l)
check "limits:write-burst-then-429" [ "${codes:0:16}" = "201 201 201 201 " -a "$n429" -ge 3 ]
last=$(grep -l '^HTTP/[0-9.]* 429' "$T"/hdr? | tail -1)
check "limits:429-retry-after" grep -qi '^retry-after: [1-9]' "${last:-/dev/null}"
check "limits:429-says-why" grep -q 'too many writes from c1 (at most 1 per second, bursts of 4)' "${last/hdr/out}"
for i in 1 2 3 4 5 6 7 8 9 10; do req GET "$API/endpoints" "$tok1"; done	# reads are not writes
check "limits:reads-not-limited" [ "$CODE" = 200 ]

# write as c1, waiting out 429s (what a client does with Retry-After)
c1_write() {	# METHOD PATH [BODY]
	local i
	for i in 1 2 3 4 5 6; do
		req "$1" "$2" "$tok1" "${3-}"
		[ "$CODE" = 429 ] || return 0
		sleep 1.1
	done
}

# ---- objects: at most 5 per cluster (403: retrying does not help); the admin is not
# limited, but what it makes for c1 counts against c1
have=$(list_state endpoints | cut -d' ' -f1)
for i in $(seq "$((have + 1))" 5); do c1_write POST "$API/endpoints" "$(endpoint_json c1 x$i 10.1.0.$((20 + i)))"; done
check "limits:fifth-object-201" [ "$(list_state endpoints | cut -d' ' -f1)" = 5 ]
c1_write POST "$API/endpoints" "$(endpoint_json c1 x6 10.1.0.26)"
check "limits:sixth-object-403" [ "$CODE" = 403 -a "$(out .reason)" = QuotaExceeded ]
check "limits:quota-says-why" says 403 'cluster c1 owns 5 objects, the most it may (5)'
req POST "$API/endpoints" "$ADMIN" "$(endpoint_json c1 adm 10.1.0.30)"
check "limits:admin-not-limited" [ "$CODE" = 201 ]
for i in 1 2 3 4 5 6 7 8; do req PUT "$API/endpoints/c1.adm" "$ADMIN" "$(req GET "$API/endpoints/c1.adm" "$ADMIN"; cat "$T/out")"; done
check "limits:admin-writes-not-rate-limited" [ "$CODE" = 200 ]
c1_write DELETE "$API/endpoints/c1.w1"
c1_write POST "$API/endpoints" "$(endpoint_json c1 x7 10.1.0.27)"
check "limits:admin-made-objects-count" [ "$CODE" = 403 ]
req DELETE "$API/endpoints/c1.adm" "$ADMIN"
c1_write POST "$API/endpoints" "$(endpoint_json c1 x7 10.1.0.27)"
check "limits:delete-frees-a-slot" [ "$CODE" = 201 ]

# ---- object size: a body under the body limit whose object is over 16 KiB
req GET "$API/endpoints/c1.w2" "$tok1"
big=$(jq -c '.spec.backend = ([range(0; 20)] | map({key: "k\(.)", value: ("x" * 1000)}) | from_entries)' "$T/out")
c1_write PUT "$API/endpoints/c1.w2" "$big"
check "limits:object-over-16k-413" says 413 'more than the 16384 an object may hold'

# ---- watches: two per cluster; a third gets 429 until one ends
watch_start q1 endpoints "$tok1" 0
q1=$WATCH_PID
watch_start q2 clusters "$tok1" 0
sleep 0.5
req GET "$API/gatewaystatuses?watch=1" "$tok1"
check "limits:third-watch-429" says 429 'cluster c1 has 2 watch streams open'
watch_start qa endpoints "$ADMIN" 0
sleep 0.3
check "limits:admin-watch-not-limited" kill -0 "$WATCH_PID"
kill "$q1"
wait "$q1" 2>/dev/null
free_after_end() {
	CODE=$(curl -sS --max-time 2 --cacert "$CA" -o "$T/out" -w '%{http_code}' \
		-H "Authorization: Bearer $tok1" "$URL$API/gatewaystatuses?watch=1") || true
	[ "$CODE" = 200 ]
}
check "limits:ended-watch-frees-its-slot" wait_until 10 free_after_end

# ---- 400 PUTs of a 1 MB Endpoint by one cluster: refused before the body, nothing grows
db_size() { du -sk "$STATE_DIR" | cut -f1; }
sleep 1
base=$(rss) dbase=$(db_size)
$FLOOD puts 127.0.0.1 "$PORT" "$CA" "$tok1" c1.w3 400 $((1000 * 1000)) >"$T/puts.out"
echo "400 PUTs of 1 MB: $(cat "$T/puts.out"); RSS ${base} -> $(rss) MB; state dir ${dbase} -> $(db_size) KiB" >&2
check "limits:1mb-puts-413" grep -q 'codes=413x400' "$T/puts.out"
check "limits:1mb-puts-rss-bounded" [ $(($(rss) - base)) -lt 30 ]
check "limits:1mb-puts-db-bounded" [ $(($(db_size) - dbase)) -lt 4096 ]

t_done
