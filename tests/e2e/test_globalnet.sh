#!/bin/bash
# End-to-end: globalnet in the netns lab. Two clusters with identical pod and service CIDRs
# (lab --overlap), a broker deployed with --globalnet, one gateway node each. Pods reach
# the other cluster's pods and echo service through global ingress IPs, both directions;
# listeners see the source cluster's egress IPs (or a pod's own 1:1 egress IP); the
# gateway node itself reaches remote global IPs; ICMP errors cross the translation; an
# agent restart keeps an established TCP connection; overlapping clusters are refused by a
# broker without globalnet.
set -u
# A private mount namespace for the bpffs the agents pin their flow tables in: the lab's
# `ip netns exec` children copy it, nothing is mounted in the host's namespace.
if [ -z "${SA_GN_MNTNS:-}" ]; then
	exec env SA_GN_MNTNS=1 unshare --mount --propagation private "$0" "$@"
fi
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
# cluster_lib's agent_pid ("subagent agent .*--node c1-n1 ") matches the agents of every
# lab on the machine: ours put --node last, and we look for ours only.
start_agent() {
	local node=$1 c=${1%%-n*}; shift
	"$LAB" exec "$node" -- setsid -f "$SUBAGENT" agent --config-dir "$SA_RUN/$c" \
		--state-dir "$SA_RUN/state/$node" "$@" --node "$node" \
		</dev/null >>"$SA_RUN/logs/agent-$node.log" 2>&1
}
agent_pid() { pgrep -n -f "subagent agent --config-dir $SA_RUN/[^ ]* .*--node $1\$" 2>/dev/null; }
SUBAGENT=${SA_GN_SUBAGENT:-$SUBAGENT}	# test_globalnet_asan.sh: the ASan/UBSan build
BPFFS=$(mktemp -d /run/sa-gn-bpffs.XXXXXX)
cleanup() {
	[ -n "${KEEP:-}" ] && return
	"$LAB" down >/dev/null 2>&1
	umount "$BPFFS" 2>/dev/null
	rmdir "$BPFFS" 2>/dev/null
}
trap cleanup EXIT
mount -t bpf bpf "$BPFFS" || { t_skip all "cannot mount bpffs"; exit 0; }

for cmd in agent broker deploy-broker join globalnet export; do
	"$SUBAGENT" $cmd --help >/dev/null 2>&1 || { t_skip all "subagent $cmd is not built yet"; exit 0; }
done

lx() { "$LAB" exec "$@"; }
# echo_from WHO ADDR PROTO: the echo server's first answer line ("<pod> <client ip>")
echo_from() {
	if [ "$3" = udp ]; then
		echo x | lx "$1" -- socat -T"$(ts 3)" - "UDP4:$2:8080" 2>/dev/null | head -1
	else
		echo x | lx "$1" -- socat -T"$(ts 3)" - "TCP4:$2:8080,connect-timeout=$(ts 3)" 2>/dev/null | head -1
	fi
}
pod_ip() { lab_json | jq -r --arg p "$1" '.clusters[].nodes[].pods[] | select(.name == $p) | .ip'; }
ping_ok() { lx "$1" -- ping -c1 -W"$(ts 1)" "$2" >/dev/null 2>&1; }
# in_egress IP CLUSTER: IP is one of CLUSTER's 8 cluster egress IPs
in_egress() {
	local g; g=$(jq -r '.globalCIDRs[0]' "$SA_RUN/$2/cluster.json")
	python3 -c 'import ipaddress,sys; n=ipaddress.ip_network(sys.argv[1]); a=ipaddress.ip_address(sys.argv[2]); sys.exit(0 if 1 <= int(a)-int(n.network_address) <= 8 else 1)' "$g" "$1"
}
gip() { # gip CLUSTER NAME: status.globalIP of a GlobalIngress/EgressIP object
	lx "$1-n1" -- "$SUBAGENT" globalnet list --config-dir "$SA_RUN/$1" -o json |
		jq -r --arg n "$1.$2" '.[] | select(.name == $n) | .global_ip'
}

"$LAB" up --clusters 2 --nodes 1 --pods 2 --overlap >&2 || { t_fail lab_up; t_done; }
P1=$(pod_ip c1-n1-p1) P2=$(pod_ip c1-n1-p2) VIP=$(lab_json | jq -r '.clusters[0].service_vip')
[ "$P1" = "$(pod_ip c2-n1-p1)" ] && t_pass lab_overlaps || t_fail lab_overlaps

# A broker without globalnet refuses the second, overlapping cluster.
plain=$SA_RUN/broker-plain
mkdir -p "$SA_RUN/logs"
"$SUBAGENT" deploy-broker --dir "$plain" --listen "$BROKER_IP:8444" >"$SA_RUN/logs/deploy-plain.log" 2>&1
lx broker -- setsid -f "$SUBAGENT" broker --dir "$plain" </dev/null >>"$SA_RUN/logs/broker-plain.log" 2>&1
wait_until 20 lx broker -- curl -sf --cacert "$plain/ca.pem" "https://$BROKER_IP:8444/healthz"
lx c1-n1 -- "$SUBAGENT" join "$plain/broker-info.subm" --clusterid c1 $(cluster_cidrs c1) \
	--config-dir "$SA_RUN/plain-c1" >"$SA_RUN/logs/join-plain-c1.log" 2>&1 ||
	{ t_fail plain_join_c1; cat "$SA_RUN/logs/join-plain-c1.log" >&2; }
if lx c2-n1 -- "$SUBAGENT" join "$plain/broker-info.subm" --clusterid c2 $(cluster_cidrs c2) \
	--config-dir "$SA_RUN/plain-c2" >"$SA_RUN/logs/join-plain-c2.log" 2>&1; then
	t_fail overlap_without_globalnet_refused "join succeeded"
else
	grep -qi "overlap" "$SA_RUN/logs/join-plain-c2.log" && grep -q c1 "$SA_RUN/logs/join-plain-c2.log" &&
		t_pass overlap_without_globalnet_refused ||
		t_fail overlap_without_globalnet_refused "$(cat "$SA_RUN/logs/join-plain-c2.log")"
fi
out=$(lx c1-n1 -- "$SUBAGENT" globalnet ingress --config-dir "$SA_RUN/plain-c1" --pod "$P1" 2>&1)
[ $? = 1 ] && [[ $out == *"without globalnet"* ]] && t_pass cli_refuses_without_globalnet ||
	t_fail cli_refuses_without_globalnet "$out"
p=$(lx broker -- pgrep -n -f "subagent broker --dir $plain") && kill "$p"

lab_start_broker --globalnet >&2 || { t_fail broker_up; t_done; }
for c in c1 c2; do join_cluster "$c" >&2 || t_fail "join_$c"; done
G1=$(jq -r '.globalCIDRs[0]' "$SA_RUN/c1/cluster.json") G2=$(jq -r '.globalCIDRs[0]' "$SA_RUN/c2/cluster.json")
[[ $G1 == 242.* && $G2 == 242.* && $G1 != "$G2" ]] && t_pass global_cidrs_allocated ||
	t_fail global_cidrs_allocated "c1 '$G1' c2 '$G2'"
echo "global CIDRs: c1 $G1, c2 $G2" >&2

N1IP=$(lab_json | jq -r '.clusters[].nodes[] | select(.name == "c1-n1") | .ip')
start_agent c1-n1 --bpf-dir "$BPFFS/c1-n1" --metrics-listen "$N1IP:9471"
start_agent c2-n1 --bpf-dir "$BPFFS/c2-n1"
ok=1
for c in c1 c2; do wait_until 60 status_connected "$c-n1" 1 || ok=0; done
if [ $ok = 1 ]; then t_pass connected; else
	t_fail connected
	for c in c1 c2; do tail -30 "$SA_RUN/logs/agent-$c-n1.log" >&2; done
fi
# Only global CIDRs are published: the endpoints' subnets and health-check IPs.
eps=$(lx c1-n1 -- "$SUBAGENT" show endpoints --config-dir "$SA_RUN/c1" -o json)
echo "$eps" | jq -e --arg g1 "$G1" --arg g2 "$G2" 'length == 2 and all(.[]; (.subnets == [$g1] or .subnets == [$g2])
	and (.health_check_ip | startswith("242.")))' >/dev/null &&
	t_pass only_global_cidrs_published || t_fail only_global_cidrs_published "$eps"

# Ingress objects on both sides: a pod and the echo service.
for c in c1 c2; do
	lx "$c-n1" -- "$SUBAGENT" globalnet ingress --config-dir "$SA_RUN/$c" --pod "$P1" --name p1 \
		--wait 20 >&2 || t_fail "ingress_pod_$c"
	lx "$c-n1" -- "$SUBAGENT" export service --config-dir "$SA_RUN/$c" --name echo --vip "$VIP" \
		--wait 20 >&2 || t_fail "export_service_$c"
done
C1P1=$(gip c1 p1) C2P1=$(gip c2 p1) C1SVC=$(gip c1 echo.default) C2SVC=$(gip c2 echo.default)
echo "ingress IPs: c1 p1 $C1P1 echo $C1SVC; c2 p1 $C2P1 echo $C2SVC" >&2
[ -n "$C2P1" ] && [ -n "$C2SVC" ] && [ -n "$C1P1" ] && [ "$C1P1" != "$C1SVC" ] &&
	t_pass ingress_ips_allocated || t_fail ingress_ips_allocated

# Ownership: c1's credential may not create (or take over) c2's global IP objects.
T1=$(cat "$SA_RUN/c1/token")
api() { lx c1-n1 -- curl -s -o /dev/null -w '%{http_code}' --cacert "$SA_RUN/broker/ca.pem" \
	-H "Authorization: Bearer $T1" -H 'Content-Type: application/json' "$@"; }
code=$(api -d '{"metadata":{"name":"c2.evil"},"spec":{"clusterID":"c2","pod":"10.1.1.11"}}' \
	"https://$BROKER_IP:$BROKER_PORT/apis/subagent.io/v1/globalingressips")
[ "$code" = 403 ] && t_pass foreign_object_forbidden || t_fail foreign_object_forbidden "HTTP $code"
code=$(api -X DELETE "https://$BROKER_IP:$BROKER_PORT/apis/subagent.io/v1/globalingressips/c2.p1")
[ "$code" = 403 ] && t_pass foreign_delete_forbidden || t_fail foreign_delete_forbidden "HTTP $code"

# Pod to a remote pod's and the remote service's global IPs, both directions, TCP and UDP;
# the listener sees one of the source cluster's egress IPs.
for proto in tcp udp; do
	wait_until 10 bash -c "[ -n \"\$(echo x | ip netns exec ${LAB_PREFIX}c1-n1-p1 socat -T1 - TCP4:$C2P1:8080,connect-timeout=1 2>/dev/null)\" ]"
	a=$(echo_from c1-n1-p1 "$C2P1" $proto); ip=${a#* }
	[ "${a%% *}" = c2-n1-p1 ] && in_egress "$ip" c1 && t_pass "c1_pod_to_c2_pod_$proto" ||
		t_fail "c1_pod_to_c2_pod_$proto" "got '$a'"
	a=$(echo_from c2-n1-p2 "$C1P1" $proto); ip=${a#* }
	[ "${a%% *}" = c1-n1-p1 ] && in_egress "$ip" c2 && t_pass "c2_pod_to_c1_pod_$proto" ||
		t_fail "c2_pod_to_c1_pod_$proto" "got '$a'"
	a=$(echo_from c1-n1-p1 "$C2SVC" $proto); ip=${a#* }
	[[ ${a%% *} == c2-n1-p[12] ]] && in_egress "$ip" c1 && t_pass "c1_pod_to_c2_service_$proto" ||
		t_fail "c1_pod_to_c2_service_$proto" "got '$a'"
	a=$(echo_from c2-n1-p1 "$C1SVC" $proto); ip=${a#* }
	[[ ${a%% *} == c1-n1-p[12] ]] && in_egress "$ip" c2 && t_pass "c2_pod_to_c1_service_$proto" ||
		t_fail "c2_pod_to_c1_service_$proto" "got '$a'"
done
check icmp_echo_to_remote_global_ip ping_ok c1-n1-p2 "$C2P1"

# Host network: the gateway node itself to a remote pod's global IP.
a=$(echo_from c1-n1 "$C2P1" tcp); ip=${a#* }
[ "${a%% *}" = c2-n1-p1 ] && in_egress "$ip" c1 && t_pass host_to_remote_global_ip ||
	t_fail host_to_remote_global_ip "got '$a'"

# The agent's counters: translations seen, flows in the table, mappings programmed.
st=$(lx c1-n1 -- "$SUBAGENT" globalnet stats --state-dir "$SA_RUN/state/c1-n1" -o json)
echo "$st" | jq -e '.attached and .counters.egress_xlate > 0 and .counters.ingress_xlate > 0
	and .flows > 0 and ([.mappings[] | select(.programmed)] | length) == 2' >/dev/null &&
	t_pass globalnet_stats || t_fail globalnet_stats "$st"
lx c1-n1 -- "$SUBAGENT" globalnet stats --state-dir "$SA_RUN/state/c1-n1" >&2
# The same counters as Prometheus metrics, and what the pool holds.
M=$(lx c1-n1 -- curl -sf "http://$N1IP:9471/metrics")
metric() { awk -v k="$1" 'index($0, k " ") == 1 { print $NF }' <<<"$M"; }
if awk -v e="$(metric 'subagent_globalnet_translated_packets_total{direction="egress"}')" \
       -v i="$(metric 'subagent_globalnet_translated_packets_total{direction="ingress"}')" \
       -v f="$(metric subagent_globalnet_flows)" 'BEGIN { exit !(e > 0 && i > 0 && f > 0) }' &&
   [ "$(metric "subagent_globalnet_ips_allocated{cidr=\"$G1\",kind=\"cluster_egress\"}")" = 8 ] &&
   [ "$(metric 'subagent_globalnet_dropped_packets_total{reason="table_full"}')" = 0 ]; then
	t_pass globalnet_metrics
else
	t_fail globalnet_metrics "$(grep '^subagent_globalnet' <<<"$M")"
fi
if command -v promtool >/dev/null; then
	check globalnet_metrics_promtool bash -c 'promtool check metrics <<<"$0"' "$M"
fi

# A per-pod egress IP (1:1): the remote listener sees exactly it.
lx c1-n1 -- "$SUBAGENT" globalnet egress --config-dir "$SA_RUN/c1" --pod "$P2" --name p2 \
	--wait 20 >&2 || t_fail egress_pod_created
E2=$(gip c1 p2)
seen() { a=$(echo_from c1-n1-p2 "$C2P1" "$1"); [ "${a#* }" = "$E2" ]; }
if [ -n "$E2" ] && wait_until 10 seen tcp; then t_pass per_pod_egress_ip_tcp; else
	t_fail per_pod_egress_ip_tcp "egress IP '$E2', listener saw '$(echo_from c1-n1-p2 "$C2P1" tcp)'"; fi
seen udp && t_pass per_pod_egress_ip_udp || t_fail per_pod_egress_ip_udp "got '$a'"
a=$(echo_from c1-n1-p1 "$C2P1" tcp); ip=${a#* }
in_egress "$ip" c1 && t_pass other_pod_keeps_cluster_egress || t_fail other_pod_keeps_cluster_egress "got '$a'"

# ICMP errors across the translation: UDP to a closed port of a remote pod's global IP is
# refused (port unreachable, its quoted header translated back).
refused() {
	lx c1-n1-p1 -- python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
s.connect((sys.argv[1], 9999))
try:
    s.send(b"x"); s.recv(100)
except ConnectionRefusedError:
    sys.exit(0)
except socket.timeout:
    sys.exit(3)
sys.exit(4)' "$1"
}
check icmp_port_unreachable_translated refused "$C2P1"

# show networks / globalnet list: the global CIDRs and the allocations, seen from c2.
net=$(lx c2-n1 -- "$SUBAGENT" show networks --config-dir "$SA_RUN/c2" -o json)
echo "$net" | jq -e --arg g1 "$G1" --arg ip "$C1P1" '.[] | select(.cluster == "c1") |
	(.global_cidrs == [$g1]) and (.global_ips | any(endswith("=" + $ip))) and (.egress_ips | length > 0)' \
	>/dev/null && t_pass show_networks_globalnet || t_fail show_networks_globalnet "$net"
lx c2-n1 -- "$SUBAGENT" show networks --config-dir "$SA_RUN/c2" >&2
lx c2-n1 -- "$SUBAGENT" globalnet list --config-dir "$SA_RUN/c2" >&2
check globalnet_list_table bash -c "'$LAB' exec c2-n1 -- '$SUBAGENT' globalnet list --config-dir '$SA_RUN/c2' | grep -q '$C1SVC'"

# Health checks and verify over global IPs.
wait_until 20 bash -c "[ \"\$(jq '[.connections[] | select(.rtt.avg_ns > 0)] | length' $SA_RUN/state/c1-n1/status.json 2>/dev/null)\" -ge 1 ]" &&
	t_pass health_checks_over_global_ips ||
	t_fail health_checks_over_global_ips "$(jq -c .connections "$SA_RUN/state/c1-n1/status.json" 2>&1)"
check verify_from_c1 lx c1-n1 -- "$SUBAGENT" verify --config-dir "$SA_RUN/c1" --state-dir "$SA_RUN/state/c1-n1"

# An agent restart keeps an established TCP connection (pinned flow table): a connection
# opened before the restart still carries data after it.
fifo=$SA_RUN/tcp.in out=$SA_RUN/tcp.out
rm -f "$fifo" "$out"; mkfifo "$fifo"
own_echo_server c2-n1-p1 8090
lx c1-n1-p1 -- socat -T"$(ts 60)" - "TCP4:$C2P1:8090,connect-timeout=$(ts 3)" <"$fifo" >"$out" 2>"$out.err" &
spid=$!
exec 7>"$fifo"
# in a subshell: a client that already ended makes the write fail, not this script
( echo before >&7 ) 2>/dev/null
wait_until 5 grep -q before "$out" || echo "tcp flow: nothing before the restart: $(cat "$out.err")" >&2
stop_agent c1-n1
# the stopped agent's last status still says connected: wait for the new one's
rm -f "$SA_RUN/state/c1-n1/status.json"
start_agent c1-n1 --bpf-dir "$BPFFS/c1-n1"
wait_until 60 status_connected c1-n1 1
( echo after-restart >&7 ) 2>/dev/null
if wait_until 10 grep -q after-restart "$out"; then t_pass tcp_flow_survives_agent_restart; else
	t_fail tcp_flow_survives_agent_restart "got '$(tr '\n' ' ' <"$out")' $(cat "$out.err")"
	lx c1-n1-p1 -- ss -tino dst "$C2P1" >&2	# the client's socket: retransmissions, backoff
fi
exec 7>&-
kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null

# Broker down: an agent restarted meanwhile goes on translating both ways (remote global
# CIDRs from the gateway's endpoint cache, its mappings from its last globalnet.json).
stop_broker
stop_agent c2-n1
rm -f "$SA_RUN/state/c2-n1/status.json"
start_agent c2-n1 --bpf-dir "$BPFFS/c2-n1"
wait_until 60 status_connected c2-n1 1
to_c2() { echo x | lx c1-n1-p1 -- socat -T"$(ts 2)" - "TCP4:$C2P1:8080,connect-timeout=$(ts 2)" 2>/dev/null | grep -q c2-n1-p1; }
from_c2() { a=$(echo_from c2-n1-p1 "$C1P1" tcp); [ "${a%% *}" = c1-n1-p1 ]; }
if wait_until 30 to_c2; then
	a= && wait_until 30 from_c2; ip=${a#* }	# a: from_c2's last answer
	[ "${a%% *}" = c1-n1-p1 ] && in_egress "$ip" c2 && t_pass restart_while_broker_down ||
		t_fail restart_while_broker_down "c2 -> c1 got '$a'"
else
	t_fail restart_while_broker_down "c1 -> c2 ingress IP unreachable"
	tail -20 "$SA_RUN/logs/agent-c2-n1.log" >&2
fi
lab_start_broker >&2
wait_until 30 bash -c "[ \"\$(jq .broker_synced $SA_RUN/state/c2-n1/status.json)\" = true ]" ||
	t_fail broker_back

# charon killed: a new ipsec0 comes; the agent attaches to it again.
cpid=$(charon_pid c1-n1)
if [ -n "$cpid" ]; then
	kill -9 "$cpid"
	wait_until 40 bash -c "echo x | ip netns exec ${LAB_PREFIX}c1-n1-p1 socat -T2 - TCP4:$C2P1:8080,connect-timeout=2 2>/dev/null | grep -q c2-n1-p1" &&
		t_pass reattach_after_charon_restart || t_fail reattach_after_charon_restart
else
	t_fail reattach_after_charon_restart "no charon in c1-n1"
fi

# Deleting an ingress object withdraws its global IP.
lx c2-n1 -- "$SUBAGENT" globalnet delete --config-dir "$SA_RUN/c2" --name p1 >&2
gone() { [ -z "$(echo_from c1-n1-p1 "$C2P1" tcp)" ]; }
wait_until 10 gone && t_pass ingress_delete_withdraws || t_fail ingress_delete_withdraws

# SIGTERM keeps the pinned flow table on purpose (a restart keeps connections); `leave`
# stops the agent and removes it with the agent's state directory.
stop_agent c1-n1
check sigterm_keeps_pinned_flow_table test -e "$BPFFS/c1-n1/gn_ct"
start_agent c1-n1 --bpf-dir "$BPFFS/c1-n1"
wait_until 10 agent_pid c1-n1 && wait_until 20 test -e "$SA_RUN/state/c1-n1/agent.pid"
lx c1-n1 -- "$SUBAGENT" leave --config-dir "$SA_RUN/c1" --state-dir "$SA_RUN/state/c1-n1" \
	--bpf-dir "$BPFFS/c1-n1" >&2 && ! agent_pid c1-n1 >/dev/null && [ ! -e "$BPFFS/c1-n1" ] &&
	[ ! -e "$SA_RUN/state/c1-n1" ] && t_pass leave_removes_agent_state_and_pinned_maps ||
	t_fail leave_removes_agent_state_and_pinned_maps "$(ls "$BPFFS/c1-n1" "$SA_RUN/state/c1-n1" 2>&1 | tr '\n' ' ')"

grep -h "globalnet" "$SA_RUN"/logs/agent-*.log | head -30 >&2
for c in c1 c2; do stop_agent "$c-n1"; done
stop_broker
t_done
