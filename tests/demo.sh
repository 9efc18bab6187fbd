#!/bin/bash
# make demo: the main job in the netns lab. Three clusters (c3 behind NAT), a broker,
# every cluster joined, an agent on each cluster's gateway node; waits until every gateway
# reports every connection up, runs `subagent verify` and `subagent show connections`, and
# shows pods talking across clusters. The lab stays up to look around; running the demo
# again starts clean.
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
. tests/e2e/cluster_lib.sh

step() { printf '\n== %s\n' "$*"; }

step "lab: 3 clusters x 2 nodes, c3 behind NAT"
"$LAB" up --clusters 3 --nodes 2 --pods 1 --nat c3
"$LAB" show

step "broker: subagent deploy-broker + subagent broker on the lab's broker host"
start_broker
echo "broker up at https://$BROKER_IP:$BROKER_PORT (state in $SA_RUN/broker)"

for c in c1 c2 c3; do
	step "join $c"
	join_cluster "$c"
	cat "$SA_RUN/logs/join-$c.log"
done

step "agents on the gateway nodes"
start=$(date +%s%N)
for c in c1 c2 c3; do start_agent "$c-n1"; done
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

step "subagent show connections (from c3-n2, a node that is not the gateway)"
conn2() { [ "$(connected_count c3-n2)" = 2 ]; }
wait_until 15 conn2 || true
"$LAB" exec c3-n2 -- "$SUBAGENT" show connections --config-dir "$SA_RUN/c3"

step "pods across clusters"
echo "c1-n1-p1 -> c2-n1-p1 (10.2.1.11), TCP echo service on the pod:"
echo hello | "$LAB" exec c1-n1-p1 -- socat -T3 - TCP4:10.2.1.11:8080,connect-timeout=3
echo "c3-n1-p1 (behind NAT) -> c1's echo service VIP 10.101.0.10:"
echo hello | "$LAB" exec c3-n1-p1 -- socat -T3 - TCP4:10.101.0.10:8080,connect-timeout=3

cat <<EOF2

The lab stays up. Look around:
  tests/lab/lab show
  tests/lab/lab exec c1-n1 -- build/subagent show all --config-dir $SA_RUN/c1
  tests/lab/lab exec c1-n1-p1 -- ping 10.3.1.11
  tail -f $SA_RUN/logs/agent-c1-n1.log
Take it down with:  make lab-down     (running 'make demo' again also starts clean)
EOF2
