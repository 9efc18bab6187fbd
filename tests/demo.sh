#!/bin/bash
# make demo: the main job in the netns lab. Three clusters of three nodes (c3 behind NAT),
# a broker, every cluster joined, an agent on every node (nodes 1 and 2 gateway-capable);
# waits until every cluster's elected gateway reports every connection up, runs
# `subagent verify` and `subagent show connections`, and shows pods on every kind of node
# talking across clusters and to a remote service. The lab stays up to look around;
# running the demo again starts clean.
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
. tests/e2e/cluster_lib.sh

step() { printf '\n== %s\n' "$*"; }

step "lab: 3 clusters x 3 nodes, c3 behind NAT"
"$LAB" up --clusters 3 --nodes 3 --pods 1 --nat c3
"$LAB" show

step "broker: subagent deploy-broker + subagent broker on the lab's broker host"
lab_start_broker
echo "broker up at https://$BROKER_IP:$BROKER_PORT (state in $SA_RUN/broker)"

for c in c1 c2 c3; do
	step "join $c"
	join_cluster "$c"
	cat "$SA_RUN/logs/join-$c.log"
done

step "agents on every node (they elect each cluster's gateway among n1 and n2)"
declare -A args
for c in c1 c2 c3; do for j in 1 2 3; do args[$c-n$j]=$(node_agent_args "$c-n$j"); done; done
start=$(date +%s%N)
for c in c1 c2 c3; do for j in 1 2 3; do start_agent "$c-n$j" ${args[$c-n$j]}; done; done
for c in c1 c2 c3; do
	if ! wait_until 60 status_connected "$c-n1" 2; then
		echo "demo: $c-n1 did not connect in 60 s; its log:" >&2
		tail -30 "$SA_RUN/logs/agent-$c-n1.log" >&2
		exit 1
	fi
done
echo "every gateway connected to both other clusters $(( ($(date +%s%N) - start) / 1000000 )) ms after the agents started"

step "subagent verify (from c1-n1)"
"$LAB" exec c1-n1 -- "$SUBAGENT" verify --config-dir "$SA_RUN/c1" --state-dir "$SA_RUN/state/c1-n1"

step "subagent show connections and gateways (from c3-n2, the standby gateway)"
conn2() { [ "$(connected_count c3-n2)" = 2 ]; }
wait_until 15 conn2 || true
"$LAB" exec c3-n2 -- "$SUBAGENT" show connections --config-dir "$SA_RUN/c3"
echo
"$LAB" exec c3-n2 -- "$SUBAGENT" show gateways --config-dir "$SA_RUN/c3"

step "pods across clusters (the echo server answers with its name and the client address it saw)"
for pair in "c1-n3-p1 10.2.3.11" "c1-n1-p1 10.3.3.11" "c3-n3-p1 10.1.1.11"; do
	set -- $pair
	printf '%-9s -> %-10s: ' "$1" "$2"
	echo hello | "$LAB" exec "$1" -- socat -T3 - "TCP4:$2:8080,connect-timeout=3" 2>/dev/null | head -1
done
printf '%-9s -> %-10s: ' c3-n3-p1 "c1's echo service VIP 10.101.0.10"
echo hello | "$LAB" exec c3-n3-p1 -- socat -T3 - TCP4:10.101.0.10:8080,connect-timeout=3 2>/dev/null | head -1

cat <<EOF2

The lab stays up. Look around:
  tests/lab/lab show
  tests/lab/lab exec c1-n1 -- build/subagent show all --config-dir $SA_RUN/c1
  tests/lab/lab exec c1-n3-p1 -- ping 10.3.3.11
  tests/lab/lab exec c1-n1 -- ip route show table 150
  tail -f $SA_RUN/logs/agent-c1-n1.log
Take it down with:  make lab-down     (running 'make demo' again also starts clean)
EOF2
