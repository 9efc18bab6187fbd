#!/bin/bash
# End-to-end: service discovery with globalnet. Two clusters with the same pod and service
# CIDRs (lab --overlap), a broker deployed with --globalnet. `export service` gives the
# service's VIP (ClusterSetIP) or each pod (Headless) a global IP; the other cluster's DNS
# answers with those global IPs and pods connect through them; the local cluster answers
# with its own VIP; unexport withdraws the global IPs too.
set -u
# A private mount namespace for the bpffs the agents pin their flow tables in.
if [ -z "${SA_GN_MNTNS:-}" ]; then
	exec env SA_GN_MNTNS=1 unshare --mount --propagation private "$0" "$@"
fi
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
BPFFS=$(mktemp -d /run/sa-dnsgn-bpffs.XXXXXX)
cleanup() {
	[ -n "${KEEP:-}" ] && return
	"$LAB" down >/dev/null 2>&1
	umount "$BPFFS" 2>/dev/null
	rmdir "$BPFFS" 2>/dev/null
}
trap cleanup EXIT
mount -t bpf bpf "$BPFFS" || { t_skip all "cannot mount bpffs"; exit 0; }
for cmd in dns export unexport; do
	"$SUBAGENT" $cmd --help >/dev/null 2>&1 || { t_skip all "subagent $cmd is not built yet"; exit 0; }
done

lx() { "$LAB" exec "$@"; }
q() { lx "$1" -- dig +short +time=2 +tries=1 "$2" "${3:-A}" 2>/dev/null; }
SVC=echo.default.svc.clusterset.local DB=db.default.svc.clusterset.local
VIP=10.101.0.10	# every cluster's echo VIP (overlapping)
gip() { # gip CLUSTER NAME: the global IP of a GlobalIngressIP
	lx "$1-n1" -- "$SUBAGENT" globalnet list --config-dir "$SA_RUN/$1" -o json |
		jq -r --arg n "$1.$2" '.[] | select(.name == $n) | .global_ip'
}

"$LAB" up --clusters 2 --nodes 1 --pods 2 --overlap >&2 || { t_fail lab_up; t_done; }
lab_start_broker --globalnet >&2 || { t_fail broker_up; t_done; }
for c in c1 c2; do join_cluster "$c" >&2 || t_fail "join_$c"; done
for c in c1 c2; do start_node_agent "$c-n1" --bpf-dir "$BPFFS/$c-n1"; done
ok=1
for c in c1 c2; do wait_until 60 status_connected "$c-n1" 1 || ok=0; done
[ $ok = 1 ] && t_pass connected || { t_fail connected; tail -20 "$SA_RUN/logs/agent-c1-n1.log" >&2; }
for c in c1 c2; do
	lx "$c-n1" -- setsid -f "$SUBAGENT" dns --config-dir "$SA_RUN/$c" --listen "172.20.${c#c}.11:53" \
		</dev/null >>"$SA_RUN/logs/dns-$c.log" 2>&1
	"$LAB" dns-forward "$c" clusterset.local "172.20.${c#c}.11"
done

# ---- ClusterSetIP: the remote answer is the service's global IP, and it connects
for c in c1 c2; do
	lx "$c-n1" -- "$SUBAGENT" export service --config-dir "$SA_RUN/$c" --name echo --vip "$VIP" \
		--port tcp-echo:8080 --endpoint "$c-n1-p1=10.1.1.11" --endpoint "$c-n1-p2=10.1.1.12" \
		--wait 20 >&2 || t_fail "export_$c"
done
G2=$(gip c2 echo.default)
[[ $G2 == 242.* ]] && t_pass service_global_ip || t_fail service_global_ip "'$G2'"
a=$(q c2-n1-p1 "c1.$SVC")
G1=$(gip c1 echo.default)
[ -n "$a" ] && [ "$a" = "$G1" ] && t_pass qualified_remote_is_global_ip || t_fail qualified_remote_is_global_ip "got '$a', c1's global IP '$G1'"
a=$(q c1-n1-p1 "$SVC")
[ "$a" = "$VIP" ] && t_pass local_answer_is_own_vip || t_fail local_answer_is_own_vip "got '$a'"
lx c1-n1 -- "$SUBAGENT" unexport service --config-dir "$SA_RUN/c1" --name echo >&2 || t_fail unexport_c1
remote() { [ "$(q c1-n1-p1 "$SVC")" = "$G2" ]; }
wait_until 10 remote && t_pass remote_answer_is_global_ip || t_fail remote_answer_is_global_ip "got '$(q c1-n1-p1 "$SVC")'"
[ -z "$(gip c1 echo.default)" ] && t_pass unexport_withdraws_global_ip || t_fail unexport_withdraws_global_ip
conn() { echo x | lx c1-n1-p2 -- socat -T3 - "TCP4:$SVC:8080,connect-timeout=3" 2>/dev/null | head -1; }
wait_until 10 bash -c "echo x | ip netns exec ${LAB_PREFIX}c1-n1-p2 socat -T2 - TCP4:$G2:8080,connect-timeout=2 2>/dev/null | grep -q c2-"
a=$(conn)
[[ $a == "c2-n1-p"[12]" 242."* ]] && t_pass pod_connects_through_global_ip ||
	t_fail pod_connects_through_global_ip "got '$a'"

# ---- Headless: each pod gets a global IP; the answers are those
lx c2-n1 -- "$SUBAGENT" export service --config-dir "$SA_RUN/c2" --name db --headless --port pg:8080 \
	--endpoint c2-n1-p1=10.1.1.11 --endpoint c2-n1-p2=10.1.1.12 --wait 20 >&2 || t_fail export_headless
P1=$(gip c2 db.default-c2-n1-p1) P2=$(gip c2 db.default-c2-n1-p2)
[[ $P1 == 242.* && $P2 == 242.* && $P1 != "$P2" ]] && t_pass headless_pods_global_ips ||
	t_fail headless_pods_global_ips "'$P1' '$P2'"
wait_until 10 bash -c "[ -n \"\$(ip netns exec ${LAB_PREFIX}c1-n1-p1 dig +short +time=1 +tries=1 $DB)\" ]"
a=$(q c1-n1-p1 "$DB" | sort | tr '\n' ' ')
[ "$a" = "$(printf '%s\n' "$P1" "$P2" | sort | tr '\n' ' ')" ] && t_pass headless_answers_global_ips ||
	t_fail headless_answers_global_ips "got '$a'"
a=$(q c1-n1-p1 "c2-n1-p2.c2.$DB")
[ "$a" = "$P2" ] && t_pass headless_pod_name_global_ip || t_fail headless_pod_name_global_ip "got '$a'"
wait_until 10 bash -c "echo x | ip netns exec ${LAB_PREFIX}c1-n1-p1 socat -T2 - TCP4:$P2:8080,connect-timeout=2 2>/dev/null | grep -q c2-n1-p2"
a=$(echo x | lx c1-n1-p1 -- socat -T3 - "TCP4:c2-n1-p2.c2.$DB:8080,connect-timeout=3" 2>/dev/null | head -1)
[[ $a == "c2-n1-p2 242."* ]] && t_pass pod_connects_to_pod_by_name || t_fail pod_connects_to_pod_by_name "got '$a'"
# an endpoint gone: its global IP goes too
lx c2-n1 -- "$SUBAGENT" export service --config-dir "$SA_RUN/c2" --name db --headless --port pg:8080 \
	--endpoint c2-n1-p1=10.1.1.11 >&2 || t_fail reexport_headless
[ -z "$(gip c2 db.default-c2-n1-p2)" ] && [ -n "$(gip c2 db.default-c2-n1-p1)" ] &&
	t_pass stale_pod_global_ip_dropped || t_fail stale_pod_global_ip_dropped
lx c2-n1 -- "$SUBAGENT" show services --config-dir "$SA_RUN/c2" >&2

for c in c1 c2; do p=$(netns_pid "$c-n1" "subagent dns --config-dir $SA_RUN/$c ") && kill "$p"; stop_agent "$c-n1"; done
stop_broker
t_done
