#!/bin/bash
# Failover benchmark (issues 5 and 12) in the netns lab: 2 clusters x 3 nodes (n1, n2
# gateway-capable, n3 not), an agent on every node with its defaults (heartbeats 100 ms,
# dead time 600 ms, liveness probes 20 ms x 5).
#  1. outage seen by a UDP probe every 10 ms (tests/bench/udp_probe) from a non-gateway pod
#     of c1 to a non-gateway pod of c2, across
#       (a) a crash of c1's active gateway: its links go down (switch and internet ports);
#       (b) kill -9 of its agent and its charon;
#     RUNS of each (default 10), alternating gateways: median and worst. In (b) a second
#     client runs the old way (a new `ping -W 0.05` every 50 ms through `lab exec`, as this
#     benchmark did before) and reports from the kill to its first answer.
#  2. false failovers: full CPU load on both cores (stress-ng, LOAD_SECS, default 60) with the
#     probe running: the failovers counted in every gateway's log, and the outage.
#  3. throughput (iperf3, SECS s) non-gateway pod -> remote non-gateway pod vs gateway pod ->
#     remote gateway pod, median of 3 runs each.
# Prints figures; not a pass/fail test.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
. tests/e2e/cluster_lib.sh
RUNS=${RUNS:-10}
SECS=${SECS:-5}
LOAD_SECS=${LOAD_SECS:-60}
PROBE=$ROOT/build/tests/bench/udp_probe
trap '"$LAB" down >/dev/null 2>&1' EXIT
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "n/a"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
worst() { sort -n | tail -1; }
lx() { "$LAB" exec "$@"; }
pod_ip() { lab_json | jq -r --arg p "$1" '.clusters[].nodes[].pods[] | select(.name == $p) | .ip'; }
role_is() { [ "$(agent_role "$1")" = "$2" ]; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
takeovers() { cat "$SA_RUN"/logs/agent-c*-n[12].log 2>/dev/null | grep -c "becomes the active gateway"; }
[ -x "$PROBE" ] || { echo "build it first: make test-build"; exit 1; }

"$LAB" up --clusters 2 --nodes 3 --pods 1 >/dev/null || exit 1
lab_start_broker && join_cluster c1 && join_cluster c2 || exit 1
for c in c1 c2; do for j in 1 2 3; do start_node_agent "$c-n$j"; done; done
wait_until 30 status_connected c1-n1 1 && wait_until 30 status_connected c2-n1 1 || { echo "not connected"; exit 1; }
N1=c1-n3-p1 N2=$(pod_ip c2-n3-p1)
wait_until 20 lx "$N1" -- ping -c1 -W1 "$N2"
lx c2-n3-p1 -- setsid -f "$PROBE" server 9000 </dev/null >/dev/null 2>&1
PREFIX=$(lab_json | jq -r .prefix)

# links NODE up|down: the node's ports on its cluster switch and on the internet segment
links() {
	local c=${1%%-n*} j=${1##*-n}
	ip -n "${PREFIX}$c-sw" link set "n$j" "$2"
	ip -n "${PREFIX}inet" link set "$1" "$2"
}

# old_client: the client this benchmark had before: a new ping every 50 ms; ms from t0
old_client() {
	local t0=$1
	until lx "$N1" -- ping -c1 -W0.05 "$N2" >/dev/null 2>&1; do
		[ $(( $(now_ms) - t0 )) -ge 30000 ] && break
		sleep 0.05
	done
	echo $(( $(now_ms) - t0 ))
}

declare -A out old
for mode in crash kill9; do
	for r in $(seq "$RUNS"); do
		active=c1-n1 standby=c1-n2
		role_is c1-n2 gateway && { active=c1-n2; standby=c1-n1; }
		f=$SA_RUN/probe-$mode-$r
		"$LAB" exec "$N1" -- "$PROBE" client "$N2" 9000 10 >"$f" 2>&1 &
		cpid=$!
		sleep 1
		args=$(node_agent_args "$active")
		t0=$(now_ms)
		if [ "$mode" = crash ]; then
			links "$active" down
		else
			kill_node "$active"
			old_client "$t0" >"$f.old" &
			opid=$!
		fi
		wait_until 10 role_is "$standby" gateway
		sleep 3
		kill -TERM "$cpid"; wait "$cpid"
		out[$mode]+="$(sed -n 's/.*outage_ms=\([0-9]*\).*/\1/p' "$f") "
		if [ "$mode" = crash ]; then
			links "$active" up	# it comes back, hears the newer epoch and steps down
		else
			wait "$opid"; old[$mode]+="$(cat "$f.old") "
			start_agent "$active" $args
		fi
		wait_until 15 role_is "$active" standby || echo "run $mode $r: $active is $(agent_role "$active")" >&2
		wait_until 15 status_connected "$standby" 1
		sleep 2
	done
done

# False failovers under full CPU load on both cores, the active gateway's node included.
before=$(takeovers)
f=$SA_RUN/probe-load
"$LAB" exec "$N1" -- "$PROBE" client "$N2" 9000 10 >"$f" 2>&1 &
cpid=$!
active=c1-n1; role_is c1-n2 gateway && active=c1-n2
lx "$active" -- stress-ng --cpu "$(nproc)" --cpu-method matrixprod --timeout "${LOAD_SECS}s" --quiet
sleep 1
kill -TERM "$cpid"; wait "$cpid"
false_fo=$(( $(takeovers) - before ))
load_outage=$(sed -n 's/.*outage_ms=\([0-9]*\).*/\1/p' "$f")

iperf() {	# FROM TO-IP
	lx "${2%%:*}" -- iperf3 -s -1 -D -p 5201 >/dev/null 2>&1
	sleep 0.3
	lx "$1" -- iperf3 -c "${2##*:}" -p 5201 -t "$SECS" -J 2>/dev/null |
		jq -r '.end.sum_received.bits_per_second / 1e9 | . * 1000 | round / 1000'
}
thr_nn=() thr_gg=()
G1=c1-n1-p1; role_is c1-n2 gateway && G1=c1-n2-p1
for r in 1 2 3; do
	thr_nn+=("$(iperf "$N1" "c2-n3-p1:$N2")")
	thr_gg+=("$(iperf "$G1" "c2-n1-p1:$(pod_ip c2-n1-p1)")")
done

echo
echo "failover, 2 clusters x 3 nodes in the lab, $RUNS runs each (kernel-libipsec), UDP probe every 10 ms non-gateway pod -> remote non-gateway pod"
for mode in crash kill9; do
	label="crash of the active gateway (links down)"
	[ "$mode" = kill9 ] && label="kill -9 of the active gateway's agent and charon"
	printf '%-62s median %s ms, worst %s ms   (runs: %s)\n' "$label" \
		"$(printf '%s\n' ${out[$mode]} | median)" "$(printf '%s\n' ${out[$mode]} | worst)" "${out[$mode]}"
done
printf '%-62s median %s ms   (runs: %s)\n' "kill -9, old client (new ping every 50 ms via lab exec)" \
	"$(printf '%s\n' ${old[kill9]} | median)" "${old[kill9]}"
printf '%-62s %s failovers, probe outage %s ms\n' "full CPU load on $(nproc) cores for ${LOAD_SECS} s (stress-ng)" "$false_fo" "$load_outage"
nn=$(printf '%s\n' "${thr_nn[@]}" | median) gg=$(printf '%s\n' "${thr_gg[@]}" | median)
printf '%-62s %s Gbit/s   (runs: %s)\n' "iperf3 non-gateway pod -> remote non-gateway pod (median)" "$nn" "${thr_nn[*]}"
printf '%-62s %s Gbit/s   (runs: %s)\n' "iperf3 gateway pod -> remote gateway pod (median)" "$gg" "${thr_gg[*]}"
awk -v a="$nn" -v b="$gg" 'BEGIN { if (b > 0) printf "%-62s %.2f\n", "ratio non-gateway / gateway", a / b }'
