#!/bin/bash
# Benchmarks of issue 5 in the netns lab (2 clusters x 3 nodes, n1/n2 gateway-capable):
#  1. failover time: kill -9 of the active gateway's agent and charon, to the first
#     successful exchange of a client that retries every 50 ms from a non-gateway pod to a
#     remote non-gateway pod; RUNS kills, alternating gateways; median.
#  2. throughput (iperf3, SECS s) non-gateway pod -> remote non-gateway pod, and gateway pod
#     -> remote gateway pod, median of RUNS runs each, and their ratio.
# Prints figures; not a pass/fail test.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
. tests/e2e/cluster_lib.sh
RUNS=${RUNS:-5}
SECS=${SECS:-5}
trap '"$LAB" down >/dev/null 2>&1' EXIT
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "n/a"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
lx() { "$LAB" exec "$@"; }
pod_ip() { lab_json | jq -r --arg p "$1" '.clusters[].nodes[].pods[] | select(.name == $p) | .ip'; }
role_is() { [ "$(agent_role "$1")" = "$2" ]; }

"$LAB" up --clusters 2 --nodes 3 --pods 1 >/dev/null || exit 1
lab_start_broker && join_cluster c1 && join_cluster c2 || exit 1
for c in c1 c2; do for j in 1 2 3; do start_node_agent "$c-n$j" --log-level warn; done; done
wait_until 30 status_connected c1-n1 1 && wait_until 30 status_connected c2-n1 1 || { echo "not connected"; exit 1; }
N1=c1-n3-p1 N2=$(pod_ip c2-n3-p1)
wait_until 20 lx "$N1" -- ping -c1 -W1 "$N2"

iperf() {	# FROM TO-IP
	lx "${2%%:*}" -- iperf3 -s -1 -D -p 5201 >/dev/null 2>&1
	sleep 0.3
	lx "$1" -- iperf3 -c "${2##*:}" -p 5201 -t "$SECS" -J 2>/dev/null |
		jq -r '.end.sum_received.bits_per_second / 1e9 | . * 1000 | round / 1000'
}
thr_nn=() thr_gg=()
for r in $(seq "$RUNS"); do
	thr_nn+=("$(iperf "$N1" "c2-n3-p1:$N2")")
	thr_gg+=("$(iperf c1-n1-p1 "c2-n1-p1:$(pod_ip c2-n1-p1)")")
done

fo=()
for r in $(seq "$RUNS"); do
	active=c1-n1; standby=c1-n2
	role_is c1-n2 gateway && { active=c1-n2; standby=c1-n1; }
	args=$(node_agent_args "$active")
	t0=$(date +%s%N)
	kill_node "$active"
	until lx "$N1" -- ping -c1 -W0.05 "$N2" >/dev/null 2>&1; do
		[ $(( ($(date +%s%N) - t0) / 1000000000 )) -ge 30 ] && break
		sleep 0.05
	done
	fo+=($(( ($(date +%s%N) - t0) / 1000000 )))
	wait_until 10 role_is "$standby" gateway
	start_agent "$active" $args --log-level warn
	wait_until 10 role_is "$active" standby
	sleep 2
done

echo
echo "route agent and failover, 2 clusters x 3 nodes in the lab, $RUNS runs (kernel-libipsec)"
printf '%-62s %s\n' "failover: kill -9 -> first exchange non-gateway pods (median)" "$(printf '%s\n' "${fo[@]}" | median) ms   (runs: ${fo[*]})"
nn=$(printf '%s\n' "${thr_nn[@]}" | median) gg=$(printf '%s\n' "${thr_gg[@]}" | median)
printf '%-62s %s\n' "iperf3 non-gateway pod -> remote non-gateway pod (median)" "$nn Gbit/s   (runs: ${thr_nn[*]})"
printf '%-62s %s\n' "iperf3 gateway pod -> remote gateway pod (median)" "$gg Gbit/s   (runs: ${thr_gg[*]})"
awk -v a="$nn" -v b="$gg" 'BEGIN { if (b > 0) printf "%-62s %.2f\n", "ratio non-gateway / gateway", a / b }'
