#!/bin/bash
# The broker API on the etcd store (a real etcd started here on loopback): the shared API
# suite, replay from etcd's history, 410 after compaction, and two replicas on one etcd
# (writes through one, watched on the other; kill one, the other serves).
set -u
cd "$(dirname "$0")/../.."
T=$(mktemp -d /tmp/sbs-etcd.XXXXXX)
. tests/e2e/broker_lib.sh
trap 'brk_cleanup; rm -rf "$T"' EXIT

if ! command -v etcd >/dev/null; then
	t_skip broker-etcd "etcd not installed (tests/deps.sh installs etcd-server)"
	exit 0
fi
[ -x "$BIN" ] || { echo "FAIL: broker-etcd (no $BIN; run make)"; exit 1; }
check "etcd:start-etcd" start_etcd "$T/etcd"
# etcd speaks TLS only and wants a client certificate (issue 11: it was plain HTTP)
check_not "etcd:plain-http-refused" curl -sf --max-time 3 "http://$ETCD_EP/health"
check_not "etcd:no-client-cert-refused" curl -sf --max-time 3 --cacert "$T/etcd-pki/ca.pem" \
	"https://$ETCD_EP/v3/kv/range" -d '{"key":"AA=="}'
NC=$T/nocert
mkstate "$NC" "etcd://$ETCD_EP"
rm -f "$NC/etcd-client.pem" "$NC/etcd-client-key.pem"
"$BIN" broker --dir "$NC" --listen "127.0.0.1:$(free_port)" >"$NC/broker.log" 2>&1
check "etcd:broker-without-client-cert-exits" grep -q 'etcd-client.pem is missing' "$NC/broker.log"
mkstate "$NC" "etcd+http://$ETCD_EP"
"$BIN" broker --dir "$NC" --listen "127.0.0.1:$(free_port)" >"$NC/broker.log" 2>&1
check "etcd:broker-plain-http-to-tls-etcd-fails" grep -q 'etcd unreachable' "$NC/broker.log"
STATE_DIR=$T/state
mkstate "$STATE_DIR" "etcd://$ETCD_EP" '' ',"historyLimit":40,"bookmarkIntervalMs":500'
PORT=$(free_port)
URL=https://127.0.0.1:$PORT
check "etcd:start" brk_start "$STATE_DIR" "$PORT"
A_PID=$BRK_PID A_URL=$URL
api_suite etcd

# ---- a second replica on the same etcd
B=$T/stateb
mkstate "$B" "etcd://$ETCD_EP" '' ',"historyLimit":40,"bookmarkIntervalMs":500'
BPORT=$(free_port)
check "etcd:start-replica" brk_start "$B" "$BPORT"
B_PID=$BRK_PID B_URL=https://127.0.0.1:$BPORT
URL=$A_URL; a_list=$(list_state clusters)
URL=$B_URL; b_list=$(list_state clusters)
check "etcd:replicas-same-data" [ "${a_list% *}" = "${b_list% *}" -a "$(out '[.items[].metadata.name]|sort|join(",")')" = c1,c2 ]
watch_start rb endpoints "$ADMIN" "$(list_state endpoints | cut -d' ' -f2)"
URL=$A_URL
req POST "$API/endpoints" "$ADMIN" "$(endpoint_json c2 via-a 10.2.0.40)"
arv=$(out .metadata.resourceVersion)
check "etcd:write-via-a-seen-on-b" wait_for "$T/rb.watch" ".type==\"ADDED\" and .object.metadata.name==\"c2.via-a\" and .object.metadata.resourceVersion==\"$arv\""
URL=$B_URL
req GET "$API/whoami" "$JOIN"
req POST "$API/clusters" "$JOIN" "$(cluster_json c5 10.1.0.0/24 10.95.0.0/16)"
check "etcd:overlap-checked-across-replicas" [ "$CODE" = 422 ]
req POST "$API/clusters" "$JOIN" "$(cluster_json c5 10.5.0.0/16 10.95.0.0/16)"
tok5=$(out .credential.token)
check "etcd:register-via-b" [ "$CODE" = 201 ]
URL=$A_URL
req GET "$API/whoami" "$tok5"
check "etcd:token-from-b-valid-on-a" [ "$(out .identity)" = cluster:c5 ]
# racing registrations of overlapping clusters through both replicas: one wins each round
race_ok=1
for r in 1 2 3 4 5; do
	pids=()
	for side in a b; do
		u=$A_URL; [ $side = b ] && u=$B_URL
		curl -sS --max-time 10 --cacert "$CA" -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $JOIN" \
			-H 'Content-Type: application/json' \
			--data-binary "$(cluster_json r$side$r 10.$((100 + r)).0.0/16 10.$((200 + r)).0.0/16)" \
			"$u$API/clusters" >"$T/race.$side" &
		pids+=($!)
	done
	wait "${pids[@]}"
	codes=$(cat "$T/race.a" "$T/race.b" | sort | tr '\n' ' ')
	[ "$codes" = "201 422 " ] || { race_ok=0; echo "round $r: $codes"; }
done
check "etcd:racing-registrations-one-wins" [ "$race_ok" = 1 ]
watch_start ra endpoints "$ADMIN" "$arv"
kill -9 "$A_PID"
wait "$A_PID" 2>/dev/null
URL=$B_URL
req POST "$API/endpoints" "$tok5" "$(endpoint_json c5 gw 10.5.0.1)"
check "etcd:b-serves-after-a-dies" [ "$CODE" = 201 ]
check "etcd:b-watch-continues" wait_for "$T/rb.watch" '.type=="ADDED" and .object.metadata.name=="c5.gw"'
req GET "$API/endpoints/c2.via-a" "$ADMIN"
check "etcd:a-write-readable-on-b" [ "$CODE" = 200 -a "$(out .metadata.resourceVersion)" = "$arv" ]
# resume on B from a point it never saw live (before B started): etcd's history
watch_start rh endpoints "$ADMIN" 1
check "etcd:resume-from-etcd-history" wait_for "$T/rh.watch" '.type=="ADDED" and .object.metadata.name=="c1.gw"'
check "etcd:history-replays-deletes" wait_for "$T/rh.watch" '.type=="DELETED" and .object.metadata.name=="c1.n2"'
req GET "$API/endpoints?limit=1" "$ADMIN"
ctok=$(out .metadata.continue)
req POST "$API/endpoints" "$ADMIN" "$(endpoint_json c5 after-token 10.5.0.8)"	# the token's revision is now history
etcd_compact
req GET "$API/endpoints?watch=1&resourceVersion=2" "$ADMIN"
check "etcd:compacted-410" [ "$CODE" = 410 -a "$(out .reason)" = Gone ]
req GET "$API/endpoints?limit=1&continue=$ctok" "$ADMIN"
check "etcd:paged-compacted-token-410" [ "$CODE" = 410 -a "$(out .reason)" = Expired ]
req GET "$API/endpoints" "$ADMIN"
watch_start rl endpoints "$ADMIN" "$(out .metadata.resourceVersion)"
req PUT "$API/endpoints/c5.gw" "$tok5" "$(req GET "$API/endpoints/c5.gw" "$tok5"; cat "$T/out")"
check "etcd:relist-then-watch" wait_for "$T/rl.watch" '.type=="MODIFIED" and .object.metadata.name=="c5.gw"'

# ---- etcd down: errors are 503, and service comes back with etcd
kill -STOP "$ETCD_PID"
req GET "$API/clusters" "$ADMIN"
check "etcd:etcd-stopped-503" [ "$CODE" = 503 -o "$CODE" = 000 ]
kill -CONT "$ETCD_PID"
req GET "$API/clusters" "$ADMIN"
check "etcd:etcd-back" [ "$CODE" = 200 ]
# etcd restarts (same data, same ports): the replica's change feed reconnects
kill -9 "$ETCD_PID"
wait "$ETCD_PID" 2>/dev/null
req GET "$API/clusters" "$ADMIN"
check "etcd:etcd-down-503" [ "$CODE" = 503 ]
check "etcd:etcd-restart" start_etcd "$T/etcd" $ETCD_PORTS
req POST "$API/endpoints" "$tok5" "$(endpoint_json c5 after-restart 10.5.0.9)"
check "etcd:write-after-etcd-restart" [ "$CODE" = 201 ]
check "etcd:watch-after-etcd-restart" wait_for "$T/rb.watch" '.type=="ADDED" and .object.metadata.name=="c5.after-restart"' 15

t_done
