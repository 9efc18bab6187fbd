# Brings up subagent in the netns lab: broker on the lab's broker host, clusters joined,
# agents on gateway nodes. Sourced by the demo, the end-to-end tests and the benchmarks
# (after tests/lib.sh). Everything lives under $SA_RUN inside the lab's state directory,
# so `lab down` removes it with the rest.
SA_RUN=${SA_RUN:-$("$LAB" statedir)/sa}
BROKER_IP=198.18.0.10
BROKER_PORT=8443

lab_json() { "$LAB" show -o json; }

# cluster_flags CLUSTER: --clustercidr/--servicecidr for a lab cluster
cluster_cidrs() {
	lab_json | jq -r --arg c "$1" '.clusters[] | select(.name == $c) |
		"--clustercidr \(.pod_cidr) --servicecidr \(.service_cidr)"'
}

# deploy_broker [deploy-broker flags...]: state dir, then the broker daemon in its netns.
lab_start_broker() {
	mkdir -p "$SA_RUN/logs"
	if [ ! -d "$SA_RUN/broker" ]; then
		"$SUBAGENT" deploy-broker --dir "$SA_RUN/broker" \
			--listen "$BROKER_IP:$BROKER_PORT" "$@" >"$SA_RUN/logs/deploy-broker.log" 2>&1 ||
			{ cat "$SA_RUN/logs/deploy-broker.log" >&2; return 1; }
	fi
	"$LAB" exec broker -- setsid -f "$SUBAGENT" broker --dir "$SA_RUN/broker" \
		</dev/null >>"$SA_RUN/logs/broker.log" 2>&1
	wait_until 20 "$LAB" exec broker -- curl -sf --cacert "$SA_RUN/broker/ca.pem" \
		"https://$BROKER_IP:$BROKER_PORT/healthz" ||
		{ echo "broker did not come up:" >&2; tail -20 "$SA_RUN/logs/broker.log" >&2; return 1; }
}

# netns_pid NAME PATTERN: a process inside NAME's network namespace whose command line
# matches PATTERN. Only that namespace: other labs on the machine run the same commands.
netns_pid() {
	local p ns
	ns=$("$LAB" netns "$1" 2>/dev/null) || return 1
	for p in $(ip netns pids "$ns" 2>/dev/null); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "$2" && { echo "$p"; return 0; }
	done
	return 1
}

broker_pid() { netns_pid broker "subagent broker --dir $SA_RUN/broker"; }

stop_broker() {
	local p
	p=$(broker_pid) || return 0
	kill "$p" 2>/dev/null
	wait_until 10 bash -c "! kill -0 $p 2>/dev/null"
}

# join_cluster CLUSTER [join flags...]: joins from the cluster's first node.
join_cluster() {
	local c=$1; shift
	"$LAB" exec "$c-n1" -- "$SUBAGENT" join "$SA_RUN/broker/broker-info.subm" \
		--clusterid "$c" $(cluster_cidrs "$c") --config-dir "$SA_RUN/$c" "$@" \
		>"$SA_RUN/logs/join-$c.log" 2>&1 || { cat "$SA_RUN/logs/join-$c.log" >&2; return 1; }
}

# election_args: the election's timers, scaled by SA_TIME_SCALE (the VM test bed sets it
# under emulation, where a loaded node misses 600 ms of heartbeats and fails over at random)
election_args() {
	local s=${SA_TIME_SCALE:-1}
	[ "$s" -gt 1 ] && echo "--election-interval-ms $((100 * s)) --election-dead-ms $((600 * s))"
}

# start_agent NODE [agent flags...]
start_agent() {
	local node=$1 c=${1%%-n*}; shift
	# --node goes last: then no other lab's "pgrep -f '--node NAME '" can match our agents
	# shellcheck disable=SC2046  # election_args is words
	"$LAB" exec "$node" -- setsid -f "$SUBAGENT" agent --config-dir "$SA_RUN/$c" \
		--state-dir "$SA_RUN/state/$node" $(election_args) "$@" --node "$node" \
		</dev/null >>"$SA_RUN/logs/agent-$node.log" 2>&1
}

agent_pid() { netns_pid "$1" "subagent agent .*--node $1 "; }

stop_agent() {
	local p
	p=$(agent_pid "$1") || return 0
	kill "$p" 2>/dev/null
	wait_until 15 bash -c "! kill -0 $p 2>/dev/null"
}

# charon_pid NODE: the charon process of the agent on NODE
charon_pid() {
	local p
	for p in $(ip netns pids "$("$LAB" netns "$1")"); do
		[ "$(cat /proc/$p/comm 2>/dev/null)" = charon ] && { echo "$p"; return 0; }
	done
	return 1
}

# connected_count NODE: how many connections NODE's cluster reports as connected
connected_count() {
	local c=${1%%-n*}
	"$LAB" exec "$1" -- "$SUBAGENT" show connections --config-dir "$SA_RUN/$c" -o json 2>/dev/null |
		jq '[.[] | select(.status == "connected")] | length'
}

# status_connected NODE N: the local status file says N connections are connected
status_connected() {
	local f=$SA_RUN/state/$1/status.json
	[ -f "$f" ] && [ "$(jq '[.connections[] | select(.status == "connected")] | length' "$f")" -ge "$2" ]
}

# start_node_agent NODE [agent flags...]: an agent with the node's lab facts (node IP, pod
# slice, gateway-capable or not).
# Under emulation (SA_TIME_SCALE > 1: the VM test bed on TCG) the guest stalls for hundreds
# of milliseconds when the host is busy, longer than the liveness probes' 100 ms: there the
# election's and the probes' timers are scaled like every deadline, or each stall would be a
# false failover. On this machine's kernel (scale 1) the agent's defaults run.
node_agent_args() {
	lab_json | jq -r --arg n "$1" --argjson k "$T_SCALE" '.clusters[].nodes[] | select(.name == $n) |
		"--node-ip \(.ip) --pod-cidr \(.pod_cidr)" + (if .gateway_capable then "" else " --no-gateway" end) +
		(if $k > 1 then " --election-interval-ms \(100 * $k) --election-dead-ms \(600 * $k)" +
			" --liveness-ms \(20 * $k) --liveness-multiplier \(5 * $k)" else "" end)'
}
start_node_agent() {
	local node=$1; shift
	start_agent "$node" $(node_agent_args "$node") "$@"
}

# agent_role NODE: gateway, standby or node (from the agent's status file)
agent_role() { jq -r .role "$SA_RUN/state/$1/status.json" 2>/dev/null; }
agent_epoch() { jq -r .epoch "$SA_RUN/state/$1/status.json" 2>/dev/null; }
active_of() { jq -r .active_gateway "$SA_RUN/state/$1/status.json" 2>/dev/null; }

# own_echo_server POD PORT: a TCP server of the test's own in POD, for one connection: it
# says "<POD>" and echoes. For a flow held open across an agent restart: the lab's echo
# server (port 8080) ends a connection after 10 s x SA_TIME_SCALE without traffic, which a
# restart on a loaded host can come close to; this one waits ts 120.
own_echo_server() {
	"$LAB" exec "$1" -- setsid -f socat -T"$(ts 120)" "TCP4-LISTEN:$2,reuseaddr" \
		SYSTEM:"echo $1; cat" </dev/null >/dev/null 2>&1
	wait_until 5 bash -c "'$LAB' exec '$1' -- ss -tln 'sport = :$2' | grep -q LISTEN"
}

# kill_node NODE: the node dies: kill -9 of its agent and its charon
kill_node() {
	local a c
	a=$(agent_pid "$1") && kill -9 "$a"
	c=$(charon_pid "$1") && kill -9 "$c"
	return 0
}

# start_agent_job NODE [agent flags...]: start_node_agent, but as a job of this shell, so
# that `wait $AGENT_JOB` gives the agent's exit status.
start_agent_job() {
	local node=$1 c=${1%%-n*}; shift
	"$LAB" exec "$node" -- "$SUBAGENT" agent --config-dir "$SA_RUN/$c" \
		--state-dir "$SA_RUN/state/$node" $(node_agent_args "$node") "$@" --node "$node" \
		</dev/null >>"$SA_RUN/logs/agent-$node.log" 2>&1 &
	AGENT_JOB=$!
}

# node_leftovers NODE: what an agent made on NODE and left there, one item a line (nothing
# when the node is clean): its devices, rules and tables, the nft table, charon and (kernel
# data path) its routes, XFRM states and policies, anchors.
node_leftovers() {
	local n=$1 d
	for d in sa-vxr sa-vx0 ipsec0; do
		"$LAB" exec "$n" -- ip link show "$d" >/dev/null 2>&1 && echo "device $d"
	done
	"$LAB" exec "$n" -- ip rule show | grep -E 'lookup (150|151)' | sed 's/^/rule /'
	"$LAB" exec "$n" -- ip route show table 150 | sed 's/^/route table 150: /'
	"$LAB" exec "$n" -- ip route show table 151 | sed 's/^/route table 151: /'
	"$LAB" exec "$n" -- nft list table ip subagent_mss >/dev/null 2>&1 && echo "nft table subagent_mss"
	"$LAB" exec "$n" -- ip route show table 220 2>/dev/null | sed 's/^/route table 220: /'
	"$LAB" exec "$n" -- ip xfrm state 2>/dev/null | grep '^src' | sed 's/^/xfrm state /'
	"$LAB" exec "$n" -- ip xfrm policy 2>/dev/null | grep '^src' | sed 's/^/xfrm policy /'
	charon_pid "$n" >/dev/null && echo "charon $(charon_pid "$n")"
	"$LAB" exec "$n" -- ip -4 -o addr show dev lo | awk '$4 != "127.0.0.1/8" {print "address on lo: " $4}'
	return 0
}
