#!/bin/bash
# subagent join / leave against a real `subagent broker`: registration, configuration
# directory, idempotent re-join, refusals that register nothing (bad broker-info, broker
# unreachable, wrong CA, invalid or taken ID, overlapping CIDRs), URL failover, globalnet
# allocation, and leave (cascade + token revocation).
set -eu
cd "$(dirname "$0")/../.."
S=$PWD/build/subagent
T=$(mktemp -d /tmp/sbc-e2e-join-XXXXXX)
BIN=$S T_NAME=join
. tests/e2e/broker_lib.sh
trap 'brk_cleanup; rm -rf "$T"' EXIT

if ! has_broker; then
	echo "SKIP: join (this build has no 'subagent broker' command yet)"
	exit 0
fi

# run NAME-OF-OUTPUT-FILE CMD...: runs, keeps output, returns the exit code.
run() { local out=$1; shift; set +e; "$@" >"$T/$out" 2>&1; local rc=$?; set -e; return $rc; }
code_of() { tail -n 1; }

P=$(free_port)
B=$T/broker
"$S" deploy-broker --dir "$B" --listen "127.0.0.1:$P" >/dev/null
brk_start_dir "$B"
ADMIN=$(cat "$B/admin.token")
INFO=$B/broker-info.subm
J=("$S" join "$INFO")

# --- a first join
if run j1 "${J[@]}" --clusterid c1 --clustercidr 10.1.0.0/16 --servicecidr 10.96.0.0/16 \
	--config-dir "$T/c1" &&
	grep -q "Read broker-info" "$T/j1" && grep -q "Broker reachable (https://127.0.0.1:$P" "$T/j1" &&
	grep -q "Registered cluster c1" "$T/j1" && grep -q "Wrote configuration to $T/c1" "$T/j1"; then
	t_pass register
else
	cat "$T/j1"; t_fail register
fi
ok=1
for f in cluster.json ca.pem token; do [ -s "$T/c1/$f" ] || ok=0; done
[ "$(stat -c %a "$T/c1/token")" = 600 ] || ok=0
[ ! -e "$T/c1/psk" ] || { echo "  a psk from a broker without --psk"; ok=0; }
grep -q "IKE authentication: per-cluster certificates" "$T/j1" || ok=0
grep -qxE '[0-9a-f]{64}' "$T/c1/token" || ok=0
cmp -s "$T/c1/ca.pem" "$B/ca.pem" || ok=0
jq -e --arg u "https://127.0.0.1:$P" '.clusterID == "c1" and .brokerURLs == [$u] and
	.clusterCIDRs == ["10.1.0.0/16"] and .serviceCIDRs == ["10.96.0.0/16"] and
	.cableDriver == "ipsec" and .ike.natTPort == 4500 and .globalnet.enabled == false and
	(.registrationUID | test("^[0-9a-f-]{36}$"))' \
	"$T/c1/cluster.json" >/dev/null || ok=0
[ $ok = 1 ] && t_pass config_dir || { cat "$T/c1/cluster.json"; t_fail config_dir; }
TOK1=$(cat "$T/c1/token")

out=$(api "$B" "$ADMIN" GET /apis/subagent.io/v1/clusters/c1)
[ "$(code_of <<<"$out")" = 200 ] &&
	head -n -1 <<<"$out" | jq -e '.spec.clusterID == "c1" and .spec.clusterCIDRs == ["10.1.0.0/16"]' >/dev/null &&
	t_pass broker_has_c1 || { echo "$out"; t_fail broker_has_c1; }
out=$(api "$B" "$TOK1" GET /apis/subagent.io/v1/whoami)
head -n -1 <<<"$out" | jq -e '.identity == "cluster:c1"' >/dev/null && t_pass cluster_token_works ||
	{ echo "$out"; t_fail cluster_token_works; }

# --- re-join with the same ID and directory: idempotent, same credential, spec updated
if run j1b "${J[@]}" --clusterid c1 --clustercidr 10.1.0.0/16 --servicecidr 10.97.0.0/16 \
	--config-dir "$T/c1" && grep -q "Updated cluster c1" "$T/j1b" &&
	[ "$(cat "$T/c1/token")" = "$TOK1" ] &&
	jq -e '.serviceCIDRs == ["10.97.0.0/16"]' "$T/c1/cluster.json" >/dev/null &&
	api "$B" "$ADMIN" GET /apis/subagent.io/v1/clusters/c1 | head -n -1 |
		jq -e '.spec.serviceCIDRs == ["10.97.0.0/16"]' >/dev/null; then
	t_pass rejoin_idempotent
else
	cat "$T/j1b"; t_fail rejoin_idempotent
fi
n_clusters() { api "$B" "$ADMIN" GET /apis/subagent.io/v1/clusters | head -n -1 | jq '.items | length'; }
[ "$(n_clusters)" = 1 ] && t_pass rejoin_no_duplicate || t_fail rejoin_no_duplicate

# --- refusals: each fails clearly and registers nothing
expect_fail() {	# NAME WANTED-RC WANTED-TEXT DIR JOIN-ARGS...
	local name=$1 want_rc=$2 want=$3 dir=$4 rc; shift 4
	set +e
	"$@" >"$T/$name.out" 2>&1; rc=$?
	set -e
	if [ "$rc" = "$want_rc" ] && grep -qiE -- "$want" "$T/$name.out" && [ ! -e "$dir" ] &&
		[ "$(n_clusters)" = 1 ]; then
		t_pass "$name"
	else
		echo "  rc=$rc (wanted $want_rc), output:"; sed 's/^/    /' "$T/$name.out"; t_fail "$name"
	fi
}
expect_fail taken_id 1 "cluster ID c1 is taken" "$T/c1-again" \
	"${J[@]}" --clusterid c1 --clustercidr 10.50.0.0/16 --servicecidr 10.51.0.0/16 --config-dir "$T/c1-again"
expect_fail overlap 1 "c1" "$T/c2" \
	"${J[@]}" --clusterid c2 --clustercidr 10.1.128.0/17 --servicecidr 10.98.0.0/16 --config-dir "$T/c2"
expect_fail overlap_service 1 "c1" "$T/c2" \
	"${J[@]}" --clusterid c2 --clustercidr 10.2.0.0/16 --servicecidr 10.97.0.0/24 --config-dir "$T/c2"
expect_fail invalid_id 2 "not valid" "$T/c2" \
	"${J[@]}" --clusterid C_2 --clustercidr 10.2.0.0/16 --servicecidr 10.98.0.0/16 --config-dir "$T/c2"
expect_fail bad_cidr 2 "not an IPv4 CIDR" "$T/c2" \
	"${J[@]}" --clusterid c2 --clustercidr 10.2.0.1/16 --servicecidr 10.98.0.0/16 --config-dir "$T/c2"
expect_fail self_overlap 2 "overlaps" "$T/c2" \
	"${J[@]}" --clusterid c2 --clustercidr 10.2.0.0/16 --servicecidr 10.2.1.0/24 --config-dir "$T/c2"
expect_fail gn_off 1 "globalnet" "$T/c2" \
	"${J[@]}" --clusterid c2 --clustercidr 10.2.0.0/16 --servicecidr 10.98.0.0/16 --globalnet-cidr 242.1.0.0/16 --config-dir "$T/c2"
expect_fail missing_info 1 "Read broker-info.*No such file" "$T/c2" \
	"$S" join "$T/nope.subm" --clusterid c2 --clustercidr 10.2.0.0/16 --servicecidr 10.98.0.0/16 --config-dir "$T/c2"
jq '.joinToken = "xyz"' "$INFO" >"$T/bad.subm"
expect_fail malformed_info 1 "joinToken" "$T/c2" \
	"$S" join "$T/bad.subm" --clusterid c2 --clustercidr 10.2.0.0/16 --servicecidr 10.98.0.0/16 --config-dir "$T/c2"
DEAD=$(free_port)
jq --arg u "https://127.0.0.1:$DEAD" '.urls = [$u]' "$INFO" >"$T/dead.subm"
expect_fail unreachable 1 "cannot reach the broker" "$T/c2" \
	"$S" join "$T/dead.subm" --clusterid c2 --clustercidr 10.2.0.0/16 --servicecidr 10.98.0.0/16 --config-dir "$T/c2"
"$S" deploy-broker --dir "$T/other" --listen "127.0.0.1:$P" >/dev/null
jq --rawfile ca "$T/other/ca.pem" '.ca = $ca' "$INFO" >"$T/wrongca.subm"
expect_fail wrong_ca 1 "not trusted" "$T/c2" \
	"$S" join "$T/wrongca.subm" --clusterid c2 --clustercidr 10.2.0.0/16 --servicecidr 10.98.0.0/16 --config-dir "$T/c2"
jq --arg t "$(cat "$T/other/join.token")" '.joinToken = $t' "$INFO" >"$T/wrongtok.subm"
expect_fail wrong_token 1 "Contact the broker" "$T/c2" \
	"$S" join "$T/wrongtok.subm" --clusterid c2 --clustercidr 10.2.0.0/16 --servicecidr 10.98.0.0/16 --config-dir "$T/c2"

# --- failover: the first URL is dead, the second one registers
jq --arg d "https://127.0.0.1:$DEAD" --arg u "https://127.0.0.1:$P" '.urls = [$d, $u]' "$INFO" >"$T/two.subm"
if run j2 "$S" join "$T/two.subm" --clusterid c2 --clustercidr 10.2.0.0/16 --servicecidr 10.98.0.0/16 \
	--cable-driver vxlan --config-dir "$T/c2" &&
	grep -q "Broker reachable (https://127.0.0.1:$P" "$T/j2" &&
	jq -e '.brokerURLs | length == 2' "$T/c2/cluster.json" >/dev/null &&
	jq -e '.cableDriver == "vxlan"' "$T/c2/cluster.json" >/dev/null; then
	t_pass failover
else
	cat "$T/j2"; t_fail failover
fi

# --- leave: the cluster, its objects and its token go; the directory goes
TOK2=$(cat "$T/c2/token")
EP='{"apiVersion":"subagent.io/v1","kind":"Endpoint","metadata":{"name":"c2.n1"},"spec":{"clusterID":"c2","hostname":"n1","privateIP":"192.168.2.10","publicIP":"198.18.2.10","natTPort":4500,"subnets":["10.2.0.0/16","10.98.0.0/16"],"cableDriver":"vxlan","healthCheckIP":"10.2.0.1","epoch":1,"backend":{}}}'
code=$(api "$B" "$TOK2" POST /apis/subagent.io/v1/endpoints "$EP" | code_of)
[ "$code" = 201 ] || echo "  (creating an endpoint for c2 answered $code)"
if run l2 "$S" leave --config-dir "$T/c2" && grep -q "Removed cluster c2" "$T/l2" && [ ! -e "$T/c2" ]; then
	t_pass leave
else
	cat "$T/l2"; t_fail leave
fi
[ "$(api "$B" "$ADMIN" GET /apis/subagent.io/v1/clusters/c2 | code_of)" = 404 ] && t_pass leave_removed_cluster || t_fail leave_removed_cluster
[ "$(api "$B" "$ADMIN" GET /apis/subagent.io/v1/endpoints/c2.n1 | code_of)" = 404 ] && t_pass leave_cascade || t_fail leave_cascade
[ "$(api "$B" "$TOK2" GET /apis/subagent.io/v1/whoami | code_of)" = 401 ] && t_pass leave_revokes_token || t_fail leave_revokes_token
run l2b "$S" leave --config-dir "$T/c2" && t_fail leave_twice || { grep -q "no cluster configuration" "$T/l2b" && t_pass leave_twice || t_fail leave_twice; }
# the ID is free again
run j2c "$S" join "$INFO" --clusterid c2 --clustercidr 10.2.0.0/16 --servicecidr 10.98.0.0/16 --config-dir "$T/c2" &&
	t_pass rejoin_after_leave || { cat "$T/j2c"; t_fail rejoin_after_leave; }

# --- a cluster removed at the broker behind our back: re-join explains, leave --force cleans
api "$B" "$ADMIN" DELETE /apis/subagent.io/v1/clusters/c2 >/dev/null
run j2d "$S" join "$INFO" --clusterid c2 --clustercidr 10.2.0.0/16 --servicecidr 10.98.0.0/16 --config-dir "$T/c2" &&
	t_fail stale_token || { grep -q "refused the token" "$T/j2d" && t_pass stale_token || { cat "$T/j2d"; t_fail stale_token; }; }
run l2e "$S" leave --config-dir "$T/c2" && t_fail leave_stale_needs_force || t_pass leave_stale_needs_force
{ [ -e "$T/c2/token" ] && run l2f "$S" leave --config-dir "$T/c2" --force; } || true
[ ! -e "$T/c2" ] && t_pass leave_force || t_fail leave_force

# --- globalnet: overlapping clusters join, each gets its own global CIDR
GP=$(free_port)
G=$T/gbroker
"$S" deploy-broker --dir "$G" --listen "127.0.0.1:$GP" --globalnet --globalnet-cidr-range 242.0.0.0/16 \
	--globalnet-cluster-size 4096 >/dev/null
brk_start_dir "$G"
if run jg1 "$S" join "$G/broker-info.subm" --clusterid g1 --clustercidr 10.1.0.0/16 --servicecidr 10.96.0.0/16 --config-dir "$T/g1" &&
	run jg2 "$S" join "$G/broker-info.subm" --clusterid g2 --clustercidr 10.1.0.0/16 --servicecidr 10.96.0.0/16 --config-dir "$T/g2"; then
	a=$(jq -r '.globalCIDRs[0]' "$T/g1/cluster.json")
	b=$(jq -r '.globalCIDRs[0]' "$T/g2/cluster.json")
	if [[ "$a" == 242.0.*/20 && "$b" == 242.0.*/20 && "$a" != "$b" ]]; then t_pass globalnet; else echo "  $a $b"; t_fail globalnet; fi
else
	cat "$T/jg1" "$T/jg2" 2>/dev/null; t_fail globalnet
fi
if run jg3 "$S" join "$G/broker-info.subm" --clusterid g3 --clustercidr 10.1.0.0/16 --servicecidr 10.96.0.0/16 \
	--globalnet-cidr 242.0.240.0/20 --config-dir "$T/g3" &&
	jq -e '.globalCIDRs == ["242.0.240.0/20"]' "$T/g3/cluster.json" >/dev/null; then
	t_pass globalnet_asked_cidr
else
	cat "$T/jg3"; t_fail globalnet_asked_cidr
fi

t_done
