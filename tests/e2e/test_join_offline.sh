#!/bin/bash
# subagent join / leave failures that need no broker: flag validation, unreadable or
# malformed broker-info, an unreachable broker, a TLS server whose certificate is from
# another CA (a real `openssl s_server`), and leave against a dead broker (kept unless
# --force). Each failure must leave no configuration behind.
set -eu
cd "$(dirname "$0")/../.."
S=$PWD/build/subagent
T=$(mktemp -d /tmp/sbc-e2e-joinoff-XXXXXX)
BIN=$S T_NAME=join-offline
. tests/e2e/broker_lib.sh
SPID=
# shellcheck disable=SC2317  # called through the trap
cleanup() {
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

P=$(free_port)
"$S" deploy-broker --dir "$T/b" --listen "127.0.0.1:$P" >/dev/null
"$S" deploy-broker --dir "$T/other" --listen "127.0.0.1:$P" >/dev/null
INFO=$T/b/broker-info.subm
ARGS=(--clusterid c1 --clustercidr 10.1.0.0/16 --servicecidr 10.96.0.0/16 --config-dir "$T/c1")

expect() {	# NAME RC TEXT CMD...
	local name=$1 want_rc=$2 want=$3 rc; shift 3
	set +e
	timeout 20 "$@" >"$T/out" 2>&1; rc=$?
	set -e
	if [ "$rc" = "$want_rc" ] && grep -qE -- "$want" "$T/out" && [ ! -e "$T/c1" ]; then
		t_pass "$name"
	else
		echo "  rc=$rc (wanted $want_rc):"; sed 's/^/    /' "$T/out"; t_fail "$name"
	fi
}

expect no_info 2 "BROKER-INFO .* is required" "$S" join "${ARGS[@]}"
expect no_id 2 "--clusterid ID is required" "$S" join "$INFO" --clustercidr 10.1.0.0/16 --servicecidr 10.96.0.0/16 --config-dir "$T/c1"
expect bad_id 2 "is not valid" "$S" join "$INFO" --clusterid -c1 --clustercidr 10.1.0.0/16 --servicecidr 10.96.0.0/16 --config-dir "$T/c1"
expect long_id 2 "is not valid" "$S" join "$INFO" --clusterid "$(printf 'a%.0s' {1..64})" --clustercidr 10.1.0.0/16 --servicecidr 10.96.0.0/16 --config-dir "$T/c1"
expect no_servicecidr 2 "--servicecidr CIDR is required" "$S" join "$INFO" --clusterid c1 --clustercidr 10.1.0.0/16 --config-dir "$T/c1"
expect bad_cidr 2 "not an IPv4 CIDR" "$S" join "$INFO" --clusterid c1 --clustercidr 10.1.0.0/33 --servicecidr 10.96.0.0/16 --config-dir "$T/c1"
expect own_overlap 2 "overlaps" "$S" join "$INFO" --clusterid c1 --clustercidr 10.1.0.0/16,10.1.2.0/24 --servicecidr 10.96.0.0/16 --config-dir "$T/c1"
expect bad_cable 2 "neither ipsec nor vxlan" "$S" join "$INFO" "${ARGS[@]}" --cable-driver gre
expect unknown_flag 2 "unknown option" "$S" join "$INFO" "${ARGS[@]}" --bogus
expect missing_info 1 "Read broker-info: read .*No such file" "$S" join "$T/none.subm" "${ARGS[@]}"
echo '{"version":1,' >"$T/trunc.subm"
expect truncated_info 1 "Read broker-info: .*not valid JSON" "$S" join "$T/trunc.subm" "${ARGS[@]}"
jq '.version = 7' "$INFO" >"$T/v7.subm"
expect future_version 1 "unsupported version 7" "$S" join "$T/v7.subm" "${ARGS[@]}"
jq '.urls = ["http://127.0.0.1:1"]' "$INFO" >"$T/http.subm"
expect http_url 1 "https://" "$S" join "$T/http.subm" "${ARGS[@]}"
expect unreachable 1 "cannot reach the broker at https://127.0.0.1:$P" "$S" join "$INFO" "${ARGS[@]}"

# a live TLS server with a certificate from another CA: refused before any request
openssl s_server -quiet -accept "127.0.0.1:$P" -cert "$T/other/tls.pem" -key "$T/other/tls-key.pem" \
	-WWW </dev/null >"$T/s_server.log" 2>&1 &
SPID=$!
for _ in $(seq 1 50); do ss -Hltn "sport = :$P" | grep -q . && break; sleep 0.1; done
expect wrong_ca 1 "is not trusted: it does not chain to the CA in broker-info" "$S" join "$INFO" "${ARGS[@]}"
kill "$SPID"; wait "$SPID" 2>/dev/null || true; SPID=

# the right CA, read by curl from join's in-memory copy; the first URL is dead, the second
# answers /whoami (s_server -WWW serves files; it cannot take the POST that follows, so the
# join is cut short by `timeout` after the reachability step, registering nothing)
mkdir -p "$T/www/apis/subagent.io/v1"
echo '{"kind":"WhoAmI","identity":"join","remoteAddr":"127.0.0.1"}' >"$T/www/apis/subagent.io/v1/whoami"
(cd "$T/www" && exec openssl s_server -quiet -accept "127.0.0.1:$P" -cert "$T/b/tls.pem" \
	-key "$T/b/tls-key.pem" -WWW </dev/null >/dev/null 2>&1) &
SPID=$!
for _ in $(seq 1 50); do ss -Hltn "sport = :$P" | grep -q . && break; sleep 0.1; done
DEAD=$(free_port)
jq --arg d "https://127.0.0.1:$DEAD" --arg u "https://127.0.0.1:$P" '.urls = [$d, $u]' "$INFO" >"$T/two.subm"
set +e
timeout 4 "$S" join "$T/two.subm" "${ARGS[@]}" >"$T/out" 2>&1
set -e
grep -q "Broker reachable (https://127.0.0.1:$P, it sees this host as 127.0.0.1)" "$T/out" && [ ! -e "$T/c1" ] &&
	t_pass reachable_with_failover || { cat "$T/out"; t_fail reachable_with_failover; }
kill "$SPID"; wait "$SPID" 2>/dev/null || true; SPID=

# a configuration directory already holding another cluster is refused
mkdir -p "$T/c9"
jq -n --arg u "https://127.0.0.1:$P" '{clusterID:"c9",brokerURLs:[$u],clusterCIDRs:["10.9.0.0/16"],
	serviceCIDRs:["10.99.0.0/16"],globalCIDRs:[],cableDriver:"ipsec",
	ike:{ikeProposals:"aes256gcm16-prfsha256-ecp256",espProposals:"aes256gcm16-ecp256",natTPort:4500},
	globalnet:{enabled:false,cidrRange:"242.0.0.0/8",clusterSize:65536}}' >"$T/c9/cluster.json"
cp "$T/b/ca.pem" "$T/c9/ca.pem"
install -m 600 /dev/null "$T/c9/token"; printf '%064d' 7 >"$T/c9/token"
set +e
"$S" join "$INFO" --clusterid c1 --clustercidr 10.1.0.0/16 --servicecidr 10.96.0.0/16 --config-dir "$T/c9" >"$T/out" 2>&1; rc=$?
set -e
[ $rc = 1 ] && grep -q "already holds the configuration of cluster c9" "$T/out" &&
	[ "$(jq -r .clusterID "$T/c9/cluster.json")" = c9 ] && t_pass other_cluster_dir || { cat "$T/out"; t_fail other_cluster_dir; }

# leave: a dead broker keeps the configuration; --force deletes it
set +e
timeout 20 "$S" leave --config-dir "$T/c9" >"$T/out" 2>&1; rc=$?
set -e
[ $rc = 1 ] && grep -q "cannot reach the broker" "$T/out" && [ -e "$T/c9/token" ] && t_pass leave_dead_broker_keeps ||
	{ cat "$T/out"; t_fail leave_dead_broker_keeps; }
set +e
timeout 20 "$S" leave --config-dir "$T/c9" --force >"$T/out" 2>&1; rc=$?
set -e
[ ! -e "$T/c9" ] && grep -q "Deleted the configuration" "$T/out" && t_pass leave_force || { cat "$T/out"; t_fail leave_force; }
set +e
"$S" leave --config-dir "$T/c9" >"$T/out" 2>&1; rc=$?
set -e
[ $rc = 1 ] && grep -q "holds no cluster configuration" "$T/out" && t_pass leave_nothing || t_fail leave_nothing
"$S" join --help | grep -q "Usage: subagent join" && "$S" leave --help | grep -q "Usage: subagent leave" &&
	t_pass help || t_fail help

t_done
