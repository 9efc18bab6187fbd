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
start_broker() {
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

# ns_pid NAME WORD...: the newest process in NAME's network namespace whose argv starts
# with this build's subagent followed by WORD... (only this lab's namespace: pgrep -f would
# also see other labs' and other checkouts' agents on the same machine)
ns_pid() {
	local name=$1 p best= i; shift
	local want=("$SUBAGENT" "$@") args
	for p in $(ip netns pids "$("$LAB" netns "$name")" 2>/dev/null); do
		mapfile -d '' -t args <"/proc/$p/cmdline" 2>/dev/null || continue
		[ ${#args[@]} -ge ${#want[@]} ] || continue
		for i in "${!want[@]}"; do [ "${args[$i]}" = "${want[$i]}" ] || continue 2; done
		{ [ -z "$best" ] || [ "$p" -gt "$best" ]; } && best=$p
	done
	[ -n "$best" ] && echo "$best"
}

broker_pid() { ns_pid broker broker --dir "$SA_RUN/broker"; }

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

# start_agent NODE [agent flags...]
start_agent() {
	local node=$1 c=${1%%-n*}; shift
	"$LAB" exec "$node" -- setsid -f "$SUBAGENT" agent --config-dir "$SA_RUN/$c" \
		--node "$node" --state-dir "$SA_RUN/state/$node" "$@" \
		</dev/null >>"$SA_RUN/logs/agent-$node.log" 2>&1
}

agent_pid() { ns_pid "$1" agent --config-dir "$SA_RUN/${1%%-n*}" --node "$1"; }

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
