#!/bin/bash
# How soon a connection's state reaches `subagent show` and the metrics, in the netns lab
# (2 clusters x 1 node x 1 pod, RUNS runs, every run a first start):
#  up:   agents started -> first pod-to-pod exchange (ICMP, retried every 20 ms), and ->
#        `show connections` saying connected, read from the broker (what any node sees)
#        and from the local gateway (what the gateway itself sees), polled every 100 ms;
#  down: UDP 4500 dropped on c2's gateway; c1's health checker calls the connection
#        "error" after 5 lost probes (its log line has the time): how long after that
#        the broker's copy (`show` from another node) and c1's /metrics say so.
# Prints a table (medians); not a pass/fail test. RUNS (default 5).
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
. tests/e2e/cluster_lib.sh
RUNS=${RUNS:-5}
trap '[ "${KEEP_LAB:-0}" = 1 ] || "$LAB" down >/dev/null 2>&1' EXIT

median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "n/a"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
lx() { "$LAB" exec "$@"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

"$LAB" up --clusters 2 --nodes 1 --pods 1 >/tmp/${LAB_PREFIX}bench-status-lab.log 2>&1 ||
	{ cat /tmp/${LAB_PREFIX}bench-status-lab.log >&2; exit 1; }
lab_start_broker || exit 1
join_cluster c1 && join_cluster c2 || exit 1
P2=10.2.1.11
ADMIN=$(cat "$SA_RUN/broker/admin.token")
METRICS=172.20.1.11:9471
has_metrics=0 has_state=0
"$SUBAGENT" agent --help | grep -q -- --metrics-listen && has_metrics=1
"$SUBAGENT" show --help | grep -q -- --state-dir && has_state=1

api() {
	lx broker -- curl -sf -X "$1" --cacert "$SA_RUN/broker/ca.pem" \
		-H "Authorization: Bearer $ADMIN" "https://$BROKER_IP:$BROKER_PORT/apis/subagent.io/v1/$2"
}
forget_gateways() {
	local r n
	for r in endpoints gatewaystatuses; do
		for n in $(api GET "$r" | jq -r '.items[].metadata.name'); do
			api DELETE "$r/$n" >/dev/null
		done
	done
	rm -rf "$SA_RUN/state"
}

# show_status SRC: c1's connection to c2 as `show` says it; SRC broker|local
show_status() {
	local sd=(--state-dir /nonexistent)
	[ "$1" = local ] && sd=(--state-dir "$SA_RUN/state/c1-n1")
	[ $has_state = 1 ] || sd=()	# a show that only reads the broker
	lx c1-n1 -- "$SUBAGENT" show connections --config-dir "$SA_RUN/c1" "${sd[@]}" -o json \
		2>/dev/null | jq -r '.[] | select(.cluster == "c2") | .status' 2>/dev/null
}
metric_up() {
	lx c1-n1 -- curl -sf "http://$METRICS/metrics" 2>/dev/null |
		awk '/^subagent_connection_up\{.*remote_cluster="c2"/ {print $NF}'
}

# poll_until OUT WANT CMD...: writes to OUT the time (ms) CMD first printed WANT
poll_until() {
	local out=$1 want=$2; shift 2
	local end=$(( $(now_ms) + 60000 ))
	while [ "$(now_ms)" -lt $end ]; do
		[ "$("$@")" = "$want" ] && { now_ms >"$out"; return 0; }
		sleep 0.1
	done
	echo none >"$out"
}

# log_ms LINE: the ms timestamp at the start of an agent log line
log_ms() { date -d "$(cut -d' ' -f1 <<<"$1")" +%s%3N; }

up_pod=() up_brk=() up_loc=() dn_brk=() dn_met=()
T=$SA_RUN/bench-status
mkdir -p "$T"
for r in $(seq 1 "$RUNS"); do
	forget_gateways
	rm -f "$T"/*
	margs=()
	[ $has_metrics = 1 ] && margs=(--metrics-listen "$METRICS")
	t0=$(now_ms)
	start_agent c1-n1 "${margs[@]}" && start_agent c2-n1
	poll_until "$T/brk" connected show_status broker &
	p1=$!
	poll_until "$T/loc" connected show_status local &
	p2=$!
	lx c1-n1-p1 -- timeout 60 sh -c "until ping -c1 -W0.2 $P2 >/dev/null 2>&1; do sleep 0.02; done" &&
		now_ms >"$T/pod"
	wait $p1 $p2
	pod=$(cat "$T/pod" 2>/dev/null || echo none) brk=$(cat "$T/brk") loc=$(cat "$T/loc")
	if [ "$pod" != none ] && [ "$brk" != none ] && [ "$loc" != none ]; then
		up_pod+=($((pod - t0))) up_brk+=($((brk - t0))) up_loc+=($((loc - t0)))
	else
		echo "run $r: pod $pod broker $brk local $loc (t0 $t0)" >&2
	fi

	# down: c2's gateway stops answering IKE/ESP-in-UDP
	sleep 1
	lx c2-n1 -- nft -f - <<-'EOF'
		table inet s4bench {
			chain in {
				type filter hook input priority -10;
				udp dport 4500 drop
			}
		}
	EOF
	poll_until "$T/dbrk" error show_status broker &
	p1=$!
	if [ $has_metrics = 1 ]; then
		poll_until "$T/dmet" 0 metric_up &
		p2=$!
	fi
	wait $p1
	[ $has_metrics = 1 ] && wait $p2
	line=$(grep -m1 'health c2: .*status error' "$SA_RUN/logs/agent-c1-n1.log" | tail -1)
	lx c2-n1 -- nft delete table inet s4bench
	if [ -n "$line" ] && [ "$(cat "$T/dbrk")" != none ]; then
		e=$(log_ms "$line")
		dn_brk+=($(( $(cat "$T/dbrk") - e )))
		[ $has_metrics = 1 ] && [ "$(cat "$T/dmet")" != none ] && dn_met+=($(( $(cat "$T/dmet") - e )))
	else
		echo "run $r: no error seen (log '$line', broker $(cat "$T/dbrk"))" >&2
	fi
	stop_agent c1-n1; stop_agent c2-n1
	# the logs of this run go: the next run's "status error" line must be its own
	mv "$SA_RUN/logs/agent-c1-n1.log" "$SA_RUN/logs/agent-c1-n1.run$r.log"
	mv "$SA_RUN/logs/agent-c2-n1.log" "$SA_RUN/logs/agent-c2-n1.run$r.log"
done

m() { printf '%s\n' "$@" | median; }
echo
echo "connection state to show and metrics, 2 clusters in the lab, $RUNS runs (ms; polls every 100 ms)"
printf '%-62s %s\n' "agents started -> first pod-to-pod exchange" "$(m "${up_pod[@]}")   (runs: ${up_pod[*]})"
printf '%-62s %s\n' "agents started -> show (from the broker) says connected" "$(m "${up_brk[@]}")   (runs: ${up_brk[*]})"
printf '%-62s %s\n' "agents started -> show (on the gateway) says connected" "$(m "${up_loc[@]}")   (runs: ${up_loc[*]})"
printf '%-62s %s\n' "health check says error -> show (from the broker) says error" "$(m "${dn_brk[@]}")   (runs: ${dn_brk[*]})"
[ $has_metrics = 1 ] &&
	printf '%-62s %s\n' "health check says error -> /metrics connection_up 0" "$(m "${dn_met[@]}")   (runs: ${dn_met[*]})"
exit 0
