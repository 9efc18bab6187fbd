#!/bin/bash
# End-to-end: every node, two gateways (issue 5). Two clusters of three nodes (n1 and n2
# gateway-capable, n3 not), an agent on every node. Pods on every placement reach each
# other and the remote service; big packets cross; the active gateway dies and a standby
# takes over; an agent restart does not fail over; a failover works while the broker is down.
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
trap '[ "${KEEP_LAB:-0}" = 1 ] || "$LAB" down >/dev/null 2>&1' EXIT
for cmd in agent broker deploy-broker join; do
	"$SUBAGENT" $cmd --help >/dev/null 2>&1 || { t_skip all "subagent $cmd is not built yet"; exit 0; }
done

lx() { "$LAB" exec "$@"; }
pod_ip() { lab_json | jq -r --arg p "$1" '.clusters[].nodes[].pods[] | select(.name == $p) | .ip'; }
tcp_echo() {	# (socat's error, if any, in $SA_RUN/tcp_echo.err)
	echo x | lx "$1" -- socat -T"$(ts 3)" - "TCP4:$2:8080,connect-timeout=$(ts 3)" 2>"$SA_RUN/tcp_echo.err" | head -1
}
ping_ok() { lx "$1" -- ping -c1 -W"$(ts 1)" "$2" >/dev/null 2>&1; }
role_is() { [ "$(agent_role "$1")" = "$2" ]; }
follows() { [ "$(active_of "$1")" = "$2" ]; }

"$LAB" up --clusters 2 --nodes 3 --pods 1 >&2 || { t_fail lab_up; t_done; }
lab_start_broker >&2 && join_cluster c1 >&2 && join_cluster c2 >&2 || { t_fail setup; t_done; }
for c in c1 c2; do for j in 1 2 3; do start_node_agent "$c-n$j"; done; done
ok=1
for c in c1 c2; do
	wait_until 30 role_is "$c-n1" gateway && wait_until 30 status_connected "$c-n1" 1 &&
		wait_until 10 follows "$c-n3" "$c-n1" && wait_until 10 role_is "$c-n2" standby || ok=0
done
[ $ok = 1 ] && t_pass elected_and_connected || { t_fail elected_and_connected; tail -20 "$SA_RUN"/logs/agent-c1-n*.log >&2; }

G1=c1-n1-p1 N1=c1-n3-p1 G2=c2-n1-p1 N2=c2-n3-p1
placements() {	# label: every ordered pair of {gateway pod, non-gateway pod} across clusters
	local tag=$1 g1=$2 n1=$3 s d a
	for pair in "$n1 $N2" "$n1 $G2" "$g1 $N2" "$g1 $G2" "$N2 $n1" "$G2 $n1" "$N2 $g1" "$G2 $g1"; do
		set -- $pair; s=$1 d=$2
		a=$(tcp_echo "$s" "$(pod_ip "$d")")
		if [ "$a" = "$d $(pod_ip "$s")" ]; then t_pass "${tag}_${s}_to_${d}"; else
			# for the reader of a failure: a lasting fault or a passing one, a false
			# failover or not, and the routes the packet met on both clusters' gateways
			local err again takeovers
			err=$(sed 's/^.* E //' "$SA_RUN/tcp_echo.err" | tr '\n' ' ')
			again=$(tcp_echo "$s" "$(pod_ip "$d")")
			takeovers=$(cat "$SA_RUN"/logs/agent-c*-n[12].log | grep -c 'becomes the active gateway')
			t_fail "${tag}_${s}_to_${d}" "got '$a' ${err:+[$err]}, again: '$again', elections won so far: $takeovers (2 at the start, 3 after the failover)"
			for n in ${g1%-p1} ${G2%-p1}; do
				echo "$n table 150: $(lx "$n" -- ip route show table 150 | tr '\n' ';')" >&2
			done
		fi
	done
}
placements placement "$G1" "$N1"

VIP2=$(lab_json | jq -r '.clusters[1].service_vip') VIP1=$(lab_json | jq -r '.clusters[0].service_vip')
for s in $G1 $N1; do
	a=$(tcp_echo "$s" "$VIP2")
	[[ $a =~ ^c2-n[123]-p1\ $(pod_ip "$s")$ ]] && t_pass "vip_from_$s" || t_fail "vip_from_$s" "got '$a'"
done
for s in $G2 $N2; do
	a=$(tcp_echo "$s" "$VIP1")
	[[ $a =~ ^c1-n[123]-p1\ $(pod_ip "$s")$ ]] && t_pass "vip_from_$s" || t_fail "vip_from_$s" "got '$a'"
done
check host_network_to_remote_pod ping_ok c1-n3 "$(pod_ip $N2)"
check host_network_gateway_to_remote_pod ping_ok c1-n1 "$(pod_ip $N2)"

# MTU: SYNs leaving through subagent's devices get an MSS that fits the route's MTU;
# 3000-byte ICMP and UDP, and bulk TCP, from every placement.
check mss_clamp_on_plain_node bash -c "$LAB exec c1-n3 -- nft list table ip subagent_mss | grep -q 'maxseg size set rt mtu'"
check mss_clamp_on_gateway bash -c "$LAB exec c1-n1 -- nft list table ip subagent_mss | grep -q 'maxseg size set rt mtu'"
big_udp() { head -c 3000 /dev/zero | lx "$1" -- socat -T"$(ts 5)" - "UDP4:$2:8080" 2>/dev/null | wc -c; }
bulk_tcp() { head -c 2000000 /dev/urandom | lx "$1" -- socat -T"$(ts 5)" - "TCP4:$2:8080,connect-timeout=$(ts 3)" 2>/dev/null | wc -c; }
for s in $G1 $N1; do
	for d in $G2 $N2; do
		check "icmp_3000_${s}_to_${d}" lx "$s" -- ping -c2 -W"$(ts 2)" -s 3000 "$(pod_ip "$d")"
		n=$(big_udp "$s" "$(pod_ip "$d")")
		[ "$n" -ge 3000 ] && t_pass "udp_3000_${s}_to_${d}" || t_fail "udp_3000_${s}_to_${d}" "$n bytes back"
		n=$(bulk_tcp "$s" "$(pod_ip "$d")")
		[ "$n" -ge 2000000 ] && t_pass "bulk_tcp_${s}_to_${d}" || t_fail "bulk_tcp_${s}_to_${d}" "$n bytes back"
	done
done

# Agent restart on the active gateway: no failover, and an established TCP connection
# carries on through it.
e0=$(agent_epoch c1-n1)
out=$SA_RUN/stream.out
own_echo_server "$N2" 8090
(for i in $(seq 40); do echo "line$i"; sleep 0.25; done) |
	lx "$N1" -- socat -T"$(ts 20)" - "TCP4:$(pod_ip $N2):8090,connect-timeout=$(ts 3)" >"$out" 2>/dev/null &
spid=$!
sleep 2
args=$(node_agent_args c1-n1)
stop_agent c1-n1
start_agent c1-n1 $args
wait $spid
grep -q '^line40$' "$out" && t_pass restart_keeps_established_connection ||
	t_fail restart_keeps_established_connection "$(tail -1 "$out")"
wait_until 10 role_is c1-n1 gateway && [ "$(agent_epoch c1-n1)" = "$e0" ] && role_is c1-n2 standby &&
	t_pass restart_does_not_fail_over || t_fail restart_does_not_fail_over "epoch $e0 -> $(agent_epoch c1-n1), n2 $(agent_role c1-n2)"

# No false failover: full CPU load on both cores for 20 s (the active gateway's node
# included) while the liveness probes run every 20 ms: nobody takes over.
if command -v stress-ng >/dev/null; then
	e1=$(agent_epoch c1-n1) n0=$(cat "$SA_RUN"/logs/agent-c*-n[12].log | grep -c "becomes the active gateway")
	lx c1-n1 -- stress-ng --cpu "$(nproc)" --cpu-method matrixprod --timeout 20s --quiet
	n1=$(cat "$SA_RUN"/logs/agent-c*-n[12].log | grep -c "becomes the active gateway")
	[ "$n1" = "$n0" ] && role_is c1-n1 gateway && [ "$(agent_epoch c1-n1)" = "$e1" ] &&
		t_pass no_false_failover_under_full_cpu_load ||
		t_fail no_false_failover_under_full_cpu_load "$((n1 - n0)) takeovers, epoch $e1 -> $(agent_epoch c1-n1)"
else
	t_skip no_false_failover_under_full_cpu_load "stress-ng is not installed (make deps)"
fi

# Failover: the active gateway's node dies.
t0=$(date +%s%N)
kill_node c1-n1
until lx "$N1" -- ping -c1 -W0.05 "$(pod_ip $N2)" >/dev/null 2>&1; do
	[ $(( ($(date +%s%N) - t0) / 1000000000 )) -ge 30 ] && break
	sleep 0.05
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "failover: first exchange from a non-gateway pod $ms ms after the kill" >&2
[ "$ms" -lt 30000 ] && t_pass "failover_reconnects_in_${ms}ms" || t_fail failover_reconnects
log_has_liveness() { grep -q "no probe from the active gateway c1-n1" "$SA_RUN/logs/agent-c1-n2.log"; }
wait_until 5 log_has_liveness && t_pass failover_detected_by_liveness_probes || t_fail failover_detected_by_liveness_probes
wait_until 10 role_is c1-n2 gateway && [ "$(agent_epoch c1-n2)" -gt "$e0" ] && t_pass failover_new_epoch ||
	t_fail failover_new_epoch
one_endpoint() {
	[ "$(lx c2-n1 -- "$SUBAGENT" show endpoints --config-dir "$SA_RUN/c2" -o json 2>/dev/null |
		jq '[.[] | select(.cluster == "c1")] | length')" = 1 ]
}
wait_until 15 one_endpoint && t_pass remote_keeps_one_endpoint_per_cluster || t_fail remote_keeps_one_endpoint_per_cluster
G1=c1-n2-p1
wait_until 15 ping_ok "$G1" "$(pod_ip $N2)"
placements after_failover "$G1" "$N1"
check show_gateways lx c1-n2 -- "$SUBAGENT" show gateways --config-dir "$SA_RUN/c1"

# Failover while the broker is down: c1-n1 comes back as a standby, the broker stops,
# c1-n2 dies; c1-n1 takes over and reaches c2 without the broker.
start_node_agent c1-n1
wait_until 10 role_is c1-n1 standby || t_fail n1_back_as_standby
stop_broker
kill_node c1-n2
t0=$(date +%s%N)
wait_until 30 ping_ok "$N1" "$(pod_ip $N2)" &&
	t_pass "failover_without_broker_in_$(( ($(date +%s%N) - t0) / 1000000 ))ms" ||
	{ t_fail failover_without_broker; tail -15 "$SA_RUN/logs/agent-c1-n1.log" >&2; }
lab_start_broker >&2
wait_until 30 one_endpoint && wait_until 20 ping_ok c1-n1-p1 "$(pod_ip $N2)" &&
	t_pass broker_back_converges || t_fail broker_back_converges

for c in c1 c2; do for j in 1 2 3; do stop_agent "$c-n$j"; done; done
check_not mss_table_removed_on_stop "$LAB" exec c1-n3 -- nft list table ip subagent_mss
check_not vxr_removed_on_stop "$LAB" exec c1-n3 -- ip link show sa-vxr
stop_broker
t_done
