#!/bin/bash
# The broker's service discovery objects: ServiceExports written by their clusters (strict
# validation, ownership), one ServiceImport per name.namespace aggregated by the broker
# (clusters, ports, type conflicts), read-only for everyone, following every export write,
# cluster deletion and broker restart; on etcd, two broker replicas taking concurrent
# exports of one service from many clusters end with every cluster in the import.
set -u
cd "$(dirname "$0")/../.."
T=$(mktemp -d /tmp/sbs-svc.XXXXXX)
T_NAME=${T_NAME:+$T_NAME-services}	# test_broker_asan.sh: asan:broker-services
T_NAME=${T_NAME:-broker-services}
. tests/e2e/broker_lib.sh
trap 'brk_cleanup; rm -rf "$T"' EXIT

[ -x "$BIN" ] || { echo "FAIL: broker-services (no $BIN; run make)"; exit 1; }

# export_json CLUSTER NAME NS [TYPE] [IPS_JSON] [ENDPOINTS_JSON] [PORTS_JSON] [WEIGHT]
export_json() {
	# a VIP in the cluster's service CIDR (cN: 10.10N.0.0/16, kN: 10.(120+N).0.0/16)
	local vip="10.10${1#c}.0.10"
	[ "${1#k}" != "$1" ] && vip="10.$((120 + ${1#k})).0.10"
	local c=$1 n=$2 ns=$3 type=${4:-ClusterSetIP} ips=${5:-"[\"$vip\"]"}
	local eps=${6:-'[{"hostname":"'$1'-p1","addresses":["10.9.0.11"],"ready":true}]'}
	local ports=${7:-'[{"name":"http","protocol":"TCP","port":8080}]'} w=${8:-1}
	[ "$type" = Headless ] && ips='[]'
	printf '{"apiVersion":"subagent.io/v1","kind":"ServiceExport","metadata":{"name":"%s.%s.%s"},"spec":{"clusterID":"%s","name":"%s","namespace":"%s","type":"%s","ips":%s,"ports":%s,"endpoints":%s,"weight":%s}}' \
		"$c" "$n" "$ns" "$c" "$n" "$ns" "$type" "$ips" "$ports" "$eps" "$w"
}
import_of() { req GET "$API/serviceimports/$1" "$ADMIN"; }
clusters_of() { import_of "$1"; out '[.status.clusters[].cluster] | join(",")'; }

STATE_DIR=$T/state
mkstate "$STATE_DIR" sqlite
PORT=$(free_port)
URL=https://127.0.0.1:$PORT
check "start" brk_start "$STATE_DIR" "$PORT"
declare -A TOK
for i in 1 2 3; do
	req POST "$API/clusters" "$JOIN" "$(cluster_json c$i 10.$i.0.0/16 10.10$i.0.0/16)"
	TOK[c$i]=$(out .credential.token)
done

# ---- exports become one import
watch_start imports serviceimports "$ADMIN" 0
WPID=$WATCH_PID
req POST "$API/serviceexports" "${TOK[c1]}" "$(export_json c1 echo default)"
check "export-201" [ "$CODE" = 201 -a "$(out .kind)" = ServiceExport -a "$(out .metadata.name)" = c1.echo.default ]
import_of echo.default
check "import-created" [ "$CODE" = 200 -a "$(out .kind)" = ServiceImport -a "$(out .spec.type)" = ClusterSetIP \
	-a "$(out '[.status.clusters[].cluster] | join(",")')" = c1 -a "$(out '.spec.ports[0].port')" = 8080 ]
check "import-cluster-record" [ "$(out '.status.clusters[0].ips[0]')" = 10.101.0.10 \
	-a "$(out '.status.clusters[0].endpoints[0].hostname')" = c1-p1 -a "$(out '.status.clusters[0].weight')" = 1 ]
req POST "$API/serviceexports" "${TOK[c2]}" "$(export_json c2 echo default ClusterSetIP '["10.102.0.10"]' '[]' \
	'[{"name":"http","protocol":"TCP","port":8080},{"name":"dns","protocol":"UDP","port":53}]' 3)"
check "second-cluster-joins" [ "$(clusters_of echo.default)" = c1,c2 ]
check "ports-union" [ "$(out '[.spec.ports[] | "\(.name)/\(.protocol)/\(.port)"] | join(",")')" = http/TCP/8080,dns/UDP/53 ]
check "per-cluster-weight" [ "$(out '.status.clusters[1].weight')" = 3 ]
req POST "$API/serviceexports" "${TOK[c3]}" "$(export_json c3 echo default Headless)"
check "type-conflict-left-out" [ "$(clusters_of echo.default)" = c1,c2 -a "$(out '.status.conditions[0].reason')" = TypeConflict ]
check "watch-sees-import" wait_for "$T/imports.watch" '.type=="MODIFIED" and .object.metadata.name=="echo.default" and (.object.status.clusters|length)==2'

# ---- a cluster's export hands out only its own addresses (issue 11)
req POST "$API/serviceexports" "${TOK[c2]}" "$(export_json c2 steal default ClusterSetIP '["10.101.0.10"]')"
check "export-vip-of-another-cluster-422" says 422 'spec.ips[0]: 10.101.0.10 is outside the service and global CIDRs of cluster c2'

# ---- ownership and read-only imports
req POST "$API/serviceexports" "${TOK[c1]}" "$(export_json c2 other default)"
check "export-foreign-403" [ "$CODE" = 403 ]
req GET "$API/serviceexports/c2.echo.default" "${TOK[c1]}"
req PUT "$API/serviceexports/c2.echo.default" "${TOK[c1]}" "$(cat "$T/out")"
check "update-foreign-403" [ "$CODE" = 403 ]
req DELETE "$API/serviceexports/c2.echo.default" "${TOK[c1]}"
check "delete-foreign-403" [ "$CODE" = 403 ]
import_of echo.default
imp=$(cat "$T/out")
for who in c1 admin; do
	tok=${TOK[$who]:-$ADMIN}
	req POST "$API/serviceimports" "$tok" '{"metadata":{"name":"x.default"},"spec":{"clusterID":"c1"}}'
	c1=$CODE
	req PUT "$API/serviceimports/echo.default" "$tok" "$imp"
	c2=$CODE
	req DELETE "$API/serviceimports/echo.default" "$tok"
	check "imports-read-only-$who" [ "$c1" = 405 -a "$c2" = 405 -a "$CODE" = 405 ]
done
req GET "$API/serviceimports" "${TOK[c2]}"
check "imports-readable-by-clusters" [ "$CODE" = 200 -a "$(out .kind)" = ServiceImportList -a "$(out '.items|length')" = 1 ]

# ---- validation: refused with 422 and nothing changes
before=$(list_state serviceexports)
bad() {	# bad NAME JQ_EDIT: the edited c1 export is refused
	req POST "$API/serviceexports" "${TOK[c1]}" "$(export_json c1 web default | jq -c "$2")"
	[ "$CODE" = 422 ] && [ "$(out .reason)" = Invalid ] || { t_fail "invalid-$1" "$CODE $(out .message)"; return; }
	echo "invalid-$1: $(out .message)" >&2
}
bad name-mismatch '.metadata.name = "c1.web.other"'
bad namespace-label '.spec.namespace = "Default" | .metadata.name = "c1.web.Default"'
bad unknown-field '.spec.color = "blue"'
bad type '.spec.type = "LoadBalancer"'
bad no-ips '.spec.ips = []'
bad headless-with-ips '.spec.type = "Headless"'
bad ip '.spec.ips = ["10.1.2.300"]'
bad too-many-ips '.spec.ips = [range(9)|"10.0.0.\(.+1)"]'
bad protocol '.spec.ports[0].protocol = "tcp"'
bad port-0 '.spec.ports[0].port = 0'
bad port-name '.spec.ports[0].name = "http_x"'
bad dup-port '.spec.ports += [{"name":"http","protocol":"TCP","port":81}]'
bad dup-hostname '.spec.endpoints += .spec.endpoints'
bad ready-type '.spec.endpoints[0].ready = "yes"'
bad no-addresses '.spec.endpoints[0].addresses = []'
bad weight '.spec.weight = 5000'
bad endpoint-field '.spec.endpoints[0].zone = "a"'
check "invalid-exports-change-nothing" [ "$(list_state serviceexports)" = "$before" ]
req POST "$API/serviceexports" "${TOK[c1]}" "$(export_json c1 web default | jq -c '.spec.endpoints = [range(1001)|{"hostname":"p\(.)","addresses":["10.9.0.1"],"ready":true}]')"
check "too-many-endpoints-422" [ "$CODE" = 422 ]

# ---- updates, deletes, conflicts resolved by age
req GET "$API/serviceexports/c1.echo.default" "${TOK[c1]}"
req PUT "$API/serviceexports/c1.echo.default" "${TOK[c1]}" "$(jq -c '.spec.endpoints[0].ready = false' "$T/out")"
check "update-200" [ "$CODE" = 200 ]
import_of echo.default
check "import-follows-update" [ "$(out '.status.clusters[0].endpoints[0].ready')" = false ]
req DELETE "$API/serviceexports/c1.echo.default" "${TOK[c1]}"
check "unexport-c1" [ "$CODE" = 200 -a "$(clusters_of echo.default)" = c2 ]
req DELETE "$API/serviceexports/c2.echo.default" "${TOK[c2]}"
import_of echo.default
check "oldest-left-decides-type" [ "$(out .spec.type)" = Headless -a "$(out '[.status.clusters[].cluster] | join(",")')" = c3 \
	-a "$(out '.status.conditions | length')" = 0 ]
req DELETE "$API/clusters/c3" "$ADMIN"
import_of echo.default
check "cluster-delete-removes-import" [ "$CODE" = 404 ]
check "watch-sees-delete" wait_for "$T/imports.watch" '.type=="DELETED" and .object.metadata.name=="echo.default"'
kill "$WPID" 2>/dev/null

# ---- repaired at start: an import lost between an export and its import comes back
req POST "$API/serviceexports" "${TOK[c1]}" "$(export_json c1 echo default)"
check "re-export" [ "$CODE" = 201 -a "$(clusters_of echo.default)" = c1 ]
stop_pid "$BRK_PID"
sqlite3 "$STATE_DIR/broker.db" "DELETE FROM kv WHERE key = 'r/serviceimports/echo.default'"
import_gone=$(sqlite3 "$STATE_DIR/broker.db" "SELECT count(*) FROM kv WHERE key LIKE 'r/serviceimports/%'")
check "restart" brk_start "$STATE_DIR" "$PORT"
repaired() { [ "$(clusters_of echo.default)" = c1 ]; }
check "import-removed-behind-the-broker" [ "$import_gone" = 0 ]
check "import-repaired-at-start" wait_until 10 repaired
stop_pid "$BRK_PID"

# ---- etcd: two replicas, concurrent exports of one service from 8 clusters
if ! command -v etcd >/dev/null; then
	t_skip "etcd-concurrent-exports" "no etcd"
	t_done
fi
if ! start_etcd "$T/etcd"; then
	t_fail "etcd-start"
	t_done
fi
E=$T/etcd-state
mkstate "$E" "etcd://$ETCD_EP"
PA=$(free_port) PB=$(free_port)
[ "$PA" = "$PB" ] && PB=$(free_port)
check "etcd-replica-a" brk_start "$E" "$PA"
check "etcd-replica-b" brk_start "$E" "$PB"
declare -A URLS=([0]=https://127.0.0.1:$PA [1]=https://127.0.0.1:$PB)
for i in $(seq 1 8); do
	URL=${URLS[$((i % 2))]}
	req POST "$API/clusters" "$JOIN" "$(cluster_json k$i 10.$((20 + i)).0.0/16 10.$((120 + i)).0.0/16)"
	TOK[k$i]=$(out .credential.token)
done
for round in 1 2; do
	pids=()
	for i in $(seq 1 8); do
		curl -sS --max-time 20 --cacert "$CA" -o /dev/null -w '%{http_code}\n' \
			-H "Authorization: Bearer ${TOK[k$i]}" -H 'Content-Type: application/json' \
			$([ $round = 2 ] && echo "-X DELETE") \
			$([ $round = 1 ] && echo "--data-binary $(export_json k$i db prod)") \
			"${URLS[$((i % 2))]}$API/serviceexports$([ $round = 2 ] && echo "/k$i.db.prod")" \
			>>"$T/codes.$round" &
		pids+=($!)
	done
	wait "${pids[@]}"
	URL=${URLS[0]}
	if [ $round = 1 ]; then
		check "etcd-concurrent-exports-201" [ "$(sort -u "$T/codes.1" | tr -d '\n')" = 201 ]
		check "etcd-import-has-every-cluster" [ "$(clusters_of db.prod)" = k1,k2,k3,k4,k5,k6,k7,k8 ]
		URL=${URLS[1]}
		check "etcd-other-replica-agrees" [ "$(clusters_of db.prod)" = k1,k2,k3,k4,k5,k6,k7,k8 ]
	else
		check "etcd-concurrent-deletes-200" [ "$(sort -u "$T/codes.2" | tr -d '\n')" = 200 ]
		import_of db.prod
		check "etcd-import-gone" [ "$CODE" = 404 ]
	fi
done
t_done
