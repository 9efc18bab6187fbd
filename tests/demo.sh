#!/bin/bash
# make demo: the main job in the netns lab. Three clusters of three nodes (c3 behind NAT),
# a broker, every cluster joined, an agent on every node (nodes 1 and 2 gateway-capable);
# waits until every cluster's elected gateway reports every connection up, runs
# `subagent verify` and `subagent show connections`, and shows pods on every kind of node
# talking across clusters and to a remote service; then service discovery: exports, a
# `subagent dns` per cluster behind the cluster's resolver, pods resolving with dig, and a
# sidecar-like HAProxy balancing over the pods of two clusters learned from the imports.
# The lab stays up to look around; running the demo again starts clean.
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

step "service discovery: c1 and c2 export their echo service; subagent dns in every cluster"
for c in c1 c2; do
	i=${c#c}
	"$LAB" exec "$c-n1" -- "$SUBAGENT" export service --config-dir "$SA_RUN/$c" --name echo \
		--vip "10.$((100 + i)).0.10" --port tcp-echo:8080/TCP --port udp-echo:8080/UDP \
		--endpoint "$c-n1-p1=10.$i.1.11" --endpoint "$c-n2-p1=10.$i.2.11" --endpoint "$c-n3-p1=10.$i.3.11"
done
for c in c1 c2 c3; do
	# two replicas, on the gateway-capable nodes (they reach the broker), as a Deployment would
	for j in 1 2; do
		"$LAB" exec "$c-n$j" -- setsid -f "$SUBAGENT" dns --config-dir "$SA_RUN/$c" \
			--listen "172.20.${c#c}.1$j:53" </dev/null >>"$SA_RUN/logs/dns-$c-n$j.log" 2>&1
	done
	# the cluster's resolver (dnsmasq, playing CoreDNS) forwards the zone to them
	"$LAB" dns-forward "$c" clusterset.local "172.20.${c#c}.11" "172.20.${c#c}.12"
done
wait_until 10 bash -c "[ -n \"\$('$LAB' exec c3-n3-p1 dig +short +time=1 +tries=1 echo.default.svc.clusterset.local)\" ]" || true
"$LAB" exec c3-n1 -- "$SUBAGENT" show services --config-dir "$SA_RUN/c3"
echo
echo "\$ tests/lab/lab exec c3-n3-p1 -- dig echo.default.svc.clusterset.local     (c3 exports no echo)"
"$LAB" exec c3-n3-p1 -- dig +noall +comments +answer echo.default.svc.clusterset.local | grep -v '^;; \(Got\|global\|WARNING\|You are\)\|^$'
echo "\$ ... and again: the other exporting cluster (round robin)"
"$LAB" exec c3-n3-p1 -- dig +noall +answer echo.default.svc.clusterset.local
echo "\$ tests/lab/lab exec c3-n3-p1 -- dig SRV _tcp-echo._tcp.echo.default.svc.clusterset.local"
"$LAB" exec c3-n3-p1 -- dig +noall +answer SRV _tcp-echo._tcp.echo.default.svc.clusterset.local
echo "\$ tests/lab/lab exec c1-n3-p1 -- dig +short echo.default.svc.clusterset.local     (c1 exports it: its own first)"
"$LAB" exec c1-n3-p1 -- dig +short echo.default.svc.clusterset.local
printf '%-9s -> %-36s: ' c3-n3-p1 echo.default.svc.clusterset.local
echo hello | "$LAB" exec c3-n3-p1 -- socat -T3 - TCP4:echo.default.svc.clusterset.local:8080,connect-timeout=3 2>/dev/null | head -1

step "a multi-primary mesh's sidecar: HAProxy in pod c1-n1-p1, backends the echo pods of c1 and c2 by pod IP, from the imports"
cfg=$SA_RUN/haproxy-c1-n1-p1.cfg
{
	printf 'global\n\tmaxconn 256\ndefaults\n\tmode tcp\n\ttimeout connect 3s\n\ttimeout client 10s\n\ttimeout server 10s\n'
	printf 'frontend sidecar\n\tbind 127.0.0.1:15001\n\tdefault_backend echo\nbackend echo\n\tbalance roundrobin\n'
	"$LAB" exec c1-n1 -- "$SUBAGENT" show services --config-dir "$SA_RUN/c1" -o json | jq -r '
		.[] | select(.kind == "import" and .name == "echo") | .clusters[] |
		select(.cluster == "c1" or .cluster == "c2") | .endpoints[] | select(.ready) |
		"\tserver \(.hostname) \(.addresses[0]):8080"'
} >"$cfg"
sed -n '/^backend/,$p' "$cfg"
"$LAB" exec c1-n1-p1 -- haproxy -q -D -f "$cfg" -p "$SA_RUN/haproxy-c1-n1-p1.pid"
sleep 0.5
echo "the app in c1-n1-p1 calls its sidecar 6 times (each answer: the pod that served it, the client address it saw):"
for i in 1 2 3 4 5 6; do
	printf '  call %d: ' "$i"
	echo hello | "$LAB" exec c1-n1-p1 -- socat -T3 - TCP4:127.0.0.1:15001,connect-timeout=3 2>/dev/null | head -1
done

cat <<EOF2

The lab stays up. Look around:
  tests/lab/lab show
  tests/lab/lab exec c1-n1 -- build/subagent show all --config-dir $SA_RUN/c1
  tests/lab/lab exec c1-n3-p1 -- ping 10.3.3.11
  tests/lab/lab exec c3-n3-p1 -- dig echo.default.svc.clusterset.local
  tests/lab/lab exec c1-n1 -- build/subagent show services --config-dir $SA_RUN/c1
  tests/lab/lab exec c1-n1 -- ip route show table 150
  tail -f $SA_RUN/logs/agent-c1-n1.log
Take it down with:  make lab-down     (running 'make demo' again also starts clean)
EOF2
