#!/bin/bash
# tests/deploy/podman_kubelet.sh: the gateway DaemonSet's pod template of
# deploy/kubernetes/agent.yaml, run with podman from the image `make image` builds, in a
# scratch network namespace made here (sadep-kl-PID; a veth pair inside it, nothing outside).
#   - `subagent version` and `subagent --help` in the image, with the pod's own security
#     context (four capabilities, read-only root);
#   - inside the container: exactly those capabilities, the secret files at /etc/subagent
#     with mode 0400, the downward API values in the environment, the namespace's devices,
#     a read-only root and writable state;
#   - charon started the way the agent starts it (a private mount namespace with a tmpfs on
#     /run) under that security context binds UDP 500 and 4500, opens its VICI socket and
#     creates ipsec0 (kernel-libipsec): the capability set of the DaemonSet is enough;
#   - the translation itself (--dry-run) for the plain-node DaemonSet: --no-gateway, the
#     node's name and address in the args.
set -eu
source "$(dirname "$0")/../lib.sh"
T_NAME=podman_kubelet
KUBELET=$ROOT/tests/deploy/podman_kubelet.sh
MANIFEST=$ROOT/deploy/kubernetes/agent.yaml
ARCHIVE=$ROOT/build/subagent-image.oci.tar
NS=sadep-kl-$$
TMP=$(mktemp -d /tmp/sadep-kubelet.XXXXXX)
cleanup() {
	if [ -n "${PODMAN_RM:-}" ]; then
		$PODMAN_RM >/dev/null 2>&1 || true
	fi
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$TMP" "$ROOT/build/podman/kubelet/$NS"
}
trap cleanup EXIT

for t in podman runc; do
	command -v $t >/dev/null || { t_skip podman_kubelet "$t missing: run make deps"; t_done; }
done
[ -x "$SUBAGENT" ] || { t_skip podman_kubelet "build/subagent not built"; t_done; }
# The image of this binary: (re)built when older than it; quick when cached.
if [ ! -s "$ARCHIVE" ] || [ "$SUBAGENT" -nt "$ARCHIVE" ]; then
	if ! "$ROOT/deploy/build-image.sh" >"$TMP/image.log" 2>&1; then
		cat "$TMP/image.log" >&2
		t_skip podman_kubelet "make image failed (it needs the Debian mirror)"
		t_done
	fi
fi

ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add sadep0 type veth peer name sadep1
ip -n "$NS" addr add 192.0.2.10/24 dev sadep0
ip -n "$NS" link set sadep0 up
ip -n "$NS" link set sadep1 up
mkdir -p "$TMP/secret"
for f in cluster.json ca.pem token psk; do echo "test $f" >"$TMP/secret/$f"; done
PODMAN_RM="$KUBELET --remove $MANIFEST $NS $TMP/secret"

# kubelet [OPTIONS] -- ARGS...: the gateway pod on the scratch node (this machine has no
# /lib/modules)
kubelet() {
	local opts=()
	while [ "$1" != -- ]; do opts+=("$1"); shift; done
	"$KUBELET" --skip-missing-host-paths "${opts[@]}" "$MANIFEST" "$NS" "$TMP/secret" "$@"
}

want=$("$SUBAGENT" version)
if out=$(kubelet -- version 2>"$TMP/err") && [ "$out" = "$want" ]; then
	t_pass "version_in_image ($out)"
else
	t_fail version_in_image "got '$out', want '$want'"
	fi
if out=$(kubelet -- --help 2>"$TMP/err") && grep -q '^Usage: subagent COMMAND' <<<"$out" &&
	grep -q '^  agent ' <<<"$out"; then
	t_pass help_in_image
else
	t_fail help_in_image
	echo "$out" >&2
	fi

# Inside the container, with the pod's security context.
cat >"$TMP/inside.sh" <<'EOF'
set -u
# CAP_NET_BIND_SERVICE 10, CAP_NET_ADMIN 12, CAP_NET_RAW 13, CAP_SYS_ADMIN 21
echo "caps $(sed -n 's/^CapEff:\t//p' /proc/self/status)"
echo "secret $(stat -c '%a' /etc/subagent/cluster.json /etc/subagent/token | sort -u | tr '\n' ' ')"
echo "env $NODE_NAME $NODE_IP"
ip -br -4 addr show dev sadep0 | awk '{print "addr", $3}'
touch /usr/local/bin/x 2>/dev/null && echo "rootfs writable" || echo "rootfs read-only"
mkdir -p /var/lib/subagent/$NODE_NAME && touch /var/lib/subagent/$NODE_NAME/x && echo "state writable"
[ -c /dev/net/tun ] && echo "tun present"
# charon the way the agent runs it: own mount namespace, tmpfs on /run, kernel-libipsec
D=/var/lib/subagent/$NODE_NAME/charon-check
mkdir -p $D
cat >$D/strongswan.conf <<CONF
charon {
	load_modular = no
	load = random nonce openssl aes sha1 sha2 hmac gcm pem pkcs1 pkcs8 x509 pubkey constraints kdf kernel-libipsec kernel-netlink socket-default vici
	port = 500
	port_nat_t = 4500
	install_routes = no
	plugins {
		vici {
			socket = unix://$D/vici
		}
	}
}
CONF
STRONGSWAN_CONF=$D/strongswan.conf unshare -m sh -c \
	'mount --make-rprivate / && mount -t tmpfs charon-run /run && exec /usr/lib/ipsec/charon' \
	>$D/charon.out 2>&1 &
pid=$!
i=0
while [ ! -S $D/vici ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -S $D/vici ] && echo "charon vici"
ss -Hulpn | grep -q ':500 .*charon' && echo "charon bound 500"
ss -Hulpn | grep -q ':4500 .*charon' && echo "charon bound 4500"
ip link show ipsec0 >/dev/null 2>&1 && echo "charon ipsec0"
kill $pid
wait $pid
echo "charon exit $?"
grep -iE 'error|failed|unable' $D/charon.out | grep -vE 'curve25519|unmet dependency|failed to load 7|plugin features' | head -5
EOF
out=$(kubelet --entrypoint '["/bin/sh","-c"]' -- "$(cat "$TMP/inside.sh")" 2>"$TMP/err") || cat "$TMP/err" >&2
echo "$out" >&2
expect() {	# NAME LINE: the inside script printed LINE
	if grep -qxF -- "$2" <<<"$out"; then t_pass "$1"; else t_fail "$1" "no '$2'"; fi
}
expect capabilities "caps 0000000000203400"
expect secret_mode_0400 "secret 400 "
expect downward_api "env $NS 192.0.2.10"
expect node_network "addr 192.0.2.10/24"
expect rootfs_read_only "rootfs read-only"
expect state_writable "state writable"
expect tun_device "tun present"
expect charon_vici "charon vici"
expect charon_ike_port "charon bound 500"
expect charon_natt_port "charon bound 4500"
expect charon_libipsec "charon ipsec0"
# Without CAP_NET_BIND_SERVICE the same charon starts but has no IKE socket: the check
# above is not vacuous, and the DaemonSet needs that capability.
sed '/^ *- NET_BIND_SERVICE$/d' "$MANIFEST" >"$TMP/no-bind.yaml"
out=$("$KUBELET" --skip-missing-host-paths --entrypoint '["/bin/sh","-c"]' "$TMP/no-bind.yaml" \
	"$NS" "$TMP/secret" -- "$(cat "$TMP/inside.sh")" 2>"$TMP/err") || cat "$TMP/err" >&2
echo "$out" >&2
if grep -qx "caps 0000000000203000" <<<"$out" && grep -qx "charon vici" <<<"$out" &&
	! grep -q "charon bound 500" <<<"$out"; then
	t_pass selftest_without_net_bind_service_no_ike
else
	t_fail selftest_without_net_bind_service_no_ike
fi
# the scratch namespace is left as it was: charon's ipsec0 went with charon
if ! ip -n "$NS" link show ipsec0 >/dev/null 2>&1; then
	t_pass charon_cleaned_up
else
	t_fail charon_cleaned_up "ipsec0 still in $NS"
fi

# The plain-node DaemonSet, translated only.
if cmd=$("$KUBELET" --skip-missing-host-paths --dry-run --object DaemonSet/subagent-agent \
	--node-name node-7 "$MANIFEST" "$NS" "$TMP/secret" 2>/dev/null); then
	ok=1
	for w in "--network ns:/run/netns/$NS" "--runtime runc" "--cgroup-manager cgroupfs" \
		"--cap-drop all" "--cap-add SYS_ADMIN" "--read-only" "--ulimit nofile=" \
		"agent --config-dir /etc/subagent --node node-7 --node-ip 192.0.2.10 --state-dir /var/lib/subagent/node-7" \
		"--no-gateway"; do
		grep -qF -- "$w" <<<"$cmd" || { ok=; echo "missing: $w" >&2; }
	done
	grep -qF -- "/dev/net/tun" <<<"$cmd" && { ok=; echo "a plain node got the TUN device" >&2; }
	[ -n "$ok" ] && t_pass plain_node_translation || { t_fail plain_node_translation; echo "$cmd" >&2; }
else
	t_fail plain_node_translation "dry run failed"
fi
# Refused like a kubelet refuses: a missing hostPath without --skip-missing-host-paths (this
# machine has no /lib/modules), a netns that does not exist.
if [ ! -d /lib/modules ]; then
	check_not refuses_missing_host_path "$KUBELET" --dry-run "$MANIFEST" "$NS" "$TMP/secret"
fi
check_not refuses_missing_netns "$KUBELET" --dry-run "$MANIFEST" sadep-no-such-ns "$TMP/secret"
t_done
