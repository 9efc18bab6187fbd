#!/bin/bash
# Benchmark: the gateway agent at idle, with 2 and with 15 remote clusters.
# For each size, a lab of N clusters x 1 node x PODS pods (N = 3, then 16), a broker, every
# cluster joined, an agent on every gateway; once every gateway reports all N-1 connections
# connected and SETTLE s have passed, one WINDOW s window (default 30 s) measures on every
# gateway, for the agent and for its charon separately:
#   - resident memory: VmRSS from /proc/PID/status at the end of the window;
#   - CPU: utime+stime from /proc/PID/stat over the window, as % of one core.
# Prints the median over the gateways (and the min..max), plus the broker's own figures
# for scale. A measurement, not a pass/fail test. SIZES (default "3 16"), WINDOW, SETTLE.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
. tests/e2e/cluster_lib.sh
SIZES=${SIZES:-3 16}
WINDOW=${WINDOW:-30}
SETTLE=${SETTLE:-10}
PODS=${PODS:-1}
HZ=$(getconf CLK_TCK)
trap '"$LAB" down >/dev/null 2>&1' EXIT

median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "n/a"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
range() { sort -n | awk 'NR==1 {lo=$1} {hi=$1} END {print lo ".." hi}'; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo x; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo x; }

# summary LABEL FILE COLUMN UNIT: "label  median (min..max) unit" over the gateways
summary() {
	local med rng
	med=$(awk -v c="$3" '{print $c}' "$2" | median)
	rng=$(awk -v c="$3" '{print $c}' "$2" | range)
	printf '  %-34s %8s %s   (gateways: %s)\n' "$1" "$med" "$4" "$rng"
}

measure() {
	local n=$1 remote=$(($1 - 1)) c i t0 ok out=$SA_RUN/idle.txt
	local -a nodes=() apid=() cpid=() a0=() c0=()
	"$LAB" up --clusters "$n" --nodes 1 --pods "$PODS" >/tmp/${LAB_PREFIX}bench-lab-up.log 2>&1 ||
		{ cat /tmp/${LAB_PREFIX}bench-lab-up.log >&2; return 1; }
	lab_start_broker || return 1
	for i in $(seq "$n"); do
		join_cluster "c$i" || return 1
		nodes+=("c$i-n1")
	done
	t0=$SECONDS
	for c in "${nodes[@]}"; do start_agent "$c" --log-level warn; done
	ok=1
	for c in "${nodes[@]}"; do
		wait_until $((t0 + 240 - SECONDS)) status_connected "$c" "$remote" ||
			{ ok=0; echo "$c: not all $remote connections connected" >&2; }
	done
	[ $ok = 1 ] || { for c in "${nodes[@]}"; do tail -3 "$SA_RUN/logs/agent-$c.log"; done >&2; return 1; }
	echo "  $n clusters: every gateway connected to its $remote peers after $((SECONDS - t0)) s" >&2
	sleep "$SETTLE"

	for c in "${nodes[@]}"; do
		apid+=("$(agent_pid "$c")") cpid+=("$(charon_pid "$c")")
	done
	bpid=$(broker_pid)
	for i in "${!nodes[@]}"; do a0+=("$(ticks "${apid[$i]}")") c0+=("$(ticks "${cpid[$i]}")"); done
	b0=$(ticks "$bpid")
	sleep "$WINDOW"
	: >"$out"
	for i in "${!nodes[@]}"; do
		local a1 c1
		a1=$(ticks "${apid[$i]}") c1=$(ticks "${cpid[$i]}")
		if [ "$a1" = x ] || [ "$c1" = x ] || [ "${a0[$i]}" = x ] || [ "${c0[$i]}" = x ]; then
			echo "${nodes[$i]}: the agent or its charon went away during the window" >&2
			continue
		fi
		# node agent_rss_kb charon_rss_kb agent_cpu% charon_cpu%
		echo "${nodes[$i]} $(rss_kb "${apid[$i]}") $(rss_kb "${cpid[$i]}")" \
			"$(awk -v d=$((a1 - a0[i])) -v h="$HZ" -v w="$WINDOW" 'BEGIN {printf "%.2f", d / h / w * 100}')" \
			"$(awk -v d=$((c1 - c0[i])) -v h="$HZ" -v w="$WINDOW" 'BEGIN {printf "%.2f", d / h / w * 100}')" >>"$out"
	done
	b1=$(ticks "$bpid")
	# still connected at the end of the window?
	ok=0
	for c in "${nodes[@]}"; do status_connected "$c" "$remote" && ok=$((ok + 1)); done

	echo "$n clusters ($remote remote clusters per gateway), $(wc -l <"$out") gateways, ${WINDOW} s idle window:"
	awk '{printf "%s %.1f %.1f %s %s\n", $1, $2 / 1024, $3 / 1024, $4, $5}' "$out" >"$out.mib"
	summary "agent VmRSS" "$out.mib" 2 MiB
	summary "agent CPU (% of one core)" "$out.mib" 4 %
	summary "agent's charon VmRSS" "$out.mib" 3 MiB
	summary "agent's charon CPU (% of one core)" "$out.mib" 5 %
	if [ "$b1" != x ] && [ "$b0" != x ]; then
		printf '  %-34s %8s MiB, %s %% CPU\n' "broker (one process, $n clusters)" \
			"$(awk -v k="$(rss_kb "$bpid")" 'BEGIN {printf "%.1f", k / 1024}')" \
			"$(awk -v d=$((b1 - b0)) -v h="$HZ" -v w="$WINDOW" 'BEGIN {printf "%.2f", d / h / w * 100}')"
	fi
	echo "  gateways still all connected at the end of the window: $ok of $n"
	"$LAB" down >/dev/null 2>&1
}

echo "agent at idle (kernel-libipsec data path, $(nproc) cores, $(date -u +%Y-%m-%d))"
for n in $SIZES; do
	measure "$n" || echo "$n clusters: no figures (see above)"
done
