#!/bin/bash
# End-to-end: the vxlan cable driver. Two clusters joined with --cable-driver vxlan; pods
# on gateway and plain nodes reach each other, unencrypted VXLAN on the wire, and verify
# reports the cable as not encrypting (skip) while its connectivity checks pass.
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
trap '[ "${KEEP_LAB:-0}" = 1 ] || "$LAB" down >/dev/null 2>&1' EXIT
"$SUBAGENT" agent --help >/dev/null 2>&1 || { t_skip all "subagent agent is not built yet"; exit 0; }

lx() { "$LAB" exec "$@"; }
pod_ip() { lab_json | jq -r --arg p "$1" '.clusters[].nodes[].pods[] | select(.name == $p) | .ip'; }
tcp_echo() { echo x | lx "$1" -- socat -T"$(ts 3)" - "TCP4:$2:8080,connect-timeout=$(ts 3)" 2>/dev/null | head -1; }

"$LAB" up --clusters 2 --nodes 3 --pods 1 >&2 || { t_fail lab_up; t_done; }
lab_start_broker >&2 && join_cluster c1 --cable-driver vxlan >&2 && join_cluster c2 --cable-driver vxlan >&2 ||
	{ t_fail setup; t_done; }
for c in c1 c2; do for j in 1 2 3; do start_node_agent "$c-n$j"; done; done
wait_until 30 status_connected c1-n1 1 && wait_until 30 status_connected c2-n1 1 &&
	t_pass connected || { t_fail connected; tail -20 "$SA_RUN/logs/agent-c1-n1.log" >&2; }
check vxlan_device lx c1-n1 -- ip -d link show sa-vx0
for pair in "c1-n1-p1 c2-n1-p1" "c1-n3-p1 c2-n3-p1" "c2-n3-p1 c1-n1-p1"; do
	set -- $pair
	wait_until 10 lx "$1" -- ping -c1 -W1 "$(pod_ip "$2")"
	a=$(tcp_echo "$1" "$(pod_ip "$2")")
	[ "$a" = "$2 $(pod_ip "$1")" ] && t_pass "vxlan_${1}_to_$2" || t_fail "vxlan_${1}_to_$2" "got '$a'"
done
J=$(lx c1-n1 -- "$SUBAGENT" verify --config-dir "$SA_RUN/c1" --state-dir "$SA_RUN/state/c1-n1" -o json)
echo "$J" | jq -e '([.[] | select(.check != "encrypted") | .result] | all(. == "pass")) and
	([.[] | select(.check == "encrypted") | .result] == ["skip"])' >/dev/null &&
	t_pass verify_vxlan || t_fail verify_vxlan "$J"
show_ok() {
	lx c1-n1 -- "$SUBAGENT" show connections --config-dir "$SA_RUN/c1" -o json 2>/dev/null |
		jq -e 'length == 1 and .[0].cable_driver == "vxlan" and .[0].status == "connected"' >/dev/null
}
wait_until 15 show_ok && t_pass show_vxlan || t_fail show_vxlan
for c in c1 c2; do for j in 1 2 3; do stop_agent "$c-n$j"; done; done
check vxlan_removed_on_stop bash -c "! $LAB exec c1-n1 -- ip link show sa-vx0 2>/dev/null"
stop_broker
t_done
