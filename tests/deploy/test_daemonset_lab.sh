#!/bin/bash
# The image and the DaemonSets' pod templates run the lab (issue 13): two clusters of three
# nodes (n1 and n2 gateway-capable, n3 not), the broker and the joins as in the end-to-end
# tests, but every agent is a podman container that tests/deploy/podman_kubelet.sh makes
# from deploy/kubernetes/agent.yaml the way a kubelet would: the image `make image` builds,
# the template's command, args and env (downward API: node name and the node's IP), the
# Secret's files (what `join` wrote), hostPaths kept per node, the security context;
# gateway-capable nodes from DaemonSet subagent-gateway, the others from subagent-agent.
# The Secret is what `join --output kubernetes` prints (validated with the manifests).
# No --pod-cidr: each agent finds its node's slice from the lab's routes (checked against
# the lab's). Then what test_gateway/test_failover check for a user: pods across clusters
# both ways from every placement, the remote service VIP, `verify` in the container; the
# probes (/healthz, /readyz on the metrics port in the node's netns); and a pod stopped as
# the kubelet stops it (SIGTERM) and started again is a restart, not a failover.
set -u
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/e2e/cluster_lib.sh"
T_NAME=daemonset_lab
NODES="c1-n1 c1-n2 c1-n3 c2-n1 c2-n2 c2-n3"
. "$ROOT/tests/deploy/daemonset_lib.sh"
trap ds_cleanup EXIT
ds_requirements

"$LAB" up --clusters 2 --nodes 3 --pods 1 >&2 || { t_fail lab_up; t_done; }
lab_start_broker >&2 || { t_fail broker_up; t_done; }
ok=1
for c in c1 c2; do join_secret "$c" || ok=0; done
[ $ok = 1 ] && t_pass joined_with_output_kubernetes || { t_fail joined_with_output_kubernetes; t_done; }
ok=1
for n in $NODES; do start_pod "$n" || ok=0; done
[ $ok = 1 ] && t_pass pods_started || { t_fail pods_started; t_done; }

ok=1
for c in c1 c2; do
	wait_until 60 role_is "$c-n1" gateway && wait_until 60 connected "$c-n1" &&
		wait_until 15 follows "$c-n3" "$c-n1" && wait_until 15 role_is "$c-n2" standby || ok=0
done
if [ $ok = 1 ]; then
	t_pass elected_and_connected
else
	t_fail elected_and_connected
	for n in $NODES; do echo "== $n: $(cat "$(status_file "$n")" 2>/dev/null)" >&2; done
fi

# The downward API and the Secret reached the agent: the node's own name and address, the
# cluster's configuration, and no --pod-cidr (the slice the agent found is the lab's).
for n in $NODES; do
	want=$(node_json "$n" pod_cidr)
	wait_until 15 bash -c "[ \"\$(jq -r .pod_cidr '$(status_file "$n")' 2>/dev/null)\" = '$want' ]" &&
		t_pass "pod_cidr_detected_$n ($want)" ||
		t_fail "pod_cidr_detected_$n" "got '$(jq -r .pod_cidr "$(status_file "$n")" 2>/dev/null)', lab says '$want'"
done
args=$(kubelet_for c1-n1 --exec -- cat /proc/1/cmdline 2>/dev/null | tr '\0' ' ')
[[ $args == *"agent --config-dir /etc/subagent --node c1-n1 --node-ip $(node_json c1-n1 ip) "* &&
	$args != *--pod-cidr* ]] && t_pass args_from_template_and_downward_api ||
	t_fail args_from_template_and_downward_api "pid 1: $args"
args=$(kubelet_for c1-n3 --exec -- cat /proc/1/cmdline 2>/dev/null | tr '\0' ' ')
[[ $args == *--no-gateway* ]] && t_pass plain_node_from_agent_daemonset ||
	t_fail plain_node_from_agent_daemonset "pid 1: $args"

# Pods across clusters, both ways, from gateway and non-gateway nodes; the remote VIP.
G1=c1-n1-p1 N1=c1-n3-p1 G2=c2-n1-p1 N2=c2-n3-p1
for pair in "$N1 $N2" "$N1 $G2" "$G1 $N2" "$G1 $G2" "$N2 $N1" "$G2 $N1" "$N2 $G1" "$G2 $G1"; do
	set -- $pair
	a=$(tcp_echo "$1" "$(pod_ip "$2")")
	[ "$a" = "$2 $(pod_ip "$1")" ] && t_pass "pod_${1}_to_${2}_tcp" || t_fail "pod_${1}_to_${2}_tcp" "got '$a'"
done
for pair in "$N1 $N2" "$N2 $N1"; do
	set -- $pair
	a=$(udp_echo "$1" "$(pod_ip "$2")")
	[ "$a" = "$2 $(pod_ip "$1")" ] && t_pass "pod_${1}_to_${2}_udp" || t_fail "pod_${1}_to_${2}_udp" "got '$a'"
done
VIP1=$(lab_json | jq -r '.clusters[0].service_vip') VIP2=$(lab_json | jq -r '.clusters[1].service_vip')
a=$(tcp_echo "$N1" "$VIP2")
[[ $a =~ ^c2-n[123]-p1\ $(pod_ip "$N1")$ ]] && t_pass remote_service_vip_c1_to_c2 || t_fail remote_service_vip_c1_to_c2 "got '$a'"
a=$(tcp_echo "$N2" "$VIP1")
[[ $a =~ ^c1-n[123]-p1\ $(pod_ip "$N2")$ ]] && t_pass remote_service_vip_c2_to_c1 || t_fail remote_service_vip_c2_to_c1 "got '$a'"

# verify, the way deploy/README.md runs it (kubectl exec ds/subagent-gateway -- ...).
for c in c1 c2; do
	if out=$(kubelet_for "$c-n1" --exec -- subagent verify --config-dir /etc/subagent \
		--state-dir "/var/lib/subagent/$c-n1" 2>&1); then
		t_pass "verify_in_pod_$c"
	else
		t_fail "verify_in_pod_$c"
		echo "$out" >&2
	fi
done

# The probes the manifest names, on the metrics port in the node's network namespace.
probe() { lx "$1" -- curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://$(node_json "$1" ip):9471$2"; }
for n in c1-n1 c1-n2 c1-n3; do
	h=$(probe "$n" /healthz) r=$(probe "$n" /readyz)
	[ "$h" = 200 ] && [ "$r" = 200 ] && t_pass "probes_$n" || t_fail "probes_$n" "healthz $h, readyz $r"
done

# The kubelet ends the active gateway's pod (SIGTERM; rolling update, pod deletion) and
# starts it again: a restart, not a failover, and an established TCP connection lives on.
# The lab's echo server gives up after 10 s of silence, less than a pod restart under
# load can take (podman, the agent's start, IKE, TCP's backoff): an echo with 60 s.
e0=$(agent_epoch c1-n1)
out=$SA_RUN/stream.out
lx "$N2" -- setsid -f socat -T60 TCP4-LISTEN:8090,fork,reuseaddr PIPE </dev/null >/dev/null 2>&1
wait_until 5 bash -c "echo x | $LAB exec $N1 -- socat -T3 - TCP4:$(pod_ip $N2):8090,connect-timeout=3 | grep -q x"
(for i in $(seq 40); do echo "line$i"; sleep 0.25; done) |
	lx "$N1" -- socat -T60 - "TCP4:$(pod_ip $N2):8090,connect-timeout=3" >"$out" 2>/dev/null &
spid=$!
sleep 2
t0=$(date +%s%N)
code=$(kubelet_for c1-n1 --stop 2>>"$SA_RUN/logs/kubelet-c1-n1.log" | tail -n1)
stop_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$stop_ms" -lt 10000 ] && [ "$code" = 0 ] && t_pass "sigterm_ends_the_pod (exit 0 after ${stop_ms} ms)" ||
	{ t_fail sigterm_ends_the_pod "exit code '$code' after $stop_ms ms (30000: the grace period ran out, SIGKILL)"
	  tail -5 "$SA_RUN/logs/kubelet-c1-n1.log" >&2; }
start_pod c1-n1
wait_until 60 grep -q '^line40$' "$out" && t_pass restart_keeps_established_connection ||
	t_fail restart_keeps_established_connection "last line: $(tail -1 "$out")"
kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
wait_until 20 role_is c1-n1 gateway && [ "$(agent_epoch c1-n1)" = "$e0" ] && role_is c1-n2 standby &&
	t_pass pod_restart_does_not_fail_over ||
	t_fail pod_restart_does_not_fail_over "epoch $e0 -> $(agent_epoch c1-n1), n2 $(agent_role c1-n2)"
wait_until 30 connected c1-n1 && a=$(tcp_echo "$G2" "$(pod_ip $N1)") && [ "$a" = "$N1 $(pod_ip $G2)" ] &&
	t_pass connected_after_pod_restart || t_fail connected_after_pod_restart "got '${a:-}'"

# Nothing left behind: every pod removed, no container of ours in podman's storage.
for n in "${STARTED[@]}"; do kubelet_for "$n" --remove >/dev/null 2>&1; done
left=0
for n in $NODES; do
	kubelet_for "$n" --exec -- true >/dev/null 2>&1 && left=$((left + 1))
done
[ $left = 0 ] && t_pass pods_removed || t_fail pods_removed "$left containers still run"
STARTED=()
t_done
