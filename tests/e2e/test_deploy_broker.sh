#!/bin/bash
# subagent deploy-broker: directory layout, modes, certificate SANs (checked by openssl
# against the CA), the IKE signing CA, no PSK unless --psk, and clear refusals of bad flags.
set -eu
cd "$(dirname "$0")/../.."
S=$PWD/build/subagent
T=$(mktemp -d /tmp/sbc-e2e-deploy-XXXXXX)
trap 'rm -rf "$T"' EXIT
T_NAME=deploy-broker
. tests/lib.sh
mode() { stat -c %a "$1"; }

# expect_err NAME WANTED-SUBSTRING ARGS...: exit code 2 and the message names the problem.
expect_err() {
	local name=$1 want=$2 out rc; shift 2
	set +e
	out=$("$S" deploy-broker "$@" 2>&1); rc=$?
	set -e
	if [ "$rc" -eq 2 ] && grep -qF -- "$want" <<<"$out"; then t_pass "$name"
	else echo "  rc=$rc out=$out (wanted: $want)"; t_fail "$name"; fi
}

D=$T/broker
if "$S" deploy-broker --dir "$D" --listen 127.0.0.1:18443 \
	--url https://broker.example.org:8443,https://198.18.0.10:8443 --globalnet \
	--globalnet-cidr-range 243.0.0.0/16 --globalnet-cluster-size 1024 >"$T/out" 2>&1; then
	t_pass create
else
	cat "$T/out"; t_fail create
fi

ok=1
for f in ca.pem ca-key.pem ike-ca.pem ike-ca-key.pem tls.pem tls-key.pem admin.token join.token \
	config.json broker-info.subm; do
	[ -s "$D/$f" ] || { echo "  missing $f"; ok=0; }
done
for f in ca-key.pem ike-ca-key.pem tls-key.pem admin.token join.token broker-info.subm; do
	[ "$(mode "$D/$f")" = 600 ] || { echo "  $f has mode $(mode "$D/$f")"; ok=0; }
done
[ "$(mode "$D")" = 700 ] || { echo "  dir mode $(mode "$D")"; ok=0; }
[ ! -e "$D/psk" ] || { echo "  a psk without --psk"; ok=0; }
for f in admin.token join.token; do
	grep -qxE '[0-9a-f]{64}' "$D/$f" || { echo "  $f is not 64 hex chars"; ok=0; }
done
[ "$(cat "$D/admin.token")" != "$(cat "$D/join.token")" ] || ok=0
[ $ok = 1 ] && t_pass layout || t_fail layout

if jq -e '.listen == "127.0.0.1:18443" and .store == "sqlite" and
	.urls == ["https://broker.example.org:8443","https://198.18.0.10:8443"] and
	.globalnet == {"enabled":true,"cidrRange":"243.0.0.0/16","clusterSize":1024}' \
	"$D/config.json" >/dev/null; then t_pass config_json; else cat "$D/config.json"; t_fail config_json; fi

if jq -e --arg jt "$(cat "$D/join.token")" --rawfile ca "$D/ca.pem" \
	'.version == 1 and .joinToken == $jt and (.ike | has("psk") | not) and .ca == $ca and
	 .ike.natTPort == 4500 and .globalnet.clusterSize == 1024 and (.urls | length) == 2' \
	"$D/broker-info.subm" >/dev/null; then t_pass broker_info; else t_fail broker_info; fi

# the TLS certificate chains to the CA and names every URL host plus loopback
ok=1
openssl verify -CAfile "$D/ca.pem" "$D/tls.pem" >/dev/null || ok=0
for h in 127.0.0.1 198.18.0.10; do
	openssl verify -CAfile "$D/ca.pem" -verify_ip "$h" "$D/tls.pem" >/dev/null 2>&1 || { echo "  no SAN $h"; ok=0; }
done
for h in localhost broker.example.org; do
	openssl verify -CAfile "$D/ca.pem" -verify_hostname "$h" "$D/tls.pem" >/dev/null 2>&1 || { echo "  no SAN $h"; ok=0; }
done
openssl verify -CAfile "$D/ca.pem" -verify_ip 10.9.9.9 "$D/tls.pem" >/dev/null 2>&1 && ok=0
[ "$(openssl x509 -in "$D/tls.pem" -noout -pubkey | openssl md5)" = \
  "$(openssl pkey -in "$D/tls-key.pem" -pubout | openssl md5)" ] || { echo "  key mismatch"; ok=0; }
openssl x509 -in "$D/ca.pem" -noout -text | grep -q 'NIST CURVE: P-256' || { echo "  CA not P-256"; ok=0; }
[ $ok = 1 ] && t_pass tls_cert_sans || t_fail tls_cert_sans

# the IKE signing CA: a CA under the root that may sign end entities only (pathlen 0), its
# key apart from the root's
ok=1
openssl verify -CAfile "$D/ca.pem" "$D/ike-ca.pem" >/dev/null || { echo "  ike-ca does not chain"; ok=0; }
openssl x509 -in "$D/ike-ca.pem" -noout -text | grep -q 'CA:TRUE, pathlen:0' || { echo "  not pathlen 0"; ok=0; }
[ "$(openssl x509 -in "$D/ike-ca.pem" -noout -pubkey | openssl md5)" = \
  "$(openssl pkey -in "$D/ike-ca-key.pem" -pubout | openssl md5)" ] || { echo "  ike key mismatch"; ok=0; }
cmp -s "$D/ca-key.pem" "$D/ike-ca-key.pem" && { echo "  same key"; ok=0; }
[ $ok = 1 ] && t_pass ike_signing_ca || t_fail ike_signing_ca

# an existing non-empty directory is refused without --force, and regenerated with it
old=$(cat "$D/join.token")
set +e
out=$("$S" deploy-broker --dir "$D" --listen 127.0.0.1:18443 2>&1); rc=$?
set -e
[ $rc -ne 0 ] && grep -q "not empty" <<<"$out" && [ "$(cat "$D/join.token")" = "$old" ] &&
	t_pass refuses_nonempty || t_fail refuses_nonempty
"$S" deploy-broker --dir "$D" --listen 127.0.0.1:18443 --force >/dev/null 2>&1 &&
	[ "$(cat "$D/join.token")" != "$old" ] &&
	jq -e '.urls == ["https://127.0.0.1:18443"]' "$D/config.json" >/dev/null &&
	t_pass force || t_fail force

# --psk (an upgrade window): the shared key is back in broker-info; without it, --force over
# such a directory removes the key again
"$S" deploy-broker --dir "$T/p" --listen 127.0.0.1:18443 --psk >/dev/null &&
	grep -qxE '[0-9a-f]{64}' "$T/p/psk" && [ "$(mode "$T/p/psk")" = 600 ] &&
	jq -e --arg psk "$(cat "$T/p/psk")" '.ike.psk == $psk' "$T/p/broker-info.subm" >/dev/null &&
	t_pass psk_flag || t_fail psk_flag
"$S" deploy-broker --dir "$T/p" --listen 127.0.0.1:18443 --force >/dev/null &&
	[ ! -e "$T/p/psk" ] && jq -e '.ike | has("psk") | not' "$T/p/broker-info.subm" >/dev/null &&
	t_pass force_drops_psk || t_fail force_drops_psk

N=$T/n
expect_err no_dir "--dir DIR is required"
expect_err url_required "--url is required" --dir "$N"
expect_err bad_listen "--listen" --dir "$N" --listen 127.0.0.1
expect_err listen_name "must be an IP address" --dir "$N" --listen example.org:8443
expect_err http_url "is not an https://" --dir "$N" --url http://1.2.3.4:8443
expect_err bad_store "--store" --dir "$N" --listen 127.0.0.1:8443 --store mysql
expect_err bad_etcd "is not an etcd HOST:PORT" --dir "$N" --listen 127.0.0.1:8443 --store etcd://h1:2379,h2
expect_err etcd_needs_tls "needs --etcd-ca, --etcd-cert and --etcd-key" --dir "$N" --listen 127.0.0.1:8443 --store etcd://h1:2379
expect_err etcd_tls_needs_etcd "go with --store etcd://" --dir "$N" --listen 127.0.0.1:8443 --etcd-ca /etc/hostname
expect_err bad_cidr "not an IPv4 CIDR" --dir "$N" --listen 127.0.0.1:8443 --globalnet --globalnet-cidr-range 242.0.0.1/8
expect_err size_not_pow2 "power of two" --dir "$N" --listen 127.0.0.1:8443 --globalnet --globalnet-cluster-size 1000
expect_err size_too_big "larger than the range" --dir "$N" --listen 127.0.0.1:8443 --globalnet --globalnet-cidr-range 242.0.0.0/24 --globalnet-cluster-size 512
expect_err size_nan "not a number" --dir "$N" --listen 127.0.0.1:8443 --globalnet --globalnet-cluster-size 12x
expect_err gn_flag_needs_gn "need --globalnet" --dir "$N" --listen 127.0.0.1:8443 --globalnet-cluster-size 1024
expect_err unknown_flag "unknown option" --dir "$N" --bogus
expect_err stray_arg "unexpected argument" --dir "$N" extra
[ ! -e "$N" ] && t_pass bad_flags_create_nothing || t_fail bad_flags_create_nothing
"$S" deploy-broker --help | grep -q "Usage: subagent deploy-broker" && t_pass help || t_fail help

# the etcd store (its TLS files copied, the key 0600) and IPv6 listen forms are accepted
printf 'ca\n' >"$T/eca.pem"; printf 'cert\n' >"$T/ecert.pem"; printf 'key\n' >"$T/ekey.pem"
"$S" deploy-broker --dir "$T/e" --listen '[::1]:8443' --store etcd://127.0.0.1:2379,127.0.0.1:22379 \
	--etcd-ca "$T/eca.pem" --etcd-cert "$T/ecert.pem" --etcd-key "$T/ekey.pem" >/dev/null &&
	jq -e '.store == "etcd://127.0.0.1:2379,127.0.0.1:22379" and .urls == ["https://[::1]:8443"]' "$T/e/config.json" >/dev/null &&
	openssl verify -CAfile "$T/e/ca.pem" -verify_ip ::1 "$T/e/tls.pem" >/dev/null 2>&1 &&
	[ "$(cat "$T/e/etcd-client-key.pem")" = key ] && [ "$(stat -c %a "$T/e/etcd-client-key.pem")" = 600 ] &&
	t_pass etcd_ipv6 || t_fail etcd_ipv6
"$S" deploy-broker --dir "$T/e2" --listen 127.0.0.1:8443 --store etcd+http://127.0.0.1:2379 >/dev/null &&
	jq -e '.store == "etcd+http://127.0.0.1:2379"' "$T/e2/config.json" >/dev/null &&
	t_pass etcd_plain_http_when_asked || t_fail etcd_plain_http_when_asked

t_done
