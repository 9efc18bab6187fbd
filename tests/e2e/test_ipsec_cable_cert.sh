#!/bin/bash
# The ipsec cable with certificates against the real charon (no PSK): two namespaces
# running tests/unit/ipsec_node with --cert-dir (key, certificate, intermediate, root as
# the broker hands them out, made here with openssl the way deploy-broker and the broker
# make them). Asserts: the tunnel comes up authenticated by certificates (charon's log:
# the CERT payloads sent and received, the chain to the root, the ECDSA authentication of
# the peer's cluster ID); a renewed certificate is taken without dropping the tunnel and
# is what the next IKE_SA authenticates with; and a peer is refused when it presents a
# certificate for another cluster ID, one from another CA, or only the shared key.
# Usage: tests/e2e/test_ipsec_cable_cert.sh (root; ASAN=1 uses the ASan build of the helper)
set -eu
cd "$(dirname "$0")/../.."
T_NAME=ipsec_cable_cert
NODE=build/tests/unit/ipsec_node
if [ "${ASAN:-0}" = 1 ]; then
	NODE=build/asan/tests/unit/ipsec_node
	T_NAME=ipsec_cable_cert_asan
	export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
. tests/lib.sh
NSA=${LAB_PREFIX}ic-a NSB=${LAB_PREFIX}ic-b
WORK=""
PIDS=()

[ "$(id -u)" -eq 0 ] || { t_skip all "needs root"; exit 0; }
[ -x /usr/lib/ipsec/charon ] || { t_skip all "charon not installed"; exit 0; }
[ -x "$NODE" ] || { t_skip all "$NODE not built (make test-build)"; exit 0; }
for ns in $NSA $NSB; do
	ip netns list | grep -qw "^$ns" && { t_skip all "namespace $ns exists (another run?)"; exit 0; }
done

cleanup() {
	set +e
	for p in "${PIDS[@]}"; do stop_pid "$p"; done
	ip netns del $NSA 2>/dev/null
	ip netns del $NSB 2>/dev/null
	[ -n "$WORK" ] && [ "${KEEP:-0}" != 1 ] && rm -rf "$WORK"
}
trap cleanup EXIT
WORK=$(mktemp -d /tmp/sa-ipsec-cert-XXXXXX)

# ---- a broker's PKI, by openssl: root (pathlen 1), IKE signing CA (pathlen 0), leaves
ca() { # NAME SUBJ [ISSUER] PATHLEN
	local n=$1 subj=$2 iss=${3:-} pl=$4
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/$n.key" \
		-out "$WORK/$n.csr" -subj "$subj" 2>/dev/null
	printf 'basicConstraints=critical,CA:TRUE,pathlen:%s\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier=hash\n' \
		"$pl" >"$WORK/$n.ext"
	if [ -z "$iss" ]; then
		openssl x509 -req -in "$WORK/$n.csr" -signkey "$WORK/$n.key" -days 2 -out "$WORK/$n.pem" \
			-extfile "$WORK/$n.ext" 2>/dev/null
	else
		openssl x509 -req -in "$WORK/$n.csr" -CA "$WORK/$iss.pem" -CAkey "$WORK/$iss.key" \
			-CAcreateserial -days 2 -out "$WORK/$n.pem" -extfile "$WORK/$n.ext" 2>/dev/null
	fi
}
leaf() { # DIR CN SAN ISSUER ROOT [SUBJ]
	local d=$WORK/$1 cn=$2 san=$3 iss=$4 root=$5 subj=${6:-/CN=$2}
	mkdir -p "$d"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/key.pem" \
		-out "$d/req.csr" -subj "$subj" 2>/dev/null
	printf 'subjectAltName=DNS:%s\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=1.3.6.1.5.5.7.3.17\n' \
		"$san" >"$d/ext"
	openssl x509 -req -in "$d/req.csr" -CA "$WORK/$iss.pem" -CAkey "$WORK/$iss.key" \
		-CAcreateserial -days 1 -out "$d/cert.pem" -extfile "$d/ext" 2>/dev/null
	cp "$WORK/$iss.pem" "$d/chain.pem"
	cp "$WORK/$root.pem" "$d/ca.pem"
}
ca root /CN=root "" 1
ca sign /CN=signing root 0
ca evilroot /CN=root evilroot 1 2>/dev/null || true
ca evilroot /CN=root "" 1
ca evilsign /CN=signing evilroot 0
leaf c1 c1 c1 sign root
leaf c2 c2 c2 sign root
leaf c3as2 c3 c3 sign root		# a real cluster c3 that claims to be c2
leaf poser c2 c2 evilsign evilroot	# c2 by another CA (same names, other keys)
leaf c1new c1 c1 sign root /CN=c1/OU=renewed
openssl verify -CAfile "$WORK/root.pem" -untrusted "$WORK/sign.pem" "$WORK/c1/cert.pem" >/dev/null ||
	{ t_fail pki "openssl made a broken chain"; t_done; }
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/psk"

# ---- topology
ip netns add $NSA
ip netns add $NSB
ip -n $NSA link add ica type veth peer name icb netns $NSB
ip -n $NSA addr add 198.18.101.1/24 dev ica
ip -n $NSB addr add 198.18.101.2/24 dev icb
ip -n $NSA link add icpod type veth peer name icpod-p
ip -n $NSB link add icpod type veth peer name icpod-p
ip -n $NSA addr add 10.211.1.1/24 dev icpod
ip -n $NSB addr add 10.212.1.1/24 dev icpod
for ns in $NSA $NSB; do
	ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	for l in lo icpod icpod-p; do ip -n $ns link set $l up; done
done
ip -n $NSA link set ica up
ip -n $NSB link set icb up
wait_until 10 ip netns exec $NSA ping -c1 -W1 198.18.101.2 || { t_fail underlay; t_done; }

start_node() { # SIDE NS ID IP SUBNET RID RIP RSUBNET AUTH-ARGS...
	local s=$1 ns=$2; shift 2
	local id=$1 ip=$2 sub=$3 rid=$4 rip=$5 rsub=$6; shift 6
	rm -rf "$WORK/n$s"; mkdir -p "$WORK/n$s"
	ip netns exec "$ns" "$NODE" --dir "$WORK/n$s" --id "$id" --ip "$ip" --subnet "$sub" \
		--remote-id "$rid" --remote-ip "$rip" --remote-subnet "$rsub" "$@" \
		>"$WORK/n$s/node.log" 2>&1 &
	PIDS+=($!)
	eval "PID_$s=$!"
}
field() { sed -n "s/.*\b$2=\([^ ]*\).*/\1/p" "$WORK/n$1/status" 2>/dev/null | head -1; }
connected() { [ "$(field "$1" connected)" = 1 ]; }
stop_node() { local p; p=$(eval echo "\$PID_$1"); stop_pid "$p"; }
show_logs() {
	for s in a b; do
		echo "---- node $s"; tail -n 15 "$WORK/n$s/node.log" 2>/dev/null | sed 's/^/    /'
		echo "---- charon $s"; tail -n 25 "$WORK/n$s/charon.log" 2>/dev/null | sed 's/^/    /'
	done >&2
}
A=(a $NSA c1 198.18.101.1 10.211.1.0/24 c2 198.18.101.2 10.212.1.0/24)
B=(b $NSB c2 198.18.101.2 10.212.1.0/24 c1 198.18.101.1 10.211.1.0/24)

# ---- both with certificates from the same broker
start_node "${A[@]}" --cert-dir "$WORK/c1"
start_node "${B[@]}" --cert-dir "$WORK/c2"
if wait_until 40 connected a && wait_until 10 connected b; then t_pass tunnel_up; else show_logs; t_fail tunnel_up; fi
check ping_across ip netns exec $NSA ping -c 3 -i 0.2 -W 2 -I 10.211.1.1 10.212.1.1
# What charon did, from its own log: certificates went both ways inside IKE_AUTH, the
# peer's chain ended at our root, and the peer proved the key of its cluster's certificate.
LA=$WORK/na/charon.log LB=$WORK/nb/charon.log
check cert_payload_sent grep -q 'sending end entity cert "CN=c1"' "$LA"
check cert_payload_received grep -q 'received end entity cert "CN=c2"' "$LA"
check chain_to_root grep -q 'using trusted ca certificate "CN=root"' "$LA"
check peer_auth_ecdsa grep -Eq "authentication of 'c2' with ECDSA[^ ]* successful" "$LA"
check peer_auth_ecdsa_b grep -Eq "authentication of 'c1' with ECDSA[^ ]* successful" "$LB"
check_not no_psk_used grep -q 'pre-shared key' "$LA" "$LB"
grep -E "authentication of|end entity cert|trusted ca" "$LA" | head -6 | sed 's/^/     a: /' >&2

# ---- renewal: a new key and certificate, taken without dropping the tunnel; the next
# IKE_SA authenticates with it
cp "$WORK/c1new/key.pem" "$WORK/c1new/cert.pem" "$WORK/c1/"
ups=$(field a ups)
echo creds >"$WORK/na/ctl"
wait_until 10 grep -q "node: new credentials: ok" "$WORK/na/node.log" &&
	t_pass renewal_loaded || { show_logs; t_fail renewal_loaded; }
sleep 2
[ "$(field a ups)" = "$ups" ] && connected a && t_pass renewal_keeps_tunnel || { echo "ups $ups -> $(field a ups)"; cat "$WORK/na/status"; t_fail renewal_keeps_tunnel; }
echo disconnect >"$WORK/na/ctl"
wait_until 10 sh -c "! grep -q connected=1 '$WORK/nb/status'"
echo connect >"$WORK/na/ctl"
wait_until 40 connected a && wait_until 20 grep -q 'received end entity cert "CN=c1, OU=renewed"' "$LB" &&
	t_pass renewed_cert_authenticates || { show_logs; t_fail renewed_cert_authenticates; }
stop_node b

# refused NAME GREP-ON-A's-CHARON-LOG AUTH-ARGS-FOR-B...: b presents something a must refuse
refused() {
	local name=$1 why=$2; shift 2
	: >"$LA"
	start_node "${B[@]}" "$@"
	sleep 12
	if connected a || connected b; then
		show_logs; t_fail "$name" "the tunnel came up"
	elif ! grep -Eq "$why" "$LA" "$WORK/nb/charon.log"; then
		show_logs; t_fail "$name" "no '$why' in charon's log"
	else
		t_pass "$name"
	fi
	grep -E "$why" "$LA" "$WORK/nb/charon.log" | head -2 | sed 's/^/     /' >&2
	stop_node b
}
# a cluster c3 with its own valid certificate says it is c2: its certificate does not name c2
refused other_cluster_id "signature validation failed|no private key found for 'c2'|constraint check failed|no trusted" \
	--cert-dir "$WORK/c3as2"
# a certificate for c2 from another CA (another broker, or forged): no chain to our root
refused other_ca "no trusted .* public key found for 'c2'|no issuer certificate found|constraint check failed|certificate status is not available" \
	--cert-dir "$WORK/poser"
# the shared key of an older deployment: a holder of broker-info can no longer pose as c2
refused psk_only "(no|not) .*(pre-shared|shared key)|AUTHENTICATION_FAILED|peer requested .*failed|no trusted|authentication of 'c2' with pre-shared key .* failed|constraint" \
	--psk-file "$WORK/psk"
check a_still_waits_for_c2 sh -c "! grep -q 'authentication of .c3. .* successful' '$LA'"
stop_node a
check_not no_sanitizer_reports grep -q "Sanitizer\|runtime error" "$WORK"/na/node.log "$WORK"/nb/node.log

t_done
