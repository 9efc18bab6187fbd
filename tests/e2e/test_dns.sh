#!/bin/bash
# End-to-end: service discovery in the netns lab. Three connected clusters, `subagent dns`
# on each, each cluster's resolver (the lab's dnsmasq, playing CoreDNS) forwarding
# clusterset.local to it; pods ask with dig through their cluster DNS, as they would on
# Kubernetes. Remote services resolve and connect; the local export comes first; cluster-
# qualified, SRV and headless names; round robin over two exporting clusters; unexport
# removes the answer within a TTL; not-ready endpoints and a cluster whose gateway is down
# are dropped (the qualified name still answers); a sidecar-like HAProxy balancing over pods
# of two clusters learned from the import; the broker down: still answering, also after a
# restart of the DNS server (its cache file).
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
SUBAGENT=${SA_DNS_SUBAGENT:-$SUBAGENT}	# test_dns_asan.sh: the ASan/UBSan build
cleanup() { [ -n "${KEEP:-}" ] || "$LAB" down >/dev/null 2>&1; }
trap cleanup EXIT

for cmd in dns export unexport; do
	"$SUBAGENT" $cmd --help >/dev/null 2>&1 || { t_skip all "subagent $cmd is not built yet"; exit 0; }
done
command -v dig >/dev/null || { t_skip all "dig is missing (make deps)"; exit 0; }

lx() { "$LAB" exec "$@"; }
# q POD NAME [TYPE] [+dig options]: the records (short form) through the pod's cluster DNS
q() {
	local p=$1 n=$2 t=${3:-A}
	shift 2; [ $# -gt 0 ] && shift
	lx "$p" -- dig +short +time=2 +tries=1 "$@" "$n" "$t" 2>/dev/null
}
# rcode POD NAME [TYPE] [@SERVER]: the answer's status
rcode() { lx "$1" -- dig +time=2 +tries=1 ${4:-} "$2" "${3:-A}" 2>/dev/null | grep -o 'status: [A-Z]*' | cut -d' ' -f2; }
SVC=echo.default.svc.clusterset.local
vip() { echo "10.$((100 + ${1#c})).0.10"; }
# export_echo CLUSTER [ready|notready] [ARGS...]: the echo service with both pods behind it
export_echo() {
	local c=$1 i=${1#c} st=${2:-ready}
	shift $(($# < 2 ? $# : 2))
	lx "$c-n1" -- "$SUBAGENT" export service --config-dir "$SA_RUN/$c" --name echo --vip "$(vip "$c")" \
		--port tcp-echo:8080/TCP --port udp-echo:8080/UDP \
		--endpoint "$c-n1-p1=10.$i.1.11,$st" --endpoint "$c-n1-p2=10.$i.1.12,$st" "$@" >&2
}
start_dns() {	# start_dns CLUSTER: subagent dns on the cluster's node 1, port 53, with a cache
	"$LAB" exec "$1-n1" -- setsid -f "$SUBAGENT" dns --config-dir "$SA_RUN/$1" \
		--listen "172.20.${1#c}.11:53" --cache "$SA_RUN/state/dns-$1.json" \
		</dev/null >>"$SA_RUN/logs/dns-$1.log" 2>&1
}
dns_pid() { netns_pid "$1-n1" "subagent dns --config-dir $SA_RUN/$1 "; }
# count NAME TIMES POD: "<answer> <count>" lines of TIMES queries
count() { for _ in $(seq "$2"); do q "$3" "$1"; done | sort | uniq -c | awk '{print $2, $1}'; }

"$LAB" up --clusters 3 --nodes 1 --pods 2 >&2 || { t_fail lab_up; t_done; }
lab_start_broker >&2 || { t_fail broker_up; t_done; }
for c in c1 c2 c3; do join_cluster "$c" >&2 || t_fail "join_$c"; done
for c in c1 c2 c3; do start_node_agent "$c-n1"; done
ok=1
for c in c1 c2 c3; do wait_until 60 status_connected "$c-n1" 2 || ok=0; done
[ $ok = 1 ] && t_pass clusters_connected || { t_fail clusters_connected; tail -20 "$SA_RUN"/logs/agent-c1-n1.log >&2; }
for c in c1 c2 c3; do
	start_dns "$c"
	"$LAB" dns-forward "$c" clusterset.local "172.20.${c#c}.11"
done
wait_until 10 bash -c "grep -q 'synced with the broker' $SA_RUN/logs/dns-c1.log" && t_pass dns_synced ||
	{ t_fail dns_synced; cat "$SA_RUN/logs/dns-c1.log" >&2; }

# ---- a remote service: resolves through the pod's cluster DNS, and the pod connects to it
export_echo c2 || t_fail export_c2
wait_until 5 bash -c "[ -n \"\$(ip netns exec ${LAB_PREFIX}c1-n1-p1 dig +short +time=1 +tries=1 $SVC)\" ]"
a=$(q c1-n1-p1 "$SVC")
[ "$a" = "$(vip c2)" ] && t_pass remote_service_resolves || t_fail remote_service_resolves "got '$a'"
ans=$(echo x | lx c1-n1-p1 -- socat -T3 - "TCP4:$SVC:8080,connect-timeout=3" 2>/dev/null | head -1)
[[ $ans == "c2-n1-p"[12]" 10.1.1.11" ]] && t_pass pod_connects_by_name || t_fail pod_connects_by_name "got '$ans'"
lx c1-n1-p1 -- dig +time=2 +tries=1 "$SVC" | sed -n '/ANSWER SECTION/,/^$/p' >&2
check aaaa_noerror_empty bash -c "[ \"\$('$LAB' exec c1-n1-p1 dig +time=2 +tries=1 $SVC AAAA | grep -o 'status: [A-Z]*')\" = 'status: NOERROR' ] &&
	[ -z \"\$('$LAB' exec c1-n1-p1 dig +short +time=2 +tries=1 $SVC AAAA)\" ]"
# straight to subagent's server: NOTIMP and NXDOMAIN as the issue says; TCP works
[ "$(rcode c1-n1 "$SVC" TXT @172.20.1.11)" = NOTIMP ] && t_pass other_types_notimp || t_fail other_types_notimp
[ "$(rcode c1-n1-p1 nope.default.svc.clusterset.local)" = NXDOMAIN ] && t_pass unknown_nxdomain || t_fail unknown_nxdomain
a=$(lx c1-n1 -- dig +short +tcp +time=2 +tries=1 @172.20.1.11 "$SVC")
[ "$a" = "$(vip c2)" ] && t_pass answers_over_tcp || t_fail answers_over_tcp "got '$a'"
ttl=$(lx c1-n1 -- dig +noall +answer +time=2 +tries=1 @172.20.1.11 "$SVC" | awk '{print $2}')
[ "$ttl" = 5 ] && t_pass ttl_5s || t_fail ttl_5s "ttl '$ttl'"

# ---- round robin over two exporting clusters
export_echo c3 || t_fail export_c3
wait_until 5 bash -c "[ \"\$(ip netns exec ${LAB_PREFIX}c1-n1-p1 dig +short +time=1 +tries=1 c3.$SVC)\" = $(vip c3) ]"
r=$(count "$SVC" 10 c1-n1-p2)
echo "round robin from c1 (10 queries): $(echo $r)" >&2
n2=$(awk -v v="$(vip c2)" '$1 == v {print $2}' <<<"$r") n3=$(awk -v v="$(vip c3)" '$1 == v {print $2}' <<<"$r")
[ "${n2:-0}" -ge 4 ] && [ "${n3:-0}" -ge 4 ] && [ $((${n2:-0} + ${n3:-0})) = 10 ] &&
	t_pass round_robin_two_clusters || t_fail round_robin_two_clusters "$r"
a=$(q c1-n1-p1 "c3.$SVC")
[ "$a" = "$(vip c3)" ] && t_pass cluster_qualified || t_fail cluster_qualified "got '$a'"
srv=$(q c1-n1-p1 "_tcp-echo._tcp.$SVC" SRV | sort | tr '\n' ';')
[ "$srv" = "0 1 8080 c2.$SVC.;0 1 8080 c3.$SVC.;" ] && t_pass srv_both_clusters || t_fail srv_both_clusters "got '$srv'"
a=$(q c1-n1-p1 "_udp-echo._udp.c3.$SVC" SRV)
[ "$a" = "0 1 8080 c3.$SVC." ] && t_pass srv_cluster_qualified || t_fail srv_cluster_qualified "got '$a'"

# ---- the local export first
export_echo c1 || t_fail export_c1
wait_until 5 bash -c "[ \"\$(ip netns exec ${LAB_PREFIX}c1-n1-p1 dig +short +time=1 +tries=1 $SVC)\" = $(vip c1) ]"
r=$(count "$SVC" 6 c1-n1-p2)
[ "$r" = "$(vip c1) 6" ] && t_pass local_preferred || t_fail local_preferred "$r"
r=$(count "$SVC" 4 c2-n1-p1)
[ "$r" = "$(vip c2) 4" ] && t_pass local_preferred_in_c2 || t_fail local_preferred_in_c2 "$r"
a=$(q c2-n1-p1 "_tcp-echo._tcp.$SVC" SRV)
[ "$a" = "0 1 8080 c2.$SVC." ] && t_pass srv_local_first || t_fail srv_local_first "got '$a'"

# ---- unexport: the answer goes within one TTL (5 s)
t0=$(date +%s%N)
lx c1-n1 -- "$SUBAGENT" unexport service --config-dir "$SA_RUN/c1" --name echo >&2 || t_fail unexport_c1
gone() { a=$(q c1-n1-p1 "$SVC"); [ -n "$a" ] && [ "$a" != "$(vip c1)" ]; }
if wait_until 5 gone; then
	echo "unexport to the other clusters' answer: $((($(date +%s%N) - t0) / 1000000)) ms" >&2
	t_pass unexport_within_ttl
else
	t_fail unexport_within_ttl "still '$(q c1-n1-p1 "$SVC")'"
fi
[ "$(rcode c1-n1-p1 "c1.$SVC")" = NXDOMAIN ] && t_pass unexported_cluster_name_gone || t_fail unexported_cluster_name_gone
out=$(lx c1-n1 -- "$SUBAGENT" unexport service --config-dir "$SA_RUN/c1" --name echo 2>&1)
[ $? = 1 ] && [[ $out == *"not exported"* ]] && t_pass unexport_twice_says_so || t_fail unexport_twice_says_so "$out"

# ---- headless: pods by name, only ready ones in the service's answer
lx c2-n1 -- "$SUBAGENT" export service --config-dir "$SA_RUN/c2" --name db --headless --port pg:8080 \
	--endpoint c2-n1-p1=10.2.1.11 --endpoint c2-n1-p2=10.2.1.12,notready >&2 || t_fail export_headless
DB=db.default.svc.clusterset.local
wait_until 5 bash -c "[ -n \"\$(ip netns exec ${LAB_PREFIX}c1-n1-p1 dig +short +time=1 +tries=1 $DB)\" ]"
a=$(q c1-n1-p1 "$DB")
[ "$a" = 10.2.1.11 ] && t_pass headless_ready_endpoints || t_fail headless_ready_endpoints "got '$a'"
a=$(q c1-n1-p1 "c2-n1-p2.c2.$DB")
[ "$a" = 10.2.1.12 ] && t_pass headless_pod_name || t_fail headless_pod_name "got '$a'"
a=$(q c1-n1-p1 "_pg._tcp.$DB" SRV)
[ "$a" = "0 1 8080 c2-n1-p1.c2.$DB." ] && t_pass headless_srv || t_fail headless_srv "got '$a'"
ans=$(echo x | lx c1-n1-p2 -- socat -T3 - "TCP4:c2-n1-p2.c2.$DB:8080,connect-timeout=3" 2>/dev/null | head -1)
[ "$ans" = "c2-n1-p2 10.1.1.12" ] && t_pass pod_connects_to_pod_by_name || t_fail pod_connects_to_pod_by_name "got '$ans'"

# ---- show services
js=$(lx c1-n1 -- "$SUBAGENT" show services --config-dir "$SA_RUN/c1" -o json)
echo "$js" | jq -e '[.[] | select(.kind == "import" and .name == "echo") | .clusters[].cluster] == ["c2","c3"] and
	([.[] | select(.kind == "import" and .name == "db") | .type] == ["Headless"]) and
	([.[] | select(.kind == "export")] | length == 0)' >/dev/null &&
	t_pass show_services_json || t_fail show_services_json "$js"
lx c2-n1 -- "$SUBAGENT" show services --config-dir "$SA_RUN/c2" >&2
check show_services_table bash -c "'$LAB' exec c2-n1 '$SUBAGENT' show services --config-dir '$SA_RUN/c2' |
	grep -E '^export +echo +default +ClusterSetIP' | grep -q 'c2 $(vip c2) 2/2'"

# ---- the demo's mesh case: a sidecar-like HAProxy in a c1 pod balancing over the echo pods
# of c2 and c3 by pod IP, learned from the import; every pod sees the caller's own address
if command -v haproxy >/dev/null; then
	cfg=$SA_RUN/haproxy.cfg
	{
		printf 'defaults\n\tmode tcp\n\ttimeout connect 3s\n\ttimeout client 5s\n\ttimeout server 5s\n'
		printf 'frontend f\n\tbind 127.0.0.1:15001\n\tdefault_backend b\nbackend b\n\tbalance roundrobin\n'
		jq -r '.[] | select(.kind == "import" and .name == "echo") | .clusters[].endpoints[] |
			select(.ready) | "\tserver \(.hostname) \(.addresses[0]):8080"' <<<"$js"
	} >"$cfg"
	lx c1-n1-p1 -- haproxy -q -D -f "$cfg" -p "$SA_RUN/haproxy.pid"
	wait_until 5 lx c1-n1-p1 -- ss -ltn 'sport = :15001' | grep -q 15001 || true
	seen=$(for i in 1 2 3 4; do echo x | lx c1-n1-p1 -- socat -T3 - TCP4:127.0.0.1:15001,connect-timeout=3 2>/dev/null | head -1; done | sort)
	echo "through the sidecar: $(echo $seen)" >&2
	[ "$seen" = "$(printf 'c2-n1-p1 10.1.1.11\nc2-n1-p2 10.1.1.11\nc3-n1-p1 10.1.1.11\nc3-n1-p2 10.1.1.11')" ] &&
		t_pass sidecar_reaches_pods_of_both_clusters || t_fail sidecar_reaches_pods_of_both_clusters "$seen"
	kill "$(cat "$SA_RUN/haproxy.pid")" 2>/dev/null
else
	t_skip sidecar_reaches_pods_of_both_clusters "no haproxy (make deps)"
fi

# ---- endpoints not ready: dropped from the round robin; the qualified name still answers
export_echo c3 notready || t_fail export_c3_notready
only_c2() { [ "$(count "$SVC" 4 c1-n1-p1)" = "$(vip c2) 4" ]; }
wait_until 10 only_c2 && t_pass not_ready_cluster_dropped || t_fail not_ready_cluster_dropped "$(count "$SVC" 4 c1-n1-p1)"
[ "$(q c1-n1-p1 "c3.$SVC")" = "$(vip c3)" ] && t_pass not_ready_qualified_still_answers ||
	t_fail not_ready_qualified_still_answers
export_echo c3 ready || t_fail export_c3_ready
both() { [ "$(count "$SVC" 4 c1-n1-p1 | wc -l)" = 2 ]; }
wait_until 10 both && t_pass ready_again_back || t_fail ready_again_back

# ---- a cluster whose gateway is down: dropped within one health period
t0=$(date +%s%N)
kill_node c3-n1
if wait_until 30 only_c2; then
	echo "c3's gateway killed to c3 gone from c1's answers: $((($(date +%s%N) - t0) / 1000000)) ms" >&2
	t_pass gateway_down_cluster_dropped
else
	t_fail gateway_down_cluster_dropped "$(count "$SVC" 4 c1-n1-p1)"
fi
[ "$(q c1-n1-p1 "c3.$SVC")" = "$(vip c3)" ] && t_pass gateway_down_qualified_still_answers ||
	t_fail gateway_down_qualified_still_answers

# ---- the broker down: the DNS servers answer from what they have, a restarted one from its cache
stop_broker
sleep 1
[ "$(q c1-n1-p1 "$SVC")" = "$(vip c2)" ] && [ "$(q c2-n1-p1 "$SVC")" = "$(vip c2)" ] &&
	t_pass broker_down_still_answering || t_fail broker_down_still_answering
p=$(dns_pid c1) && kill "$p"
wait_until 5 bash -c "! kill -0 $p 2>/dev/null"
start_dns c1
if wait_until 5 bash -c "[ \"\$(ip netns exec ${LAB_PREFIX}c1-n1-p1 dig +short +time=1 +tries=1 $SVC)\" = $(vip c2) ]"; then
	t_pass broker_down_restart_from_cache
else
	t_fail broker_down_restart_from_cache "$(q c1-n1-p1 "$SVC")"
	tail -5 "$SA_RUN/logs/dns-c1.log" >&2
fi
lab_start_broker >&2
wait_until 30 bash -c "grep -c 'synced with the broker' $SA_RUN/logs/dns-c1.log | grep -q 2" &&
	t_pass resynced_after_broker_back || t_fail resynced_after_broker_back
grep -h "answered\|synced\|cache" "$SA_RUN"/logs/dns-*.log >&2

# stopped and waited for: under ASan their leak check runs at exit (test_dns_asan.sh)
for c in c1 c2 c3; do
	p=$(dns_pid "$c") && kill "$p" && wait_until 15 bash -c "! kill -0 $p 2>/dev/null"
	stop_agent "$c-n1"
done
stop_broker
t_done
