#!/bin/bash
# End-to-end: what an operator runs when something breaks (issue 15). Two clusters of three
# nodes (n1 and n2 gateway-capable, n3 not), an agent on every node.
#  - benchmark: latency and iperf3 throughput from a gateway node and from a pod on a
#    plain node, to pods of the other cluster on its gateway and on a plain node;
#  - gather: the tarball holds the logs, SAs, routes, nft, BPF and broker objects, and none
#    of the secrets (the token, the PSK, the broker's tokens and keys), not even when the
#    agent's log is made to leak them;
#  - diagnose: passes on a healthy gateway and a plain node, then names the fault when one
#    thing at a time breaks: a clock five minutes ahead, UDP 4500 dropped by nftables, the
#    underlay's MTU lowered, the broker down, the broker's certificate expired, a token the
#    broker does not know.
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
TMP=$(mktemp -d /tmp/${LAB_PREFIX}diagnose.XXXXXX)
trap '[ "${KEEP_LAB:-0}" = 1 ] || "$LAB" down >/dev/null 2>&1; rm -rf "$TMP"' EXIT
for cmd in diagnose gather benchmark; do
	"$SUBAGENT" $cmd --help >/dev/null 2>&1 || { t_skip all "subagent $cmd is not built yet"; exit 0; }
done

lx() { "$LAB" exec "$@"; }
pod_ip() { lab_json | jq -r --arg p "$1" '.clusters[].nodes[].pods[] | select(.name == $p) | .ip'; }
role_is() { [ "$(agent_role "$1")" = "$2" ]; }

"$LAB" up --clusters 2 --nodes 3 --pods 1 >&2 || { t_fail lab_up; t_done; }
INET=$(lab_json | jq -r .prefix)inet
lab_start_broker >&2 && join_cluster c1 >&2 && join_cluster c2 >&2 || { t_fail setup; t_done; }
for c in c1 c2; do for j in 1 2 3; do start_node_agent "$c-n$j"; done; done
ok=1
for c in c1 c2; do
	wait_until 30 role_is "$c-n1" gateway && wait_until 30 status_connected "$c-n1" 1 || ok=0
done
[ $ok = 1 ] && t_pass agents_connected || { t_fail agents_connected; tail -20 "$SA_RUN"/logs/agent-c1-n1.log >&2; }

# diag NODE [ARGS]: diagnose on NODE as JSON into $TMP/diag.json; its exit status
diag() {
	local n=$1; shift
	lx "$n" -- "$SUBAGENT" diagnose --config-dir "$SA_RUN/${n%%-n*}" --state-dir "$SA_RUN/state/$n" \
		-o json "$@" >"$TMP/diag.json" 2>"$TMP/diag.err"
}
# row CHECK TARGET: the result and detail of one row
row() { jq -r --arg c "$1" --arg t "$2" '.[] | select(.check == $c and .target == $t) |
	"\(.result) \(.detail)"' "$TMP/diag.json"; }
fails() { jq -r '[.[] | select(.result == "FAIL") | "\(.check) \(.target): \(.detail)"] | join("; ")' "$TMP/diag.json"; }
connected_both() { status_connected c1-n1 1 && status_connected c2-n1 1; }

# ---- benchmark ----
for p in c2-n1-p1 c2-n3-p1; do
	lx "$p" -- setsid -f "$SUBAGENT" benchmark serve --bind "$(pod_ip "$p")" --once \
		</dev/null >"$TMP/serve-$p.log" 2>&1
done
sleep 0.5
bench_tp() {	# bench_tp NAME FROM TO-POD
	local j
	j=$(lx "$2" -- "$SUBAGENT" benchmark throughput --to "$(pod_ip "$3")" --duration 3 \
		--config-dir "$SA_RUN/c1" -o json 2>"$TMP/bench.err")
	if jq -e '.receiver_mbps > 0 and .sender_mbps > 0 and .seconds >= 2.9' <<<"$j" >/dev/null &&
	   grep -q "^throughput $(pod_ip "$3"): [0-9]*/3 s: [0-9.]* Mbit/s" "$TMP/bench.err"; then
		t_pass "$1"
		echo "benchmark $1: $(jq -r '"\(.receiver_mbps) Mbit/s received, \(.retransmits) retransmits"' <<<"$j")" >&2
	else
		t_fail "$1" "$j $(cat "$TMP/bench.err")"
	fi
}
bench_tp throughput_gateway_node_to_gateway_pod c1-n1 c2-n1-p1
bench_tp throughput_plain_pod_to_plain_pod c1-n3-p1 c2-n3-p1
j=$(lx c1-n3-p1 -- "$SUBAGENT" benchmark latency --to "$(pod_ip c2-n3-p1)" --count 10 \
	--interval-ms 20 -o json 2>/dev/null)
jq -e '.answered == 10 and .min_ms > 0 and .p50_ms >= .min_ms and .max_ms >= .p99_ms' <<<"$j" >/dev/null &&
	t_pass latency_plain_pod_to_plain_pod || t_fail latency_plain_pod_to_plain_pod "$j"
out=$(lx c1-n1 -- "$SUBAGENT" benchmark latency --cluster c2 --config-dir "$SA_RUN/c1" --count 5 2>/dev/null)
grep -qE '^10\.1\.1\.1 +[0-9.]+ +c2 +5 +5 ' <<<"$out" && t_pass latency_to_remote_gateway_table ||
	t_fail latency_to_remote_gateway_table "$out"
check_not benchmark_throughput_nobody_serves lx c1-n1 -- "$SUBAGENT" benchmark throughput \
	--to "$(pod_ip c2-n1-p1)" --port 5999 --duration 1

# ---- gather ----
LOG=$TMP/agent-leaky.log
cp "$SA_RUN/logs/agent-c1-n1.log" "$LOG"
{	# a log that leaks every secret there is: gather must still hold none of them
	echo "debug: token=$(cat "$SA_RUN/c1/token") psk $(cat "$SA_RUN/c1/psk")"
	echo "Authorization: Bearer $(cat "$SA_RUN/broker/admin.token")"
	echo "{\"joinToken\": \"$(cat "$SA_RUN/broker/join.token")\", \"token\": \"$(cat "$SA_RUN/broker/join.token")\"}"
	cat "$SA_RUN/broker/tls-key.pem" "$SA_RUN/broker/ca-key.pem"
} >>"$LOG"
(cd "$TMP" && lx c1-n1 -- "$SUBAGENT" gather --config-dir "$SA_RUN/c1" --state-dir "$SA_RUN/state/c1-n1" \
	--log "$LOG" --out "$TMP/g.tar.gz") >"$TMP/gather.out" 2>&1 && [ -f "$TMP/g.tar.gz" ] &&
	t_pass gather_runs || { t_fail gather_runs; cat "$TMP/gather.out" >&2; }
[ "$(stat -c %a "$TMP/g.tar.gz" 2>/dev/null)" = 600 ] && t_pass gather_tarball_private ||
	t_fail gather_tarball_private
mkdir -p "$TMP/g" && tar xzf "$TMP/g.tar.gz" -C "$TMP/g" 2>/dev/null
G=$(echo "$TMP"/g/subagent-gather-c1-c1-n1-*)
has() { [ -s "$G/$1" ] && { [ -z "${2:-}" ] || grep -q -- "$2" "$G/$1"; }; }
for f in "agent.log:this node is the active gateway" "charon/charon.log" "charon/sas.txt:ESTABLISHED" \
	 "charon/conns.txt" "state/status.json:\"connected\"" "node/ip-route.txt:table 150" \
	 "node/ip-rule.txt:lookup 150" "node/nft-ruleset.txt:subagent_mss" "node/ip-xfrm-state.txt" \
	 "bpf/maps.txt" "node/tc-qdisc.txt" "config/cluster.json:clusterID" \
	 "broker/endpoints.json:c2" "broker/gatewaystatuses.json:c1-n1" "manifest.json:files"; do
	has "${f%%:*}" "$( [[ $f == *:* ]] && echo "${f#*:}")" && t_pass "gather_has_${f%%:*}" ||
		t_fail "gather_has_${f%%:*}" "missing or without '${f#*:}'"
done
leaks=""
for s in "$(cat "$SA_RUN/c1/token")" "$(cat "$SA_RUN/c1/psk")" "$(cat "$SA_RUN/broker/admin.token")" \
	 "$(cat "$SA_RUN/broker/join.token")" "$(sed -n 2p "$SA_RUN/broker/tls-key.pem")" \
	 "$(sed -n 2p "$SA_RUN/broker/ca-key.pem")" "PRIVATE KEY-----$" "$(cat "$SA_RUN/c2/token")"; do
	[ -n "$s" ] && grep -rqF -- "$s" "$G" && leaks="$leaks ${s:0:12}..."
done
[ -z "$leaks" ] && t_pass gather_holds_no_secret || t_fail gather_holds_no_secret "found:$leaks"
grep -q '<redacted>' "$G/agent.log" && t_pass gather_redacted_the_leak || t_fail gather_redacted_the_leak

# ---- diagnose: healthy ----
if diag c1-n1; then t_pass diagnose_healthy_gateway; else t_fail diagnose_healthy_gateway "$(fails)"; fi
for c in agent broker clock credentials datapath bpf firewall routes mtu charon connection; do
	jq -e --arg c "$c" 'any(.[]; .check == $c)' "$TMP/diag.json" >/dev/null || t_fail "diagnose_has_$c"
done
[[ $(row mtu c2) == "pass 1400-byte packets cross the tunnel"* ]] && t_pass diagnose_mtu_probed ||
	t_fail diagnose_mtu_probed "$(row mtu c2)"
if diag c1-n3; then t_pass diagnose_healthy_plain_node; else t_fail diagnose_healthy_plain_node "$(fails)"; fi
lx c1-n1 -- "$SUBAGENT" diagnose --config-dir "$SA_RUN/c1" --state-dir "$SA_RUN/state/c1-n1" --no-mtu \
	>"$TMP/diag.txt" 2>&1 && grep -q "^diagnose: all checks passed" "$TMP/diag.txt" &&
	grep -qE "^firewall +udp/4500 +pass" "$TMP/diag.txt" && t_pass diagnose_table || {
	t_fail diagnose_table; cat "$TMP/diag.txt" >&2; }

# ---- diagnose: one fault at a time ----
# 0. a clock five minutes ahead (faketime: diagnose alone lives in the future)
if command -v faketime >/dev/null; then
	lx c1-n1 -- faketime -f +300s "$SUBAGENT" diagnose --config-dir "$SA_RUN/c1" \
		--state-dir "$SA_RUN/state/c1-n1" --no-mtu -o json >"$TMP/diag.json" 2>/dev/null
	r=$(row clock "https://$BROKER_IP:$BROKER_PORT")
	[[ $r =~ ^FAIL\ this\ node\ is\ (29[89]|30[012])\ s\ ahead\ of\ the\ broker ]] &&
		t_pass diagnose_names_clock_skew || t_fail diagnose_names_clock_skew "$r"
else
	t_skip diagnose_names_clock_skew "no faketime (make deps)"
fi
# 1. nftables drops NAT-T on the gateway
lx c1-n1 -- nft -f - <<-'EOF'
	table inet s4fault {
		chain in {
			type filter hook input priority 0;
			udp dport 4500 drop
		}
	}
EOF
if ! diag c1-n1 --no-mtu && [[ $(row firewall udp/4500) == "FAIL NAT-T"*"drops udp dport 4500" ]] &&
   [[ $(row firewall udp/500) == pass* ]]; then
	t_pass diagnose_names_firewall_drop
else
	t_fail diagnose_names_firewall_drop "$(fails)"
fi
lx c1-n1 -- nft delete table inet s4fault
wait_until 60 connected_both || t_fail reconnected_after_firewall

# 2. the underlay's MTU lowered on the way to c2's gateway (its port on the internet bridge)
ip netns exec "$INET" ip link set dev c2-n1 mtu 1300 || t_fail underlay_mtu_lowered
if ! diag c1-n1; then
	r=$(row mtu c2)
	got=$(sed -n 's/.*through the tunnel is \([0-9]*\) bytes.*/\1/p' <<<"$r")
	if [[ $r == FAIL* ]] && [ -n "$got" ] && [ "$got" -lt 1300 ] && [[ $r == *"1300 of 1500"* ]]; then
		t_pass diagnose_names_mtu
		echo "mtu fault: $r" >&2
	else
		t_fail diagnose_names_mtu "$r"
	fi
else
	t_fail diagnose_names_mtu "diagnose passed: $(row mtu c2)"
fi
ip netns exec "$INET" ip link set dev c2-n1 mtu 1500

# 3. the broker is down
stop_broker
if ! diag c1-n1 --no-mtu && [[ $(row broker "https://$BROKER_IP:$BROKER_PORT") == "FAIL no TCP connection"* ]]; then
	t_pass diagnose_names_broker_down
else
	t_fail diagnose_names_broker_down "$(fails)"
fi
[[ $(row credentials token) == skip* ]] && t_pass diagnose_broker_down_skips_token ||
	t_fail diagnose_broker_down_skips_token "$(row credentials token)"

# 4. an expired credential: the broker's certificate, re-issued by its CA, expired in 2021
B=$SA_RUN/broker
cp "$B/tls.pem" "$TMP/tls.pem.good"
cat >"$TMP/tmpl" <<-EOF
	cn = "subagent broker"
	dns_name = "localhost"
	ip_address = "127.0.0.1"
	ip_address = "$BROKER_IP"
	tls_www_server
	signing_key
	encryption_key
	activation_date = "2020-01-01 00:00:00"
	expiration_date = "2021-01-01 00:00:00"
EOF
certtool --generate-certificate --load-privkey "$B/tls-key.pem" --load-ca-certificate "$B/ca.pem" \
	--load-ca-privkey "$B/ca-key.pem" --template "$TMP/tmpl" --outfile "$B/tls.pem" >/dev/null 2>&1 ||
	t_fail expired_certificate_made
lx broker -- setsid -f "$SUBAGENT" broker --dir "$B" </dev/null >>"$SA_RUN/logs/broker.log" 2>&1
wait_until 20 lx broker -- curl -skf "https://$BROKER_IP:$BROKER_PORT/healthz" || t_fail broker_up_expired
if ! diag c1-n1 --no-mtu &&
   [[ $(row broker "https://$BROKER_IP:$BROKER_PORT") == "FAIL the broker's certificate has expired (valid until 2021-01-01"* ]]; then
	t_pass diagnose_names_expired_certificate
else
	t_fail diagnose_names_expired_certificate "$(fails)"
fi
stop_broker
cp "$TMP/tls.pem.good" "$B/tls.pem"
lab_start_broker >&2 || t_fail broker_back

# 5. a token the broker does not know (a cluster removed, a wrong file)
cp -r "$SA_RUN/c1" "$TMP/c1-bad"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TMP/c1-bad/token"
if ! lx c1-n1 -- "$SUBAGENT" diagnose --config-dir "$TMP/c1-bad" --state-dir "$SA_RUN/state/c1-n1" \
	--no-mtu -o json >"$TMP/diag.json" 2>/dev/null &&
   [[ $(row credentials token) == "FAIL the broker refuses this cluster's token"* ]]; then
	t_pass diagnose_names_unknown_token
else
	t_fail diagnose_names_unknown_token "$(fails)"
fi

# all healed: healthy again
wait_until 60 connected_both
if diag c1-n1 --no-mtu; then t_pass diagnose_healthy_again; else t_fail diagnose_healthy_again "$(fails)"; fi
t_done
