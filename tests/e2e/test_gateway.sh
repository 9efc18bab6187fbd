#!/bin/bash
# End-to-end: the gateway engine in the netns lab. Three clusters of one node (c3 behind
# NAT), a broker, every cluster joined, an agent on every gateway. Pods talk across
# clusters, traffic between gateways is ESP-in-UDP only, and faults heal without a person.
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
trap '[ "${KEEP_LAB:-0}" = 1 ] || "$LAB" down >/dev/null 2>&1' EXIT

for cmd in agent broker deploy-broker join; do
	"$SUBAGENT" $cmd --help >/dev/null 2>&1 || { t_skip all "subagent $cmd is not built yet"; exit 0; }
done

lx() { "$LAB" exec "$@"; }
# echo_from POD ADDR PROTO: the echo server's first answer line ("<pod> <client ip>")
echo_from() {
	if [ "$3" = udp ]; then
		echo x | lx "$1" -- socat -T"$(ts 3)" - "UDP4:$2:8080" 2>/dev/null | head -1
	else
		echo x | lx "$1" -- socat -T"$(ts 3)" - "TCP4:$2:8080,connect-timeout=$(ts 3)" 2>/dev/null | head -1
	fi
}
pod_ip() { lab_json | jq -r --arg p "$1" '.clusters[].nodes[].pods[] | select(.name == $p) | .ip'; }
ping_ok() { lx "$1" -- ping -c1 -W"$(ts 1)" "$2" >/dev/null 2>&1; }

"$LAB" up --clusters 3 --nodes 1 --pods 2 --nat c3 >&2 || { t_fail lab_up; t_done; }
lab_start_broker >&2 || { t_fail broker_up; t_done; }
t_pass broker_up
for c in c1 c2 c3; do join_cluster "$c" >&2 || t_fail "join_$c"; done
t0=$(date +%s%N)
for c in c1 c2 c3; do start_agent "$c-n1"; done
ok=1
for c in c1 c2 c3; do wait_until 60 status_connected "$c-n1" 2 || ok=0; done
if [ $ok = 1 ]; then
	t_pass all_connected
	echo "all connected after $(( ($(date +%s%N) - t0) / 1000000 )) ms" >&2
else
	t_fail all_connected
	for c in c1 c2 c3; do tail -20 "$SA_RUN/logs/agent-$c-n1.log" >&2; done
fi

P11=$(pod_ip c1-n1-p1) P21=$(pod_ip c2-n1-p1) P31=$(pod_ip c3-n1-p1)
for proto in tcp udp; do
	a=$(echo_from c1-n1-p1 "$P21" $proto)
	[ "$a" = "c2-n1-p1 $P11" ] && t_pass "c1_to_c2_pod_$proto" || t_fail "c1_to_c2_pod_$proto" "got '$a'"
	a=$(echo_from c2-n1-p2 "$P11" $proto)
	[ "$a" = "c1-n1-p1 $(pod_ip c2-n1-p2)" ] && t_pass "c2_to_c1_pod_$proto" || t_fail "c2_to_c1_pod_$proto" "got '$a'"
	a=$(echo_from c3-n1-p1 "$P11" $proto)
	[ "$a" = "c1-n1-p1 $P31" ] && t_pass "nat_c3_to_c1_pod_$proto" || t_fail "nat_c3_to_c1_pod_$proto" "got '$a'"
	a=$(echo_from c1-n1-p2 "$P31" $proto)
	[ "$a" = "c3-n1-p1 $(pod_ip c1-n1-p2)" ] && t_pass "c1_to_nat_c3_pod_$proto" || t_fail "c1_to_nat_c3_pod_$proto" "got '$a'"
done
VIP2=$(lab_json | jq -r '.clusters[1].service_vip')
a=$(echo_from c1-n1-p1 "$VIP2" tcp)
[[ $a =~ ^c2-n1-p[12]\ $P11$ ]] && t_pass pod_to_remote_service_vip || t_fail pod_to_remote_service_vip "got '$a'"

# Only ESP-in-UDP between gateways: a capture on the internet segment shows no plaintext.
cap=$SA_RUN/cap.pcap
lx broker -- true
"$LAB" exec c1-n1 -- true
INET=$(lab_json | jq -r '.prefix')inet
ip netns exec "$INET" timeout 8 tcpdump -i c1-n1 -U -s 0 -w "$cap" 'not arp and not host 198.18.0.10' \
	>/dev/null 2>&1 &
tdpid=$!
sleep 1
secret=PLAINTEXT-CANARY-$RANDOM$RANDOM
for i in 1 2 3; do
	echo "$secret" | lx c1-n1-p1 -- socat -T2 - "TCP4:$P21:8080,connect-timeout=2" >/dev/null 2>&1
	echo "$secret" | lx c1-n1-p1 -- socat -T2 - "UDP4:$P21:8080" >/dev/null 2>&1
done
kill $tdpid 2>/dev/null; wait $tdpid 2>/dev/null
n_all=$(tcpdump -r "$cap" -nn 2>/dev/null | wc -l)
n_other=$(tcpdump -r "$cap" -nn 'not (udp port 4500 or udp port 500)' 2>/dev/null | wc -l)
if [ "$n_all" -gt 0 ] && [ "$n_other" = 0 ] && ! grep -q "$secret" "$cap"; then
	t_pass only_esp_in_udp_on_the_wire
else
	t_fail only_esp_in_udp_on_the_wire "$n_all packets, $n_other not IKE/ESP-in-UDP, canary: $(grep -c "$secret" "$cap")"
	tcpdump -r "$cap" -nn "not (udp port 4500 or udp port 500)" >&2
fi

# show connections: the JSON a user scripts against.
J=$(lx c1-n1 -- "$SUBAGENT" show connections --config-dir "$SA_RUN/c1" -o json 2>/dev/null)
echo "$J" | jq -e 'length == 2 and all(.[]; (.cluster|type=="string") and (.gateway|type=="string")
  and (.remote_ip|type=="string") and (.nat|type=="boolean") and (.cable_driver=="ipsec")
  and (.subnets|type=="array") and (.status|IN("connecting","connected","error"))
  and (.rtt|has("last_ns") and has("min_ns") and has("avg_ns") and has("max_ns") and has("stddev_ns")))
  and ([.[] | select(.cluster=="c3") | .nat] == [true])' >/dev/null &&
	t_pass show_connections_json || t_fail show_connections_json "$J"
check show_connections_table lx c1-n1 -- "$SUBAGENT" show all --config-dir "$SA_RUN/c1"

# verify passes from every gateway.
for c in c1 c3; do
	check "verify_from_$c" lx "$c-n1" -- "$SUBAGENT" verify --config-dir "$SA_RUN/$c" \
		--state-dir "$SA_RUN/state/$c-n1"
done

# Fault: kill -9 charon on c1's gateway; the agent restarts it and the tunnels come back.
cpid=$(charon_pid c1-n1)
if [ -n "$cpid" ]; then
	kill -9 "$cpid"
	wait_until 30 ping_ok c1-n1-p1 "$P21" && wait_until 30 status_connected c1-n1 2 &&
		t_pass recovers_from_charon_kill || t_fail recovers_from_charon_kill
else
	t_fail recovers_from_charon_kill "no charon process found in c1-n1"
fi

# Fault: restart the remote agent.
stop_agent c2-n1
start_agent c2-n1
wait_until 30 status_connected c2-n1 2 && wait_until 20 ping_ok c1-n1-p1 "$P21" &&
	t_pass recovers_from_remote_agent_restart || t_fail recovers_from_remote_agent_restart

# Fault: broker down. Tunnels keep forwarding; an agent restarted meanwhile rebuilds its
# tunnels from its cache; then the broker comes back.
stop_broker
check_not broker_is_down lx c1-n1 -- curl -sf --max-time 2 --cacert "$SA_RUN/broker/ca.pem" \
	"https://$BROKER_IP:$BROKER_PORT/healthz"
check tunnels_forward_without_broker ping_ok c1-n1-p1 "$P31"
stop_agent c1-n1
start_agent c1-n1
wait_until 30 ping_ok c1-n1-p1 "$P21" && wait_until 30 ping_ok c1-n1-p1 "$P31" &&
	t_pass agent_restart_while_broker_down || t_fail agent_restart_while_broker_down
lab_start_broker >&2
wait_until 30 bash -c "[ \"\$(jq .broker_synced $SA_RUN/state/c1-n1/status.json)\" = true ]" &&
	wait_until 30 status_connected c1-n1 2 && t_pass broker_restart_resync || t_fail broker_restart_resync

# Bad input: a garbage Endpoint is refused by the broker; an odd but valid one is ignored
# by the agents with a log line; no agent dies.
ADMIN=$(cat "$SA_RUN/broker/admin.token")
bad='{"apiVersion":"subagent.io/v1","kind":"Endpoint","metadata":{"name":"zz-x"},"spec":{"clusterID":"zz","hostname":"x","privateIP":"999.1.1.1"}}'
code=$(lx c1-n1 -- curl -s -o /dev/null -w '%{http_code}' --cacert "$SA_RUN/broker/ca.pem" \
	-H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
	-d "$bad" "https://$BROKER_IP:$BROKER_PORT/apis/subagent.io/v1/endpoints")
[[ $code == 4* ]] && t_pass garbage_endpoint_refused_by_broker || t_fail garbage_endpoint_refused_by_broker "HTTP $code"
# Valid for the broker, not for an agent (a vxlan endpoint without its VTEP MAC, in an
# ipsec cluster): the broker stores it, every agent ignores it with a log line.
odd='{"apiVersion":"subagent.io/v1","kind":"Endpoint","metadata":{"name":"c2.odd"},"spec":{"clusterID":"c2","hostname":"odd","privateIP":"198.18.9.9","publicIP":"198.18.9.9","natTPort":4500,"subnets":["10.2.0.0/16"],"cableDriver":"vxlan","healthCheckIP":"10.2.0.1","epoch":1}}'
code=$(lx c1-n1 -- curl -s -o /dev/null -w '%{http_code}' --cacert "$SA_RUN/broker/ca.pem" \
	-H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' -d "$odd" \
	"https://$BROKER_IP:$BROKER_PORT/apis/subagent.io/v1/endpoints")
[ "$code" = 201 ] && t_pass odd_endpoint_accepted_by_broker || t_fail odd_endpoint_accepted_by_broker "HTTP $code"
logged() { grep -q "ignore endpoint c2.odd: spec.backend.vtepMAC" "$SA_RUN/logs/agent-c1-n1.log"; }
wait_until 10 logged && t_pass bad_endpoint_ignored_with_log_line || t_fail bad_endpoint_ignored_with_log_line
alive=1
for c in c1 c2 c3; do agent_pid "$c-n1" >/dev/null || alive=0; done
[ $alive = 1 ] && t_pass agents_survive_bad_endpoints || t_fail agents_survive_bad_endpoints
check ping_after_bad_endpoints ping_ok c1-n1-p1 "$P21"

for c in c1 c2 c3; do stop_agent "$c-n1"; done
stop_broker
t_done
