#!/bin/bash
# IKE certificate signing by the broker (deploy-broker's state, a real `subagent broker` on
# loopback, SQLite): N requests of a registered cluster's gateway (a fresh ECDSA P-256 key
# and request each, made by openssl beforehand) timed from the request to the signed
# certificate (curl's total time, TLS handshake included); median and p90. What a gateway
# waits for at start and at every renewal. Not a pass/fail test. N (default 50).
set -u
cd "$(dirname "$0")/../.."
S=$PWD/build/subagent
T=$(mktemp -d /tmp/sa-bench-ikecert-XXXXXX)
BIN=$S T_NAME=bench_ike_cert
. tests/e2e/broker_lib.sh
trap 'brk_cleanup; rm -rf "$T"' EXIT
N=${N:-50}

P=$(free_port)
"$S" deploy-broker --dir "$T/b" --listen "127.0.0.1:$P" >/dev/null
brk_start_dir "$T/b" || { echo "broker did not start"; exit 1; }
CA=$T/b/ca.pem URL=https://127.0.0.1:$P
req POST "$API/clusters" "$(cat "$T/b/join.token")" "$(cluster_json c1 10.1.0.0/16 10.96.0.0/16)"
TOK=$(out .credential.token)
for i in $(seq "$N"); do
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
		-out "$T/$i.csr" -subj /CN=c1 -addext subjectAltName=DNS:c1 2>/dev/null
	jq -cn --rawfile r "$T/$i.csr" '{kind:"IKECertificateRequest",spec:{clusterID:"c1",request:$r}}' >"$T/$i.json"
done
for i in $(seq "$N"); do
	curl -sS -o "$T/out" -w '%{http_code} %{time_total}\n' --cacert "$CA" -H "Authorization: Bearer $TOK" \
		-H 'Content-Type: application/json' --data-binary "@$T/$i.json" "$URL$API/ikecertificates"
done >"$T/times"
bad=$(awk '$1 != 201' "$T/times" | wc -l)
sort -k2 -n "$T/times" | awk -v n="$N" -v bad="$bad" '{t[NR] = $2 * 1000}
	END { printf "IKE certificate signing, %d requests (%d not 201): median %.1f ms, p90 %.1f ms, max %.1f ms\n",
		n, bad, t[int((NR + 1) / 2)], t[int(NR * 0.9)], t[NR] }'
