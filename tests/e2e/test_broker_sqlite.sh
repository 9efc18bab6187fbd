#!/bin/bash
# The broker API on the SQLite store: the shared API suite (CRUD, 409, watch + resume,
# 401/403, validation), 410 after the change log is trimmed, globalnet allocation,
# persistence across kill -9, clean shutdown on SIGTERM with open watches.
set -u
cd "$(dirname "$0")/../.."
T=$(mktemp -d /tmp/sbs-sqlite.XXXXXX)
. tests/e2e/broker_lib.sh
trap 'brk_cleanup; rm -rf "$T"' EXIT

[ -x "$BIN" ] || { echo "FAIL: broker-sqlite (no $BIN; run make)"; exit 1; }
STATE_DIR=$T/state
mkstate "$STATE_DIR" sqlite '' ',"historyLimit":40,"bookmarkIntervalMs":500,"limits":{"connectionsPerAddress":1000}'
PORT=$(free_port)
URL=https://127.0.0.1:$PORT
check "sqlite:start" brk_start "$STATE_DIR" "$PORT"
api_suite sqlite

# ---- fan-out: 300 concurrent watch streams each get every event (the bench client)
if [ -x build/tests/bench/bench_broker ]; then
	req GET "$API/endpoints" "$ADMIN"
	if line=$(BENCH_RV=$(out .metadata.resourceVersion) build/tests/bench/bench_broker --url "$URL" \
		--ca "$CA" --token "$ADMIN" --watchers 300 --events 5 --seconds 1 --clients 2 2>"$T/bench.err"); then
		t_pass "sqlite:fanout-300-watchers ($line)"
	else
		t_fail "sqlite:fanout-300-watchers" "$line $(tail -3 "$T/bench.err")"
	fi
else
	t_skip "sqlite:fanout-300-watchers" "build/tests/bench/bench_broker not built"
fi

# ---- 410: the change log keeps 40 revisions; older resume points are gone
watch_start quiet clusters "$ADMIN" "$(list_state clusters | cut -d' ' -f2)"
quiet=$WATCH_PID
# 45 creates through one connection, quicker than one bookmark interval
args=()
for i in $(seq 1 45); do
	[ "$i" -gt 1 ] && args+=(--next)
	args+=(-sS --cacert "$CA" -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $ADMIN"
		-H 'Content-Type: application/json' --data-binary "$(endpoint_json c2 r$i 10.2.0.9)"
		"$URL$API/endpoints")
done
CODE=$(curl "${args[@]}" | sort -u | tr -d '\n')
check "sqlite:many-creates" [ "$CODE" = 201 ]
# the clusters stream saw a whole ring of other resources' events pass: still open
req GET "$API/clusters/c2" "$ADMIN"
req PUT "$API/clusters/c2" "$ADMIN" "$(cat "$T/out")"
check "sqlite:quiet-stream-survives-ring-wrap" wait_for "$T/quiet.watch" '.type=="MODIFIED" and .object.metadata.name=="c2"'
check "sqlite:quiet-stream-still-open" kill -0 "$quiet"
req GET "$API/endpoints?watch=1&resourceVersion=2" "$ADMIN"
check "sqlite:watch-too-old-410" [ "$CODE" = 410 -a "$(out .reason)" = Gone -a "$(out .code)" = 410 ]
req GET "$API/endpoints?watch=1&resourceVersion=abc" "$ADMIN"
check "sqlite:watch-bad-rv-400" [ "$CODE" = 400 ]

# ---- durability: an acknowledged write survives kill -9
req POST "$API/endpoints" "$ADMIN" "$(endpoint_json c2 durable 10.2.0.77)"
drv=$(out .metadata.resourceVersion)
kill -9 "$BRK_PID"
wait "$BRK_PID" 2>/dev/null
check "sqlite:restart-after-kill9" brk_start "$STATE_DIR" "$PORT"
req GET "$API/endpoints/c2.durable" "$ADMIN"
check "sqlite:write-survives-kill9" [ "$CODE" = 200 -a "$(out .metadata.resourceVersion)" = "$drv" ]
req GET "$API/clusters" "$ADMIN"
check "sqlite:rv-keeps-growing" [ "$(out .metadata.resourceVersion)" -ge "$drv" ]
# watch resume across the restart comes from the on-disk change log
watch_start r1 endpoints "$ADMIN" $((drv - 1))
check "sqlite:resume-after-restart" wait_for "$T/r1.watch" '.type=="ADDED" and .object.metadata.name=="c2.durable"'

# ---- SIGTERM with open watch streams: exits 0, promptly
watch_start s1 endpoints "$ADMIN" "$drv"
watch_start s2 clusters "$ADMIN" "$drv"
sleep 0.5
kill -TERM "$BRK_PID"
rc=1
for i in $(seq 1 100); do
	kill -0 "$BRK_PID" 2>/dev/null || { wait "$BRK_PID"; rc=$?; break; }
	sleep 0.1
done
check "sqlite:sigterm-clean-exit" [ "$rc" = 0 ]

# ---- globalnet: overlapping clusters get distinct global CIDRs from a 2-block range
G=$T/gn
mkstate "$G" sqlite '{"enabled":true,"cidrRange":"242.0.0.0/15","clusterSize":65536}'
STATE_DIR=$G
PORT=$(free_port)
URL=https://127.0.0.1:$PORT
check "gn:start" brk_start "$G" "$PORT"
# one cluster may not take the whole range (issue 11): at most clusterSize addresses
req POST "$API/clusters" "$JOIN" "$(cluster_json g9 10.9.0.0/16 10.99.0.0/16 '["242.0.0.0/15"]')"
check "gn:cap-whole-range-422" says 422 'a cluster may hold at most 65536'
req POST "$API/clusters" "$JOIN" "$(cluster_json g9 10.9.0.0/16 10.99.0.0/16 '["242.0.0.0/16","242.1.0.0/16"]')"
check "gn:cap-two-blocks-422" [ "$CODE" = 422 ]
req POST "$API/clusters" "$JOIN" "$(cluster_json g1 10.1.0.0/16 10.96.0.0/16)"
g1=$(out '.spec.globalCIDRs[0]')
check "gn:allocate" [ "$CODE" = 201 -a "$g1" = 242.0.0.0/16 ]
req POST "$API/clusters" "$JOIN" "$(cluster_json g2 10.1.0.0/16 10.96.0.0/16 '["242.0.0.0/16"]')"
check "gn:asked-taken-422" [ "$CODE" = 422 ]
req POST "$API/clusters" "$JOIN" "$(cluster_json g2 10.1.0.0/16 10.96.0.0/16 '["243.0.0.0/16"]')"
check "gn:asked-outside-422" [ "$CODE" = 422 ]
req POST "$API/clusters" "$JOIN" "$(cluster_json g2 10.1.0.0/16 10.96.0.0/16 '["242.1.0.0/16"]')"
check "gn:asked-free-honoured" [ "$CODE" = 201 -a "$(out '.spec.globalCIDRs[0]')" = 242.1.0.0/16 ]
tokg2=$(out .credential.token)
gi='{"metadata":{"name":"g2.p1"},"spec":{"clusterID":"g2","pod":"10.1.0.5"},"status":{"globalIP":"242.0.0.9"}}'
req POST "$API/globalingressips" "$tokg2" "$gi"
check "gn:claim-other-global-ip-422" says 422 'status.globalIP: 242.0.0.9 is outside the global CIDRs of cluster g2 (242.1.0.0/16)'
req POST "$API/globalingressips" "$tokg2" "$(jq -c '.spec.pod="10.7.0.5" | .status.globalIP="242.1.0.9"' <<<"$gi")"
check "gn:claim-foreign-pod-422" says 422 'spec.pod: 10.7.0.5 is outside'
req POST "$API/globalingressips" "$tokg2" "$(jq -c '.status.globalIP="242.1.0.9"' <<<"$gi")"
check "gn:claim-own-global-ip-201" [ "$CODE" = 201 ]
req POST "$API/endpoints" "$tokg2" "$(endpoint_json g2 gw 10.1.0.2 | jq -c '.spec.subnets=["10.1.0.0/16"]')"
check "gn:endpoint-must-claim-global-422" says 422 'outside the global CIDRs of cluster g2'
req POST "$API/endpoints" "$tokg2" "$(endpoint_json g2 gw 10.1.0.2 | jq -c '.spec.subnets=["242.1.0.0/16"] | .spec.healthCheckIP="10.1.0.1"')"
check "gn:endpoint-global-201" [ "$CODE" = 201 ]
req POST "$API/clusters" "$JOIN" "$(cluster_json g3 10.1.0.0/16 10.96.0.0/16)"
check "gn:exhausted-422" [ "$CODE" = 422 ]
req GET "$API/clusters/g2" "$tokg2"
req PUT "$API/clusters/g2" "$tokg2" "$(jq -c 'del(.spec.globalCIDRs)' "$T/out")"
check "gn:rejoin-keeps-global-cidr" [ "$CODE" = 200 -a "$(out '.spec.globalCIDRs[0]')" = 242.1.0.0/16 ]
req DELETE "$API/clusters/g1" "$ADMIN"
req POST "$API/clusters" "$JOIN" "$(cluster_json g3 10.1.0.0/16 10.96.0.0/16)"
check "gn:freed-block-reused" [ "$CODE" = 201 -a "$(out '.spec.globalCIDRs[0]')" = 242.0.0.0/16 ]

t_done
