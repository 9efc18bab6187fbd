#!/bin/bash
# The gateway DaemonSet's pods with globalnet (issue 13): two overlapping clusters of one
# node (lab --overlap), a broker deployed with --globalnet, each cluster joined with
# `join --output kubernetes`, each agent a podman container made from the pod template of
# deploy/kubernetes/agent.yaml (tests/deploy/daemonset_lib.sh) - the same template as
# without globalnet: the agent pins its flow table in the node's bpffs through the pod's
# hostPath /sys/fs/bpf, and translates with tc BPF under the pod's four capabilities.
# The node's bpffs is a fresh instance on /sys/fs/bpf in this test's private mount
# namespace (nothing is pinned in the machine's). Checks: the flow table pinned there (seen
# from the node, outside the pod), pods reach the other cluster's pod and service through
# their global ingress IPs and are seen from an egress IP, and again after the gateway's pod
# was stopped (SIGTERM) and started again.
set -u
if [ -z "${SA_DSGN_MNTNS:-}" ]; then
	exec env SA_DSGN_MNTNS=1 unshare --mount --propagation private "$0" "$@"
fi
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/e2e/cluster_lib.sh"
T_NAME=daemonset_globalnet
NODES="c1-n1 c2-n1"
. "$ROOT/tests/deploy/daemonset_lib.sh"
# its own container storage: its layers are mounted in this mount namespace only
export PODMAN_KUBELET_STORAGE=$ROOT/build/podman/kubelet/storage-gn
trap ds_cleanup EXIT
ds_requirements
mount -t bpf bpf /sys/fs/bpf || { t_skip all "cannot mount a bpffs"; t_done; }

in_egress() {	# in_egress IP CLUSTER: IP is one of CLUSTER's 8 cluster egress IPs
	local g; g=$(jq -r '.globalCIDRs[0]' "$SA_RUN/$2/cluster.json")
	python3 -c 'import ipaddress,sys; n=ipaddress.ip_network(sys.argv[1]); a=ipaddress.ip_address(sys.argv[2]); sys.exit(0 if 1 <= int(a)-int(n.network_address) <= 8 else 1)' "$g" "$1"
}
gip() {	# gip CLUSTER NAME: status.globalIP of a GlobalIngressIP object
	lx "$1-n1" -- "$SUBAGENT" globalnet list --config-dir "$SA_RUN/$1" -o json |
		jq -r --arg n "$1.$2" '.[] | select(.name == $n) | .global_ip'
}
answers() { [ -n "$(tcp_echo "$1" "$2")" ]; }

"$LAB" up --clusters 2 --nodes 1 --pods 1 --overlap >&2 || { t_fail lab_up; t_done; }
lab_start_broker --globalnet >&2 || { t_fail broker_up; t_done; }
ok=1
for c in c1 c2; do join_secret "$c" || ok=0; done
[ $ok = 1 ] && t_pass joined_with_output_kubernetes || { t_fail joined_with_output_kubernetes; t_done; }
G1=$(jq -r '.globalCIDRs[0]' "$SA_RUN/c1/cluster.json") G2=$(jq -r '.globalCIDRs[0]' "$SA_RUN/c2/cluster.json")
[[ $G1 == 242.* && $G2 == 242.* && $G1 != "$G2" ]] && t_pass global_cidrs_in_the_secrets ||
	t_fail global_cidrs_in_the_secrets "c1 '$G1' c2 '$G2'"

ok=1
for n in $NODES; do start_pod "$n" || ok=0; done
[ $ok = 1 ] && t_pass pods_started || { t_fail pods_started; t_done; }
ok=1
for n in $NODES; do wait_until 60 connected "$n" || ok=0; done
[ $ok = 1 ] && t_pass connected || t_fail connected

# The flow table, pinned by the agent in its pod, is on the node's bpffs.
pinned() { [ -n "$(find "/sys/fs/bpf/subagent/$1-$2" -mindepth 1 2>/dev/null | head -1)" ]; }
for n in $NODES; do
	wait_until 20 pinned "${n%%-n*}" "$n" && t_pass "flow_table_on_node_bpffs_$n" ||
		t_fail "flow_table_on_node_bpffs_$n" "$(find /sys/fs/bpf -maxdepth 3 2>/dev/null | tr '\n' ' ')"
done

P1=$(pod_ip c1-n1-p1) VIP=$(lab_json | jq -r '.clusters[0].service_vip')
for c in c1 c2; do
	lx "$c-n1" -- "$SUBAGENT" globalnet ingress --config-dir "$SA_RUN/$c" --pod "$P1" --name p1 \
		--wait 20 >&2 || t_fail "ingress_pod_$c"
done
lx c2-n1 -- "$SUBAGENT" export service --config-dir "$SA_RUN/c2" --name echo --vip "$VIP" \
	--wait 20 >&2 || t_fail export_service_c2
C1P1=$(gip c1 p1) C2P1=$(gip c2 p1) C2SVC=$(gip c2 echo.default)
[ -n "$C1P1" ] && [ -n "$C2P1" ] && [ -n "$C2SVC" ] && t_pass ingress_ips_allocated ||
	t_fail ingress_ips_allocated "c1 p1 '$C1P1', c2 p1 '$C2P1', c2 echo '$C2SVC'"

through_globalnet() {	# TAG FROM-POD TO-IP WANT-POD-PATTERN FROM-CLUSTER
	local a ip
	wait_until 10 answers "$2" "$3"
	a=$(tcp_echo "$2" "$3"); ip=${a#* }
	[[ ${a%% *} == $4 ]] && in_egress "$ip" "$5" && t_pass "$1" || t_fail "$1" "got '$a'"
}
through_globalnet c1_pod_to_c2_pod c1-n1-p1 "$C2P1" c2-n1-p1 c1
through_globalnet c2_pod_to_c1_pod c2-n1-p1 "$C1P1" c1-n1-p1 c2
through_globalnet c1_pod_to_c2_service c1-n1-p1 "$C2SVC" 'c2-n1-p*' c1

# SIGTERM of c1's gateway pod, then the pod again: translation comes back.
code=$(kubelet_for c1-n1 --stop 2>>"$SA_RUN/logs/kubelet-c1-n1.log" | tail -n1)
[ "$code" = 0 ] && t_pass sigterm_exit_0 || t_fail sigterm_exit_0 "exit code '$code'"
start_pod c1-n1 && wait_until 60 connected c1-n1 || t_fail pod_restarted
through_globalnet after_restart_c1_pod_to_c2_pod c1-n1-p1 "$C2P1" c2-n1-p1 c1
through_globalnet after_restart_c2_pod_to_c1_pod c2-n1-p1 "$C1P1" c1-n1-p1 c2

for n in "${STARTED[@]}"; do kubelet_for "$n" --remove >/dev/null 2>&1; done
STARTED=()
t_done
