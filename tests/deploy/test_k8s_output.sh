#!/bin/bash
# `subagent deploy-broker ... --output kubernetes` and `subagent join ... --output kubernetes`
# against a real broker on loopback:
#   - stdout is one Secret and nothing else, valid for the Kubernetes API models
#     (tests/deploy/k8s_validate.py), in the namespace and under the name the manifests
#     mount, with every key they mount (validated together with namespace.yaml and the
#     manifests, --require-secrets);
#   - its values are, byte for byte, the files the normal mode writes; a directory made
#     of them the way the pods get them works: the broker serves from it, the cluster's
#     configuration loads and its token is accepted;
#   - the broker's Secret holds what the broker reads and not the root CA key or
#     broker-info; the cluster's holds psk only from a --psk broker;
#   - join without --config-dir writes nothing; with it, it writes the directory too (0600
#     secrets) and joins again from it;
#   - progress goes to stderr; a failed join prints nothing on stdout; no other output of
#     either command carries a secret.
set -eu
source "$(dirname "$0")/../lib.sh"
T_NAME=k8s_output
PY=/usr/bin/python3
VALIDATE=$ROOT/tests/deploy/k8s_validate.py
K8S=$ROOT/deploy/kubernetes
T=$(mktemp -d /tmp/sadep-k8sout.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do stop_pid "$p"; done
	rm -rf "$T"
}
trap cleanup EXIT

if ! $PY -c 'import kubernetes.client, yaml' 2>/dev/null; then
	t_skip all "python3-kubernetes or python3-yaml missing: run make deps"
	t_done
fi
[ -x "$SUBAGENT" ] || { t_skip all "build/subagent not built"; t_done; }

# secret_keys FILE: the data keys, sorted, one line
secret_keys() { $PY -c 'import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); print(" ".join(sorted(d["data"])))' "$1"; }
# unpack FILE DIR: the Secret's files into DIR, mode 0600 (what the pods' init containers
# and the kubelet make of it)
unpack() {
	mkdir -p "$2"
	$PY - "$1" "$2" <<'EOF'
import base64, os, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]
assert len(docs) == 1, "%d documents" % len(docs)
for k, v in docs[0]["data"].items():
    p = os.path.join(sys.argv[2], k)
    with open(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
        f.write(base64.b64decode(v, validate=True))
EOF
}
# same_files SRC DST KEYS...: each key of DST is the file of SRC byte for byte
same_files() {
	local src=$1 dst=$2 k; shift 2
	for k in "$@"; do cmp -s "$src/$k" "$dst/$k" || { echo "  $k differs" >&2; return 1; }; done
}
start_broker() {	# DIR: a broker on DIR (its config names the port), waits for /healthz
	local url
	url=$(jq -r '.urls[0]' "$1/config.json")
	"$SUBAGENT" broker --dir "$1" >>"$T/broker-$(basename "$1").log" 2>&1 &
	PIDS+=($!)
	wait_until 15 curl -sf --max-time 1 --cacert "$2" "$url/healthz"
}

# ---- deploy-broker --output kubernetes ----
P=$(free_port)
B=$T/broker
if "$SUBAGENT" deploy-broker --dir "$B" --listen "127.0.0.1:$P" -o kubernetes >"$T/b.yaml" 2>"$T/b.err"; then
	t_pass deploy_broker_runs
else
	t_fail deploy_broker_runs "$(cat "$T/b.err")"
fi
grep -q "✓ Printed the Secret subagent-system/subagent-broker" "$T/b.err" &&
	! grep -q "✓" "$T/b.yaml" && t_pass deploy_broker_progress_on_stderr ||
	t_fail deploy_broker_progress_on_stderr
# etcd's own certificates are the operator's (kubectl create secret generic subagent-etcd-tls,
# as deploy/README.md shows), not deploy-broker's: a Secret of that shape joins the set.
b64() { printf '%s' "$1" | base64 -w0; }
cat >"$T/etcd-tls.yaml" <<EOF
apiVersion: v1
kind: Secret
metadata: { name: subagent-etcd-tls, namespace: subagent-system }
type: Opaque
data: { ca.pem: $(b64 ca), member.pem: $(b64 m), member-key.pem: $(b64 k) }
EOF
check broker_secret_valid_with_broker-sqlite.yaml $PY "$VALIDATE" --require-secrets "$K8S/namespace.yaml" "$T/b.yaml" "$K8S/broker-sqlite.yaml"
check broker_secret_valid_with_broker-etcd.yaml $PY "$VALIDATE" --require-secrets "$K8S/namespace.yaml" "$T/b.yaml" "$T/etcd-tls.yaml" "$K8S/broker-etcd.yaml"
BKEYS="admin.token config.json ike-ca-key.pem ike-ca.pem join.token tls-key.pem tls.pem"
[ "$(secret_keys "$T/b.yaml")" = "$BKEYS" ] && t_pass broker_secret_keys ||
	t_fail broker_secret_keys "got '$(secret_keys "$T/b.yaml")'"
unpack "$T/b.yaml" "$T/b-pod"
# shellcheck disable=SC2086
check broker_secret_is_the_files same_files "$B" "$T/b-pod" $BKEYS
ok=1
for f in ca-key.pem tls-key.pem ike-ca-key.pem admin.token join.token broker-info.subm; do
	[ "$(stat -c %a "$B/$f")" = 600 ] || { echo "  $f is $(stat -c %a "$B/$f")" >&2; ok=0; }
done
[ $ok = 1 ] && t_pass broker_dir_secrets_0600 || t_fail broker_dir_secrets_0600
# With etcd the Secret also carries the etcd CA and the broker's client certificate and key
# that config.json names (copied into the directory), the same bytes as the given files.
for f in ca cert key; do printf -- '-----BEGIN X-----\n%s\n-----END X-----\n' "$f$RANDOM" >"$T/etcd-$f.pem"; done
if "$SUBAGENT" deploy-broker --dir "$T/be" --listen "127.0.0.1:$P" -o kubernetes \
	--store etcd://127.0.0.1:1 --etcd-ca "$T/etcd-ca.pem" --etcd-cert "$T/etcd-cert.pem" \
	--etcd-key "$T/etcd-key.pem" >"$T/be.yaml" 2>"$T/be.err"; then
	unpack "$T/be.yaml" "$T/be-pod"
	[ "$(secret_keys "$T/be.yaml")" = "admin.token config.json etcd-ca.pem etcd-client-key.pem etcd-client.pem ike-ca-key.pem ike-ca.pem join.token tls-key.pem tls.pem" ] &&
		cmp -s "$T/be-pod/etcd-ca.pem" "$T/etcd-ca.pem" && cmp -s "$T/be-pod/etcd-client.pem" "$T/etcd-cert.pem" &&
		cmp -s "$T/be-pod/etcd-client-key.pem" "$T/etcd-key.pem" &&
		t_pass broker_secret_etcd_tls_files || t_fail broker_secret_etcd_tls_files "got '$(secret_keys "$T/be.yaml")'"
	check broker_secret_etcd_valid $PY "$VALIDATE" --require-secrets "$K8S/namespace.yaml" "$T/be.yaml" "$T/etcd-tls.yaml" "$K8S/broker-etcd.yaml"
else
	t_fail broker_secret_etcd_tls_files "$(cat "$T/be.err")"
fi
# The broker from nothing but the Secret's files (what the init container copies).
cp "$B/ca.pem" "$T/ca.pem"
if start_broker "$T/b-pod" "$T/ca.pem"; then
	t_pass broker_runs_from_the_secret
else
	t_fail broker_runs_from_the_secret "$(tail -5 "$T/broker-b-pod.log")"
fi
INFO=$B/broker-info.subm

# ---- join --output kubernetes, no --config-dir ----
# what join may write: anything but the running broker's files
tree() { find "$T" -path "$T/b-pod" -prune -o -name '*.log' -o -print | sort; }
before=$(tree)
J=("$SUBAGENT" join "$INFO")
if (cd "$T" && "${J[@]}" --clusterid c1 --clustercidr 10.1.0.0/16 --servicecidr 10.101.0.0/16 \
	--output kubernetes >"$T/c1.yaml" 2>"$T/c1.err"); then
	t_pass join_runs
else
	t_fail join_runs "$(cat "$T/c1.err")"
fi
grep -q "✓ Registered cluster c1" "$T/c1.err" && grep -q "✓ Printed the Secret subagent-system/subagent-cluster (3 keys)" "$T/c1.err" &&
	! grep -q "✓" "$T/c1.yaml" && t_pass join_progress_on_stderr || t_fail join_progress_on_stderr
after=$(tree | grep -vx "$T/c1.yaml\|$T/c1.err")
[ "$before" = "$after" ] && t_pass join_without_dir_writes_nothing ||
	t_fail join_without_dir_writes_nothing "$(diff <(echo "$before") <(echo "$after"))"
check cluster_secret_valid_with_agent_and_dns $PY "$VALIDATE" --require-secrets \
	"$K8S/namespace.yaml" "$T/c1.yaml" "$K8S/agent.yaml" "$K8S/dns.yaml"
[ "$(secret_keys "$T/c1.yaml")" = "ca.pem cluster.json token" ] && t_pass cluster_secret_keys_no_psk ||
	t_fail cluster_secret_keys_no_psk "got '$(secret_keys "$T/c1.yaml")'"
grep -q "^# subagent join: the configuration of cluster c1" "$T/c1.yaml" &&
	grep -qx "    subagent.io/cluster: c1" "$T/c1.yaml" && t_pass cluster_secret_labelled ||
	t_fail cluster_secret_labelled
# The pods' view: the Secret's files as a configuration directory that loads, whose token
# the broker takes (`show` reads the broker with it) and whose CA pins the broker.
unpack "$T/c1.yaml" "$T/c1-pod"
if "$SUBAGENT" show networks --config-dir "$T/c1-pod" >"$T/show.out" 2>&1 && grep -q "10.1.0.0/16" "$T/show.out"; then
	t_pass cluster_secret_works
else
	t_fail cluster_secret_works "$(cat "$T/show.out")"
fi
cmp -s "$T/c1-pod/ca.pem" "$B/ca.pem" && t_pass cluster_secret_ca || t_fail cluster_secret_ca
# the manifests' names, read from the manifests themselves
names=$($PY - "$K8S" <<'EOF'
import glob, sys, yaml
out = set()
for f in glob.glob(sys.argv[1] + "/*.yaml"):
    for d in yaml.safe_load_all(open(f)):
        spec = ((d or {}).get("spec") or {}).get("template", {}).get("spec") or {}
        for v in spec.get("volumes") or []:
            if v.get("secret"):
                out.add("%s/%s" % (d["metadata"]["namespace"], v["secret"]["secretName"]))
print(" ".join(sorted(out)))
EOF
)
# (subagent-etcd-tls: the operator's, see above)
[ "$names" = "subagent-system/subagent-broker subagent-system/subagent-cluster subagent-system/subagent-etcd-tls" ] &&
	t_pass manifests_mount_these_secrets || t_fail manifests_mount_these_secrets "got '$names'"

# ---- join --output kubernetes --config-dir: the directory too, the same bytes ----
if "${J[@]}" --clusterid c2 --clustercidr 10.2.0.0/16 --servicecidr 10.102.0.0/16 \
	--config-dir "$T/c2" -o kubernetes >"$T/c2.yaml" 2>"$T/c2.err"; then
	unpack "$T/c2.yaml" "$T/c2-pod"
	if same_files "$T/c2" "$T/c2-pod" ca.pem cluster.json token &&
		[ "$(stat -c %a "$T/c2/token")" = 600 ] && [ "$(stat -c %a "$T/c2")" = 700 ] &&
		grep -q "✓ Wrote configuration to $T/c2" "$T/c2.err"; then
		t_pass join_dir_and_secret_agree
	else
		t_fail join_dir_and_secret_agree
	fi
else
	t_fail join_dir_and_secret_agree "$(cat "$T/c2.err")"
fi
# again, from the directory: the same registration and token
if "${J[@]}" --clusterid c2 --clustercidr 10.2.0.0/16 --servicecidr 10.102.0.0/16 \
	--config-dir "$T/c2" -o kubernetes >"$T/c2b.yaml" 2>"$T/c2b.err" &&
	grep -q "✓ Updated cluster c2" "$T/c2b.err"; then
	unpack "$T/c2b.yaml" "$T/c2b-pod"
	check rejoin_same_token same_files "$T/c2-pod" "$T/c2b-pod" token
else
	t_fail rejoin_same_token "$(cat "$T/c2b.err")"
fi

# ---- refusals: nothing on stdout ----
nothing_out() {	# NAME CMD...: fails, prints nothing on stdout
	local name=$1; shift
	if "$@" >"$T/r.out" 2>"$T/r.err"; then
		t_fail "$name" "succeeded"
	elif [ -s "$T/r.out" ]; then
		t_fail "$name" "stdout: $(head -c 200 "$T/r.out")"
	else
		t_pass "$name"
	fi
}
nothing_out refuse_unknown_output "${J[@]}" --clusterid c3 --clustercidr 10.3.0.0/16 \
	--servicecidr 10.103.0.0/16 --output yaml
grep -q "the only output is 'kubernetes'" "$T/r.err" || t_fail refuse_unknown_output_message
nothing_out refuse_no_dir_no_output "${J[@]}" --clusterid c3 --clustercidr 10.3.0.0/16 \
	--servicecidr 10.103.0.0/16
nothing_out taken_id_prints_nothing "${J[@]}" --clusterid c1 --clustercidr 10.9.0.0/16 \
	--servicecidr 10.109.0.0/16 -o kubernetes
nothing_out overlap_prints_nothing "${J[@]}" --clusterid c4 --clustercidr 10.1.0.0/16 \
	--servicecidr 10.104.0.0/16 -o kubernetes
nothing_out deploy_broker_nonempty_prints_nothing "$SUBAGENT" deploy-broker --dir "$B" \
	--listen "127.0.0.1:$P" -o kubernetes

# ---- no secret in the normal mode's output ----
"${J[@]}" --clusterid c5 --clustercidr 10.5.0.0/16 --servicecidr 10.105.0.0/16 \
	--config-dir "$T/c5" >"$T/c5.out" 2>&1 || t_fail join_normal "$(cat "$T/c5.out")"
P2=$(free_port)
"$SUBAGENT" deploy-broker --dir "$T/b2" --listen "127.0.0.1:$P2" >"$T/b2.out" 2>&1 ||
	t_fail deploy_broker_normal "$(cat "$T/b2.out")"
leak=
for s in "$(cat "$T/c5/token")" "$(cat "$T/b2/admin.token")" "$(cat "$T/b2/join.token")" \
	"$(sed -n 2p "$T/b2/tls-key.pem")" "$(sed -n 2p "$T/b2/ca-key.pem")"; do
	grep -qF -- "$s" "$T/c5.out" "$T/b2.out" "$T/c1.err" "$T/b.err" && leak=1
done
[ -z "$leak" ] && t_pass no_secret_in_other_output || t_fail no_secret_in_other_output
[ "$(stat -c %a "$T/c5/token")" = 600 ] && t_pass normal_mode_token_0600 || t_fail normal_mode_token_0600

# ---- a --psk broker: the key goes to the clusters, not into the broker's Secret ----
P3=$(free_port)
if "$SUBAGENT" deploy-broker --dir "$T/b3" --listen "127.0.0.1:$P3" --psk -o kubernetes \
	>"$T/b3.yaml" 2>"$T/b3.err" && [ "$(secret_keys "$T/b3.yaml")" = "$BKEYS" ] &&
	start_broker "$T/b3" "$T/b3/ca.pem"; then
	t_pass psk_broker_secret_has_no_psk
else
	t_fail psk_broker_secret_has_no_psk "$(cat "$T/b3.err")"
fi
if "$SUBAGENT" join "$T/b3/broker-info.subm" --clusterid p1 --clustercidr 10.1.0.0/16 \
	--servicecidr 10.101.0.0/16 -o kubernetes >"$T/p1.yaml" 2>"$T/p1.err" &&
	[ "$(secret_keys "$T/p1.yaml")" = "ca.pem cluster.json psk token" ] &&
	grep -q "(4 keys)" "$T/p1.err"; then
	unpack "$T/p1.yaml" "$T/p1-pod"
	[ "$(cat "$T/p1-pod/psk")" = "$(cat "$T/b3/psk")" ] && t_pass psk_cluster_secret ||
		t_fail psk_cluster_secret "the psk differs"
	check psk_cluster_secret_valid $PY "$VALIDATE" --require-secrets "$K8S/namespace.yaml" \
		"$T/p1.yaml" "$K8S/agent.yaml" "$K8S/dns.yaml"
else
	t_fail psk_cluster_secret "$(cat "$T/p1.err")"
fi

# ---- the validator's new rules refuse what they must ----
sed 's/^  token: .*/  token: not*base64/' "$T/c1.yaml" >"$T/bad1.yaml"
check_not selftest_refuses_bad_base64 $PY "$VALIDATE" "$K8S/namespace.yaml" "$T/bad1.yaml"
sed '/^  token: /d' "$T/c1.yaml" >"$T/bad2.yaml"
check_not selftest_refuses_missing_mounted_key $PY "$VALIDATE" "$K8S/namespace.yaml" \
	"$T/bad2.yaml" "$K8S/dns.yaml"
sed 's/name: subagent-cluster/name: subagent-c1/' "$T/c1.yaml" >"$T/bad3.yaml"
check_not selftest_refuses_other_name $PY "$VALIDATE" --require-secrets "$K8S/namespace.yaml" \
	"$T/bad3.yaml" "$K8S/agent.yaml"
sed 's/^  token:/  to ken:/' "$T/c1.yaml" >"$T/bad4.yaml"
check_not selftest_refuses_bad_key $PY "$VALIDATE" "$K8S/namespace.yaml" "$T/bad4.yaml"
t_done
