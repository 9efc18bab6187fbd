#!/bin/bash
# End-to-end: the metrics an operator scrapes (issue 15). Two clusters of three nodes (n1
# and n2 gateway-capable, n3 not), an agent on every node and the broker, each with
# --metrics-listen; a real Prometheus from Debian scrapes all seven. Every node of the lab
# is a network namespace, Prometheus runs in this one: one socat per target on this
# namespace's loopback enters the target's namespace for each scrape.
# Checks, through Prometheus' HTTP API: every target up, the connection series with
# Submariner's labels, values that move with traffic, a tunnel that goes down and back,
# a failover and a charon restart counted; the broker's request, watcher, object and
# store series; promtool check metrics on every endpoint; /healthz and /readyz.
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
TMP=$(mktemp -d /tmp/${LAB_PREFIX}metrics.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do stop_pid "$p"; done
	[ "${KEEP_LAB:-0}" = 1 ] || "$LAB" down >/dev/null 2>&1
	rm -rf "$TMP"
}
trap cleanup EXIT
for cmd in prometheus promtool socat; do
	command -v $cmd >/dev/null || { t_skip all "$cmd is not installed (make deps)"; exit 0; }
done
"$SUBAGENT" agent --help 2>&1 | grep -q -- --metrics-listen ||
	{ t_skip all "subagent agent has no --metrics-listen"; exit 0; }

lx() { "$LAB" exec "$@"; }
node_ip() { lab_json | jq -r --arg n "$1" '.clusters[].nodes[] | select(.name == $n) | .ip'; }
pod_ip() { lab_json | jq -r --arg p "$1" '.clusters[].nodes[].pods[] | select(.name == $p) | .ip'; }
role_is() { [ "$(agent_role "$1")" = "$2" ]; }

"$LAB" up --clusters 2 --nodes 3 --pods 1 >&2 || { t_fail lab_up; t_done; }
# the broker: its own state dir (deploy-broker), then the daemon with --metrics-listen
mkdir -p "$SA_RUN/logs"
"$SUBAGENT" deploy-broker --dir "$SA_RUN/broker" --listen "$BROKER_IP:$BROKER_PORT" \
	>"$SA_RUN/logs/deploy-broker.log" 2>&1 || { t_fail deploy_broker; t_done; }
lx broker -- setsid -f "$SUBAGENT" broker --dir "$SA_RUN/broker" \
	--metrics-listen "$BROKER_IP:9470" </dev/null >>"$SA_RUN/logs/broker.log" 2>&1
wait_until 20 lx broker -- curl -sf --cacert "$SA_RUN/broker/ca.pem" \
	"https://$BROKER_IP:$BROKER_PORT/healthz" || { t_fail broker_up; t_done; }
join_cluster c1 >&2 && join_cluster c2 >&2 || { t_fail join; t_done; }
NODES="c1-n1 c1-n2 c1-n3 c2-n1 c2-n2 c2-n3"
for n in $NODES; do start_node_agent "$n" --metrics-listen "$(node_ip "$n"):9471"; done
ok=1
for c in c1 c2; do
	wait_until 30 role_is "$c-n1" gateway && wait_until 30 status_connected "$c-n1" 1 || ok=0
done
[ $ok = 1 ] && t_pass agents_connected || { t_fail agents_connected; tail -20 "$SA_RUN"/logs/agent-c1-n1.log >&2; }

# ---- one loopback port per target, then Prometheus ----
declare -A PORT
bridge() {	# bridge NAME NETNS-NODE ADDR:PORT
	local p a=TCP4:$3
	p=$(free_port) || return 1
	# (colons inside socat's EXEC address are escaped)
	socat TCP-LISTEN:"$p",bind=127.0.0.1,reuseaddr,fork \
		EXEC:"ip netns exec $("$LAB" netns "$2") socat STDIO ${a//:/\\:}" 2>/dev/null &
	PIDS+=($!)
	PORT[$1]=$p
}
for n in $NODES; do bridge "$n" "$n" "$(node_ip "$n"):9471"; done
bridge broker broker "$BROKER_IP:9470"
{
	echo "global: { scrape_interval: 1s, scrape_timeout: 900ms, evaluation_interval: 1s }"
	echo "scrape_configs:"
	echo "  - job_name: subagent-agent"
	echo "    static_configs:"
	for n in $NODES; do
		echo "      - { targets: ['127.0.0.1:${PORT[$n]}'], labels: { node: $n, cluster: ${n%%-n*} } }"
	done
	echo "  - job_name: subagent-broker"
	echo "    static_configs:"
	echo "      - { targets: ['127.0.0.1:${PORT[broker]}'] }"
} >"$TMP/prometheus.yml"
check prometheus_config promtool check config "$TMP/prometheus.yml"
PP=$(free_port)
prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/data" \
	--web.listen-address="127.0.0.1:$PP" --log.level=warn >"$TMP/prometheus.log" 2>&1 &
PIDS+=($!)
wait_until 30 curl -sf "http://127.0.0.1:$PP/-/ready" || { t_fail prometheus_up; cat "$TMP/prometheus.log" >&2; t_done; }

# q QUERY: the result vector of an instant query as JSON
q() { curl -sf "http://127.0.0.1:$PP/api/v1/query" --data-urlencode "query=$1" | jq -c '.data.result'; }
# qv QUERY: the single value of an instant query ("" when empty)
qv() { q "$1" | jq -r 'if length == 1 then .[0].value[1] else "" end'; }
is() { [ "$(qv "$1")" = "$2" ]; }
positive() { awk -v v="$(qv "$1")" 'BEGIN { exit !(v + 0 > 0) }'; }

wait_until 30 is 'count(up == 1)' 7 && t_pass every_target_up ||
	{ t_fail every_target_up "$(q up)"; tail -5 "$TMP/prometheus.log" >&2; }

# ---- the connection series ----
C12='subagent_connection_up{local_cluster="c1",remote_cluster="c2"}'
wait_until 20 is "$C12" 1 && t_pass connection_up_c1_c2 || t_fail connection_up_c1_c2 "$(q "$C12")"
wait_until 20 is 'subagent_connection_up{local_cluster="c2",remote_cluster="c1"}' 1 &&
	t_pass connection_up_c2_c1 || t_fail connection_up_c2_c1
lbl=$(q "subagent_connections{local_cluster=\"c1\"}" | jq -c '[.[].metric |
	{node, cable_driver, local_cluster, local_hostname, remote_cluster, remote_hostname,
	 remote_endpoint_ip, status, ip: .local_endpoint_ip}]')
want='[{"node":"c1-n1","cable_driver":"ipsec","local_cluster":"c1","local_hostname":"c1-n1","remote_cluster":"c2","remote_hostname":"c2-n1","remote_endpoint_ip":"198.18.2.1","status":"connected","ip":"198.18.1.1"}]'
[ "$lbl" = "$want" ] && t_pass connection_labels || t_fail connection_labels "$lbl"
lat=$(qv 'subagent_connection_latency_seconds{local_cluster="c1",remote_cluster="c2"}')
awk -v l="$lat" 'BEGIN { exit !(l > 0 && l < 1) }' && t_pass latency_seconds ||
	t_fail latency_seconds "'$lat'"
est=$(qv 'time() - subagent_connection_established_timestamp_seconds{local_cluster="c1"}')
awk -v e="$est" 'BEGIN { exit !(e >= -2 && e < 120) }' && t_pass established_timestamp ||
	t_fail established_timestamp "'$est' s ago"
is 'sum(subagent_gateway_active)' 2 && is 'sum by (cluster) (subagent_gateway_active{cluster="c1"})' 1 &&
	t_pass one_active_gateway_per_cluster || t_fail one_active_gateway_per_cluster "$(q subagent_gateway_active)"
is 'count(subagent_ready == 1)' 6 && t_pass every_agent_ready || t_fail every_agent_ready "$(q subagent_ready)"
positive 'subagent_gateway_status_updates_total{node="c1-n1",result="ok"}' &&
	t_pass gateway_status_updates_counted || t_fail gateway_status_updates_counted

# values move with traffic: 400 pings of 1000 bytes from a c1 pod to a c2 pod
TX='subagent_connection_tx_bytes_total{local_cluster="c1",remote_cluster="c2"}'
RX='subagent_connection_rx_bytes_total{local_cluster="c2",remote_cluster="c1"}'
tx0=$(qv "$TX") rx0=$(qv "$RX")
lx c1-n3-p1 -- ping -q -c 400 -i 0.005 -s 1000 -W1 "$(pod_ip c2-n3-p1)" >/dev/null 2>&1
moved() { awk -v a="$(qv "$TX")" -v b="$tx0" -v c="$(qv "$RX")" -v d="$rx0" \
	'BEGIN { exit !(a - b >= 400000 && c - d >= 400000) }'; }
wait_until 10 moved && t_pass bytes_move_with_traffic ||
	t_fail bytes_move_with_traffic "tx $tx0 -> $(qv "$TX"), rx $rx0 -> $(qv "$RX")"
r=$(qv "rate(${TX}[5s])")
awk -v r="$r" 'BEGIN { exit !(r > 0) }' && t_pass rate_of_bytes || t_fail rate_of_bytes "'$r'"
PK='subagent_connection_tx_packets_total{local_cluster="c1",remote_cluster="c2"}'
awk -v p="$(qv "$PK")" 'BEGIN { exit !(p >= 400) }' && t_pass packets_counted || t_fail packets_counted

# a tunnel goes down (c2's gateway drops ESP-in-UDP) and comes back
lx c2-n1 -- nft -f - <<-'EOF'
	table inet s4test {
		chain in {
			type filter hook input priority -10;
			udp dport 4500 drop
		}
	}
EOF
wait_until 30 is "$C12" 0 && t_pass connection_down_seen ||
	t_fail connection_down_seen "$(q "$C12")"
is 'subagent_connections{local_cluster="c1",remote_cluster="c2",status="error"}' 1 &&
	t_pass connection_status_error || t_fail connection_status_error "$(q subagent_connections)"
lx c2-n1 -- nft delete table inet s4test
wait_until 60 is "$C12" 1 && t_pass connection_back_up || t_fail connection_back_up "$(q "$C12")"

# ---- the endpoints themselves ----
for t in $NODES broker; do
	curl -sf "http://127.0.0.1:${PORT[$t]}/metrics" >"$TMP/$t.prom" &&
		promtool check metrics <"$TMP/$t.prom" >&2 && t_pass "promtool_check_metrics_$t" ||
		t_fail "promtool_check_metrics_$t" "$(promtool check metrics <"$TMP/$t.prom" 2>&1 | head -3)"
done
for n in $NODES; do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${PORT[$n]}/healthz")" = 200 ] &&
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${PORT[$n]}/readyz")" = 200 ] ||
		{ t_fail "healthz_readyz_$n"; continue; }
	t_pass "healthz_readyz_$n"
done

# ---- the broker's series ----
positive 'subagent_broker_requests_total{resource="endpoints",verb="watch",code="200"}' &&
	positive 'sum(subagent_broker_requests_total{resource="gatewaystatuses",verb="update",code="200"})' &&
	t_pass broker_requests || t_fail broker_requests "$(q subagent_broker_requests_total)"
w=$(qv subagent_broker_watchers)
[ "${w:-0}" -ge 2 ] && t_pass broker_watchers || t_fail broker_watchers "'$w'"
is 'subagent_broker_objects{resource="endpoints",cluster="c1"}' 1 &&
	is 'subagent_broker_objects{resource="gatewaystatuses",cluster="c2"}' 2 &&
	is 'subagent_broker_objects{resource="clusters",cluster="c2"}' 1 &&
	t_pass broker_objects_per_cluster || t_fail broker_objects_per_cluster "$(q subagent_broker_objects)"
p99=$(qv 'histogram_quantile(0.99, sum by (le) (rate(subagent_broker_store_duration_seconds_bucket{op="txn"}[30s])))')
awk -v p="$p99" 'BEGIN { exit !(p > 0 && p < 2.5) }' && t_pass broker_store_latency ||
	t_fail broker_store_latency "p99 '$p99'"
is 'sum(subagent_broker_requests_total{code="401"})' "" && t_pass broker_no_auth_errors ||
	t_fail broker_no_auth_errors "$(q 'subagent_broker_requests_total{code="401"}')"

# ---- charon restart and failover, counted ----
cp=$(charon_pid c2-n1) && kill -9 "$cp"
wait_until 30 is 'subagent_charon_restarts_total{node="c2-n1"}' 1 && t_pass charon_restart_counted ||
	t_fail charon_restart_counted "$(q subagent_charon_restarts_total)"
kill_node c1-n1
wait_until 30 is 'subagent_gateway_active{node="c1-n2"}' 1 && t_pass failover_new_active ||
	t_fail failover_new_active "$(q subagent_gateway_active)"
wait_until 10 is 'subagent_election_failovers_total{node="c1-n3"}' 1 && t_pass failover_counted ||
	t_fail failover_counted "$(q subagent_election_failovers_total)"
is 'subagent_gateway_activations_total{node="c1-n2"}' 1 && t_pass activation_counted ||
	t_fail activation_counted "$(q subagent_gateway_activations_total)"
wait_until 30 is 'up{node="c1-n1"}' 0 && t_pass dead_agent_is_down || t_fail dead_agent_is_down
wait_until 60 is 'subagent_connection_up{local_cluster="c1",local_hostname="c1-n2",remote_cluster="c2"}' 1 &&
	t_pass connection_from_new_gateway || t_fail connection_from_new_gateway "$(q subagent_connection_up)"

# readiness: a cluster without any gateway-capable agent left is not ready
stop_agent c2-n1; stop_agent c2-n2
notready() { [ "$(curl -s -o "$TMP/why" -w '%{http_code}' "http://127.0.0.1:${PORT[c2-n3]}/readyz")" = 503 ]; }
if wait_until 20 notready && grep -q "no active gateway" "$TMP/why"; then
	t_pass readyz_without_gateway
else
	t_fail readyz_without_gateway "$(cat "$TMP/why" 2>/dev/null)"
fi
wait_until 10 is 'subagent_ready{node="c2-n3"}' 0 && t_pass ready_metric_follows ||
	t_fail ready_metric_follows
t_done
