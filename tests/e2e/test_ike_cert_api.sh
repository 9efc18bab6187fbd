#!/bin/bash
# The broker signs IKE certificates (POST /apis/subagent.io/v1/ikecertificates) against a
# real `subagent broker` made by deploy-broker: a cluster's token gets a short-lived
# certificate for its own cluster ID only, chaining to the root through the IKE signing CA
# (checked by openssl); every other identity, request and key is refused with a reason;
# a deleted cluster gets nothing more; a broker directory from before certificates
# answers 501.
set -eu
cd "$(dirname "$0")/../.."
S=$PWD/build/subagent
T=$(mktemp -d /tmp/sbc-e2e-ikecert-XXXXXX)
BIN=$S T_NAME=ike_cert_api
. tests/e2e/broker_lib.sh
trap 'brk_cleanup; rm -rf "$T"' EXIT

P=$(free_port)
B=$T/broker
"$S" deploy-broker --dir "$B" --listen "127.0.0.1:$P" >/dev/null
brk_start_dir "$B" || { cat "$B/broker.log"; t_fail broker_start; t_done; }
CA=$B/ca.pem URL=https://127.0.0.1:$P
ADMIN=$(cat "$B/admin.token") JOIN=$(cat "$B/join.token")

req POST "$API/clusters" "$JOIN" "$(cluster_json c1 10.1.0.0/16 10.96.0.0/16)"
TOK1=$(out .credential.token)
req POST "$API/clusters" "$JOIN" "$(cluster_json c2 10.2.0.0/16 10.97.0.0/16)"
TOK2=$(out .credential.token)
[ ${#TOK1} = 64 ] && [ ${#TOK2} = 64 ] || { t_fail register; t_done; }

# csr NAME SUBJ [openssl req args...]: a key and a request under $T/NAME.*
csr() {
	local n=$1 subj=$2; shift 2
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/$n.key" \
		-out "$T/$n.csr" -subj "$subj" "$@" 2>/dev/null
}
body() { # CLUSTERID CSR-FILE
	jq -cn --arg c "$1" --rawfile r "$2" \
		'{apiVersion:"subagent.io/v1",kind:"IKECertificateRequest",spec:{clusterID:$c,request:$r}}'
}

# ---- a cluster gets its own certificate
csr c1 /CN=c1 -addext subjectAltName=DNS:c1
req POST "$API/ikecertificates" "$TOK1" "$(body c1 "$T/c1.csr")"
out .status.certificate >"$T/c1.crt"
out .status.chain >"$T/chain.pem"
check signs_own_cluster [ "$CODE" = 201 -a "$(out .kind)" = IKECertificate -a "$(out .spec.clusterID)" = c1 ]
check chains_to_root openssl verify -CAfile "$B/ca.pem" -untrusted "$T/chain.pem" "$T/c1.crt"
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256; }
check chain_is_signing_ca [ "$(fp "$T/chain.pem")" = "$(fp "$B/ike-ca.pem")" ]
check_not root_alone_is_not_enough openssl verify -CAfile "$B/ca.pem" "$T/c1.crt"
openssl x509 -in "$T/c1.crt" -noout -text >"$T/c1.txt"
check san_is_cluster_id grep -q 'DNS:c1$' "$T/c1.txt"
check eku_ipsec_ike grep -qi 'ipsec Internet Key Exchange\|1.3.6.1.5.5.7.3.17' "$T/c1.txt"
check key_usage_signature grep -A1 'X509v3 Key Usage' "$T/c1.txt"
check_not not_a_ca grep -q 'CA:TRUE' "$T/c1.txt"
# the key stayed here: the certificate carries the public half of the key we made
check same_key [ "$(openssl x509 -in "$T/c1.crt" -noout -pubkey | openssl md5)" = \
	"$(openssl pkey -in "$T/c1.key" -pubout | openssl md5)" ]
life=$(( $(date -d "$(out .status.notAfter)" +%s) - $(date +%s) ))
echo "  lifetime left: $life s" >&2
check short_lifetime [ "$life" -gt 11 -a "$life" -le 43200 ]
check not_after_matches [ "$(date -d "$(openssl x509 -in "$T/c1.crt" -noout -enddate | cut -d= -f2)" +%s)" = \
	"$(date -d "$(out .status.notAfter)" +%s)" ]

# ---- refusals, each with a reason, none issuing anything
req POST "$API/ikecertificates" "$TOK1" "$(body c2 "$T/c1.csr")"
check other_cluster_403 [ "$CODE" = 403 ]
check other_cluster_reason grep -q "may not ask for cluster c2" "$T/out"
csr c2 /CN=c2
req POST "$API/ikecertificates" "$TOK1" "$(body c1 "$T/c2.csr")"
check csr_names_other_403 [ "$CODE" = 403 ]
check csr_names_other_reason grep -q "names c2, not cluster c1" "$T/out"
csr san /CN=c1 -addext subjectAltName=DNS:c1,DNS:c2
req POST "$API/ikecertificates" "$TOK1" "$(body c1 "$T/san.csr")"
check extra_san_422 [ "$CODE" = 422 ]
check extra_san_reason grep -q "subjectAltNames must be the DNS name c1 only" "$T/out"
csr org /O=evil/CN=c1
req POST "$API/ikecertificates" "$TOK1" "$(body c1 "$T/org.csr")"
check extra_dn_422 [ "$CODE" = 422 ]
openssl req -new -newkey rsa:2048 -nodes -keyout "$T/rsa.key" -out "$T/rsa.csr" -subj /CN=c1 2>/dev/null
req POST "$API/ikecertificates" "$TOK1" "$(body c1 "$T/rsa.csr")"
check rsa_key_422 [ "$CODE" = 422 ]
check rsa_key_reason grep -q "use ECDSA P-256 or P-384" "$T/out"
# one character of the public key changed: the self-signature no longer holds
awk 'NR == 3 { c = substr($0, 9, 1); $0 = substr($0, 1, 8) (c == "A" ? "B" : "A") substr($0, 10) } 1' \
	"$T/c1.csr" >"$T/bad.csr"
req POST "$API/ikecertificates" "$TOK1" "$(body c1 "$T/bad.csr")"
check tampered_422 [ "$CODE" = 422 ]
req POST "$API/ikecertificates" "$TOK1" '{"kind":"IKECertificateRequest","spec":{"clusterID":"c1"}}'
check missing_request_422 [ "$CODE" = 422 ]
req POST "$API/ikecertificates" "$TOK1" '{"kind":"Endpoint","spec":{}}'
check wrong_kind_422 [ "$CODE" = 422 ]
req POST "$API/ikecertificates" "$JOIN" "$(body c1 "$T/c1.csr")"
check join_token_403 [ "$CODE" = 403 ]
req POST "$API/ikecertificates" "" "$(body c1 "$T/c1.csr")"
check no_token_401 [ "$CODE" = 401 ]
req GET "$API/ikecertificates" "$TOK1"
check get_405 [ "$CODE" = 405 ]
req POST "$API/ikecertificates" "$ADMIN" "$(body c2 "$T/c2.csr")"
check admin_may_sign [ "$CODE" = 201 -a "$(out .spec.clusterID)" = c2 ]
check refusals_logged_nothing_issued [ "$(grep -c 'issued an IKE certificate' "$B/broker.log")" = 2 ]

# ---- a deleted cluster: its token is revoked with it, no certificate any more
req DELETE "$API/clusters/c1" "$ADMIN"
req POST "$API/ikecertificates" "$TOK1" "$(body c1 "$T/c1.csr")"
check deleted_cluster_401 [ "$CODE" = 401 ]
req POST "$API/ikecertificates" "$ADMIN" "$(body c1 "$T/c1.csr")"
check deleted_cluster_admin_403 [ "$CODE" = 403 ]
check deleted_cluster_reason grep -q "cluster c1 is not registered" "$T/out"
brk_cleanup

# ---- a broker directory from before certificates: no signing, said so
rm "$B/ike-ca.pem" "$B/ike-ca-key.pem"
: >"$B/broker.log"
brk_start_dir "$B" || { cat "$B/broker.log"; t_fail old_dir_start; t_done; }
req POST "$API/ikecertificates" "$TOK2" "$(body c2 "$T/c2.csr")"
check old_dir_501 [ "$CODE" = 501 ]
check old_dir_warns grep -q "signs no IKE certificates" "$B/broker.log"
brk_cleanup

# ---- a signing key that does not match its certificate stops the broker
cp "$B/ca-key.pem" "$B/ike-ca-key.pem"
"$S" deploy-broker --dir "$T/b2" --listen "127.0.0.1:$P" >/dev/null
cp "$T/b2/ike-ca.pem" "$B/ike-ca.pem"
set +e
timeout 10 "$S" broker --dir "$B" >"$T/bad.log" 2>&1; rc=$?
set -e
check mismatched_key_refused [ "$rc" != 0 -a "$rc" != 124 ]
check mismatched_key_reason grep -q "do not belong together" "$T/bad.log"

t_done
