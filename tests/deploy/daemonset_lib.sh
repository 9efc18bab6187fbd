# Helpers of the DaemonSet lab tests (test_daemonset_lab.sh, test_daemonset_globalnet.sh):
# the agents of the netns lab run as podman containers that tests/deploy/podman_kubelet.sh
# makes from deploy/kubernetes/agent.yaml, as a kubelet would. Sourced after tests/lib.sh
# and tests/e2e/cluster_lib.sh; the test sets NODES (the lab nodes that get a pod) first.
KUBELET=$ROOT/tests/deploy/podman_kubelet.sh
MANIFEST=$ROOT/deploy/kubernetes/agent.yaml
ARCHIVE=$ROOT/build/subagent-image.oci.tar
STARTED=()

ds_cleanup() {
	local n ns
	for n in "${STARTED[@]}"; do kubelet_for "$n" --remove >/dev/null 2>&1 || true; done
	for n in $NODES; do
		ns=$("$LAB" netns "$n" 2>/dev/null) && rm -rf "$ROOT/build/podman/kubelet/$ns"
	done
	[ "${KEEP_LAB:-0}" = 1 ] || "$LAB" down >/dev/null 2>&1
}

# ds_requirements: skips the test without podman, runc, jq, curl or the binary; (re)builds
# the image when it is older than the binary (quick when cached).
ds_requirements() {
	local t log
	for t in podman runc jq curl; do
		command -v $t >/dev/null || { t_skip all "$t missing: run make deps"; t_done; }
	done
	[ -x "$SUBAGENT" ] || { t_skip all "build/subagent not built"; t_done; }
	if [ ! -s "$ARCHIVE" ] || [ "$SUBAGENT" -nt "$ARCHIVE" ]; then
		log=$(mktemp /tmp/sadep-dslab.XXXXXX)
		if ! "$ROOT/deploy/build-image.sh" >"$log" 2>&1; then
			cat "$log" >&2
			rm -f "$log"
			t_skip all "make image failed (it needs the Debian mirror)"
			t_done
		fi
		rm -f "$log"
	fi
}

lx() { "$LAB" exec "$@"; }
node_json() { lab_json | jq -r --arg n "$1" ".clusters[].nodes[] | select(.name == \$n) | .$2"; }
pod_ip() { lab_json | jq -r --arg p "$1" '.clusters[].nodes[].pods[] | select(.name == $p) | .ip'; }
tcp_echo() { echo x | lx "$1" -- socat -T3 - "TCP4:$2:8080,connect-timeout=3" 2>/dev/null | head -1; }
udp_echo() { echo x | lx "$1" -- socat -T3 - "UDP4:$2:8080" 2>/dev/null | head -1; }
host_root() { echo "$SA_RUN/hosts/$1"; }
status_file() { echo "$(host_root "$1")/var/lib/subagent/$1/status.json"; }
# the lab's agent helpers read $SA_RUN/state/NODE: here the state is on the node's hostPath
agent_role() { jq -r .role "$(status_file "$1")" 2>/dev/null; }
agent_epoch() { jq -r .epoch "$(status_file "$1")" 2>/dev/null; }
role_is() { [ "$(agent_role "$1")" = "$2" ]; }
connected() {
	local f
	f=$(status_file "$1")
	[ -f "$f" ] && [ "$(jq '[.connections[] | select(.status == "connected")] | length' "$f")" -ge 1 ]
}
follows() { [ "$(jq -r .active_gateway "$(status_file "$1")" 2>/dev/null)" = "$2" ]; }

# kubelet_for NODE [podman_kubelet options] [-- ARGS]: the node's pod (its DaemonSet chosen by
# the node's gateway label, the lab's gateway_capable), the cluster's Secret from join.
kubelet_for() {
	local n=$1 c=${1%%-n*} ds=subagent-agent opts=(); shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
	[ "$(node_json "$n" gateway_capable)" = true ] && ds=subagent-gateway
	"$KUBELET" --skip-missing-host-paths --object "DaemonSet/$ds" --node-name "$n" \
		--node-ip "$(node_json "$n" ip)" --host-root "$(host_root "$n")" "${opts[@]}" \
		"$MANIFEST" "$("$LAB" netns "$n")" "$SA_RUN/$c" "$@"
}
start_pod() {
	STARTED+=("$1")
	kubelet_for "$1" --detach >/dev/null 2>>"$SA_RUN/logs/kubelet-$1.log" ||
		{ cat "$SA_RUN/logs/kubelet-$1.log" >&2; return 1; }
}

# join_secret CLUSTER: `join --output kubernetes` from the cluster's first node, the Secret
# checked with the manifests that mount it, its files unpacked as the kubelet gets them.
join_secret() {
	local c=$1
	lx "$c-n1" -- "$SUBAGENT" join "$SA_RUN/broker/broker-info.subm" --clusterid "$c" \
		$(cluster_cidrs "$c") --output kubernetes >"$SA_RUN/secret-$c.yaml" \
		2>"$SA_RUN/logs/join-$c.log" || { cat "$SA_RUN/logs/join-$c.log" >&2; return 1; }
	/usr/bin/python3 "$ROOT/tests/deploy/k8s_validate.py" --require-secrets \
		"$ROOT/deploy/kubernetes/namespace.yaml" "$MANIFEST" "$SA_RUN/secret-$c.yaml" >&2 || return 1
	mkdir -p "$SA_RUN/$c"
	/usr/bin/python3 - "$SA_RUN/secret-$c.yaml" "$SA_RUN/$c" <<'EOF'
import base64, os, sys, yaml
(doc,) = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
for k, v in doc["data"].items():
    fd = os.open(os.path.join(sys.argv[2], k), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "wb") as f:
        f.write(base64.b64decode(v, validate=True))
EOF
}
