#!/bin/bash
# End-to-end (issue 12): an agent that converges, never crashes, and leaves nothing behind.
# Two clusters of three nodes (n1 and n2 gateway-capable, n3 not), every agent resyncing
# every second. What is deleted by hand (routes, rules, devices, the nft table, anchors,
# IKE and CHILD SAs, a connection in charon) is put back; a load-conn charon refuses is
# retried; a route agent that cannot start is retried and the status says why meanwhile;
# SIGTERM on every kind of node exits 0 and leaves nothing; a gateway that loses its role
# to a partition's other side steps down without exiting, and one active gateway is left;
# `leave` stops the agent and removes its state.
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
trap '[ "${KEEP_LAB:-0}" = 1 ] || "$LAB" down >/dev/null 2>&1' EXIT
for cmd in agent broker deploy-broker join; do
	"$SUBAGENT" $cmd --help >/dev/null 2>&1 || { t_skip all "subagent $cmd is not built yet"; exit 0; }
done

RESYNC=1000
lx() { "$LAB" exec "$@"; }
pod_ip() { lab_json | jq -r --arg p "$1" '.clusters[].nodes[].pods[] | select(.name == $p) | .ip'; }
ping_ok() { lx "$1" -- ping -c1 -W1 "$2" >/dev/null 2>&1; }
role_is() { [ "$(agent_role "$1")" = "$2" ]; }
follows() { [ "$(active_of "$1")" = "$2" ]; }
vici() { echo "unix://$SA_RUN/state/$1/charon/charon.vici"; }
swan() { local n=$1; shift; lx "$n" -- swanctl "$@" --uri "$(vici "$n")"; }
converged() { [ "$(jq -r .converged "$SA_RUN/state/$1/status.json" 2>/dev/null)" = true ]; }
not_converged_has() {	# NODE TEXT: the status lists a step whose "what" holds TEXT
	jq -e --arg t "$2" '[.not_converged[] | select(.what | contains($t))] | length > 0' \
		"$SA_RUN/state/$1/status.json" >/dev/null 2>&1
}
log_has() { grep -q -- "$2" "$SA_RUN/logs/agent-$1.log"; }
clean() { [ -z "$(node_leftovers "$1")" ]; }
# sigterm_clean NODE CASE: SIGTERM to NODE's agent (a job of this shell): exit status 0 and
# nothing of the agent's left on the node.
sigterm_clean() {
	local node=$1 name=$2 pid=${JOB[$1]} rc left
	kill -TERM "$pid"
	wait "$pid"
	rc=$?
	wait_until 5 clean "$node"
	left=$(node_leftovers "$node" | tr '\n' ';')
	[ "$rc" = 0 ] && [ -z "$left" ] && t_pass "$name" || t_fail "$name" "exit $rc, left: $left"
}
declare -A JOB
start() { start_agent_job "$1" --resync-ms "$RESYNC" "${@:2}"; JOB[$1]=$AGENT_JOB; }

"$LAB" up --clusters 2 --nodes 3 --pods 1 >&2 || { t_fail lab_up; t_done; }
lab_start_broker >&2 && join_cluster c1 >&2 && join_cluster c2 >&2 || { t_fail setup; t_done; }
# n1 first, so that it is the active gateway the cases below work on
for c in c1 c2; do start "$c-n1"; done
for c in c1 c2; do wait_until 30 role_is "$c-n1" gateway; done
for c in c1 c2; do for j in 2 3; do start "$c-n$j"; done; done
ok=1
for c in c1 c2; do
	wait_until 30 role_is "$c-n1" gateway && wait_until 30 status_connected "$c-n1" 1 &&
		wait_until 10 follows "$c-n3" "$c-n1" || ok=0
done
N1=c1-n3-p1 N2=c2-n3-p1 G2=c2-n1-p1
P2=$(pod_ip $N2) PG2=$(pod_ip $G2)
[ $ok = 1 ] && wait_until 20 ping_ok "$N1" "$P2" && t_pass elected_and_connected ||
	{ t_fail elected_and_connected; for f in "$SA_RUN"/logs/agent-c1-n*.log; do tail -n 20 "$f"; done >&2; }
wait_until 10 converged c1-n1 && wait_until 10 converged c1-n3 && t_pass status_converged ||
	t_fail status_converged "$(jq -c .not_converged "$SA_RUN"/state/c1-n[13]/status.json)"

# ---- what is deleted by hand comes back within the resync period ----
C2NET=$(lab_json | jq -r '.clusters[1].pod_cidr')
route_back() { lx "$1" -- ip route show table 150 | grep -q "^$C2NET .*dev $2"; }
lx c1-n3 -- ip route del "$C2NET" table 150
wait_until 5 route_back c1-n3 sa-vxr && ping_ok "$N1" "$P2" && log_has c1-n3 "was missing, put back" &&
	t_pass route_deleted_on_node_repaired || t_fail route_deleted_on_node_repaired
# The data path: kernel-libipsec (this machine: charon's ipsec0) or kernel XFRM (the VM
# test bed: the agent's sa-xfrm0, and no anchors).
DP=libipsec DEV=ipsec0
grep -q "charon data path: kernel" "$SA_RUN/logs/agent-c1-n1.log" && DP=kernel DEV=sa-xfrm0
lx c1-n1 -- ip route del "$C2NET" table 150
wait_until 5 route_back c1-n1 $DEV && wait_until 5 ping_ok c1-n1-p1 "$P2" &&
	t_pass route_deleted_on_gateway_repaired || t_fail route_deleted_on_gateway_repaired
rule_back() { lx "$1" -- ip rule show | grep -q "^150:.*lookup 150"; }
lx c1-n3 -- ip rule del prio 150 lookup 150
wait_until 5 rule_back c1-n3 && ping_ok "$N1" "$P2" && t_pass rule_deleted_repaired ||
	t_fail rule_deleted_repaired
lx c1-n3 -- ip route add 10.99.0.0/16 dev sa-vxr table 150
stale_gone() { ! lx c1-n3 -- ip route show table 150 | grep -q '^10.99.0.0/16'; }
wait_until 5 stale_gone && t_pass stale_route_removed || t_fail stale_route_removed
lx c1-n3 -- ip link del sa-vxr
wait_until 5 route_back c1-n3 sa-vxr && wait_until 5 ping_ok "$N1" "$P2" &&
	t_pass vxlan_device_deleted_repaired || t_fail vxlan_device_deleted_repaired
lx c1-n1 -- nft delete table ip subagent_mss
wait_until 5 lx c1-n1 -- nft list table ip subagent_mss && t_pass nft_table_deleted_repaired ||
	t_fail nft_table_deleted_repaired
ANCHOR=$(lx c1-n1 -- ip -4 -o addr show dev lo | awk '$4 != "127.0.0.1/8" {print $4; exit}')
if [ $DP = kernel ]; then
	t_skip anchor_deleted_repaired "kernel XFRM: no anchors"
elif [ -n "$ANCHOR" ]; then
	lx c1-n1 -- ip addr del "$ANCHOR" dev lo
	wait_until 5 bash -c "$LAB exec c1-n1 -- ip -4 -o addr show dev lo | grep -q ' ${ANCHOR%/*}/'" &&
		t_pass anchor_deleted_repaired || t_fail anchor_deleted_repaired
else
	t_fail anchor_deleted_repaired "no anchor on c1-n1's lo"
fi

# SAs: c1 initiates (the smaller ID). Whichever side loses its IKE_SA or CHILD_SA, the
# tunnel comes back.
sa_up() { swan "$1" --list-sas 2>/dev/null | grep -q 'INSTALLED'; }
for side in c1-n1 c2-n1; do
	other=c2; [ "$side" = c2-n1 ] && other=c1
	swan "$side" --terminate --ike "$other" --timeout 5 >&2
	wait_until 10 sa_up c1-n1 && wait_until 10 sa_up c2-n1 && wait_until 10 ping_ok "$N1" "$P2" &&
		t_pass "ike_sa_deleted_on_${side}_repaired" || t_fail "ike_sa_deleted_on_${side}_repaired"
done
swan c1-n1 --terminate --child c2 --timeout 5 >&2
wait_until 10 sa_up c1-n1 && wait_until 10 ping_ok "$N1" "$P2" &&
	t_pass child_sa_deleted_on_initiator_repaired || t_fail child_sa_deleted_on_initiator_repaired
# `swanctl --load-conns` with a swanctl.conf that does not know c2 unloads the agent's
# connection from charon (the SAs stay).
: >"$SA_RUN/empty-swanctl.conf"
swan c1-n1 --load-conns --file "$SA_RUN/empty-swanctl.conf" >&2
conn_back() { swan c1-n1 --list-conns 2>/dev/null | grep -q '^c2:'; }
wait_until 5 conn_back && log_has c1-n1 "charon lost the connection to c2" &&
	t_pass connection_unloaded_reloaded || t_fail connection_unloaded_reloaded

# ---- a load-conn charon refuses is retried ----
# c1-n1 restarts (SIGTERM: it keeps its role) with a failpoint that makes its first
# load-conn carry a proposal charon refuses.
kill -TERM "${JOB[c1-n1]}"; wait "${JOB[c1-n1]}"
SUBAGENT_FAILPOINTS=ipsec-load-conn=1 start c1-n1
wait_until 20 log_has c1-n1 "loaded after 1 failed attempt" && wait_until 20 status_connected c1-n1 1 &&
	wait_until 10 ping_ok "$N1" "$P2" && log_has c1-n1 "failpoint ipsec-load-conn: failing" &&
	t_pass load_conn_refused_is_retried ||
	{ t_fail load_conn_refused_is_retried; grep -E "load-conn|failpoint|loaded" "$SA_RUN/logs/agent-c1-n1.log" | tail >&2; }

# ---- a route agent that cannot start is retried; the status says why meanwhile ----
# Its VXLAN port is taken on c2-n3 when the agent starts. SIGTERM meanwhile still leaves
# nothing (the nft table was made without the route agent); then the port is freed.
kill -TERM "${JOB[c2-n3]}"; wait "${JOB[c2-n3]}"
lx c2-n3 -- setsid -f socat -u UDP4-RECV:4791,reuseaddr /dev/null </dev/null >/dev/null 2>&1
wait_until 5 bash -c "$LAB exec c2-n3 -- ss -Huln 'sport = :4791' | grep -q ."
start c2-n3
wait_until 10 not_converged_has c2-n3 "route agent" && ! converged c2-n3 &&
	t_pass status_says_route_agent_down || t_fail status_says_route_agent_down "$(jq -c .not_converged "$SA_RUN/state/c2-n3/status.json" 2>&1)"
sigterm_clean c2-n3 sigterm_without_route_agent
start c2-n3
wait_until 10 not_converged_has c2-n3 "route agent"
kill "$(netns_pid c2-n3 'socat -u UDP4-RECV:4791')"
wait_until 40 converged c2-n3 && wait_until 10 ping_ok "$N2" "$(pod_ip $N1)" &&
	t_pass route_agent_start_retried || t_fail route_agent_start_retried

# ---- a second agent on the same state directory is refused, the first goes on ----
out=$(lx c1-n3 -- "$SUBAGENT" agent --config-dir "$SA_RUN/c1" --state-dir "$SA_RUN/state/c1-n3" \
	$(node_agent_args c1-n3) --node c1-n3 2>&1)
rc=$?
[ "$rc" != 0 ] && [[ $out == *"another agent (PID ${JOB[c1-n3]})"* ]] && kill -0 "${JOB[c1-n3]}" &&
	ping_ok "$N1" "$P2" && t_pass second_agent_refused || t_fail second_agent_refused "exit $rc: $out"

# ---- SIGTERM: exit 0 and nothing left, on every kind of node ----
sigterm_clean c1-n3 sigterm_plain_node
sigterm_clean c1-n2 sigterm_standby
sigterm_clean c1-n1 sigterm_active_gateway_with_remotes
for n in c1-n1 c1-n2 c1-n3; do start "$n"; done
wait_until 20 role_is c1-n1 gateway && wait_until 30 status_connected c1-n1 1 &&
	wait_until 20 ping_ok "$N1" "$P2" && t_pass restarted_after_sigterm || t_fail restarted_after_sigterm

# ---- a gateway that loses its role steps down in place ----
# Partition: c1-n1 and c1-n2 stop hearing each other (election and liveness ports); each
# side has an active gateway, c1-n2 with the higher epoch. When the partition heals
# c1-n1 steps down without exiting and follows c1-n2; one active gateway is left.
part() {	# NODE PEER-IP: NODE hears nothing from PEER-IP on the election and liveness ports
	lx "$1" -- nft -f - <<EOT
table ip s7part {
	chain in { type filter hook input priority 0; ip saddr $2 udp dport { 4801, 4802 } drop; }
}
EOT
}
IP1=$(lab_json | jq -r '.clusters[0].nodes[0].ip') IP2=$(lab_json | jq -r '.clusters[0].nodes[1].ip')
pid1=${JOB[c1-n1]}
part c1-n1 "$IP2"; part c1-n2 "$IP1"
wait_until 10 role_is c1-n2 gateway && role_is c1-n1 gateway && t_pass partition_both_active ||
	t_fail partition_both_active "n1 $(agent_role c1-n1), n2 $(agent_role c1-n2)"
lx c1-n1 -- nft delete table ip s7part; lx c1-n2 -- nft delete table ip s7part
wait_until 10 role_is c1-n1 standby && kill -0 "$pid1" && log_has c1-n1 "no longer the active gateway" &&
	t_pass gateway_loses_role_without_exiting || t_fail gateway_loses_role_without_exiting "role $(agent_role c1-n1)"
one_active() {
	local n a=0
	for n in c1-n1 c1-n2 c1-n3; do
		role_is "$n" gateway && a=$((a + 1))
		follows "$n" c1-n2 || return 1
	done
	[ $a = 1 ]
}
wait_until 10 one_active && t_pass one_active_gateway_after_heal || t_fail one_active_gateway_after_heal
gone_engine() { ! charon_pid c1-n1 >/dev/null && ! lx c1-n1 -- ip link show ipsec0 >/dev/null 2>&1; }
wait_until 10 gone_engine && wait_until 10 route_back c1-n1 sa-vxr && t_pass old_gateway_now_routes_via_new ||
	t_fail old_gateway_now_routes_via_new "$(node_leftovers c1-n1 | tr '\n' ';')"
wait_until 20 ping_ok "$N1" "$P2" && wait_until 20 ping_ok c1-n1-p1 "$P2" && t_pass traffic_after_heal ||
	t_fail traffic_after_heal

# ---- leave stops the agent and removes its state ----
STATE2=$SA_RUN/state/c2-n1
pid=${JOB[c2-n1]}
lx c2-n1 -- "$SUBAGENT" leave --config-dir "$SA_RUN/c2" --state-dir "$STATE2" >&2
rc=$?
wait "$pid"; arc=$?
[ "$rc" = 0 ] && ! kill -0 "$pid" 2>/dev/null && [ ! -e "$STATE2" ] && [ ! -e "$SA_RUN/c2/cluster.json" ] &&
	clean c2-n1 && t_pass leave_stops_agent_and_removes_state ||
	t_fail leave_stops_agent_and_removes_state "leave $rc, agent exit $arc, state $(ls "$STATE2" 2>&1 | head -3 | tr '\n' ' ')"

for n in "${!JOB[@]}"; do kill -TERM "${JOB[$n]}" 2>/dev/null; done
wait
stop_broker
t_done
