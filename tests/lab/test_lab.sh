#!/bin/bash
# Tests of the netns lab itself: addressing, pod and service reachability inside a cluster,
# NAT, isolation between clusters, the cluster DNS (pods resolve through it, dns-forward),
# bad options, and that `down` leaves the machine as it was.
set -u
. "$(dirname "$0")/../lib.sh"
trap '"$LAB" down >/dev/null 2>&1' EXIT

STATE=$("$LAB" statedir)
snapshot() {
	ip -o link | sed 's/ qlen [0-9]*//'; ip route; ip rule; [ -e "$STATE" ] && echo state-dir-present
	ls -d /etc/netns/"$LAB_PREFIX"* 2>/dev/null
}
before=$(snapshot)

lx() { "$LAB" exec "$@"; }
ping1() { lx "$1" -- ping -c1 -W1 "$2" >/dev/null; }
# tcp_echo FROM ADDR: prints the echo server's answer line ("<pod> <client-ip>")
tcp_echo() { echo x | lx "$1" -- socat -T3 - "TCP4:$2:8080,connect-timeout=3" 2>/dev/null | head -1; }
udp_echo() { echo x | lx "$1" -- socat -T3 - "UDP4:$2:8080" 2>/dev/null | head -1; }

if ! "$LAB" up --clusters 3 --nodes 3 --pods 2 --nat c3 >&2; then
	t_fail up "lab up failed"; t_done
fi
t_pass up

J=$("$LAB" show -o json)
check json_shape jq -e '
  (.clusters | length == 3) and (.hosts[0].name == "broker") and (.hosts[0].ip | type == "string") and
  ([.clusters[] | .pod_cidr, .service_cidr, .service_vip] | all(type == "string")) and
  ([.clusters[].service_port] | all(. == 8080)) and
  ([.clusters[].nodes[] | .name, .netns, .ip] | all(type == "string")) and
  ([.clusters[].nodes[] | select(.gateway_capable) | .public_ip] | all(type == "string")) and
  ([.clusters[].nodes[] | select(.gateway_capable | not) | has("public_ip")] | all(. == false)) and
  ([.clusters[].nodes[] | select(.gateway_capable)] | length == 6) and
  ([.clusters[].nodes[].pods[] | .name, .netns, .ip] | length == 54) and
  ([.clusters[].pod_cidr] | unique | length == 3) and
  ([.clusters[].dns | .name, .netns, .ip] | all(type == "string")) and
  (.clusters[0].dns.ip == "172.20.1.53") and
  (.clusters[2].nodes[0].public_ip == "198.18.3.254")' <<<"$J"
check text_show "$LAB" show

P1=$(jq -r '.clusters[0].nodes[0].pods[0].ip' <<<"$J")
P3=$(jq -r '.clusters[0].nodes[2].pods[1].ip' <<<"$J")
VIP1=$(jq -r '.clusters[0].service_vip' <<<"$J")
C2P=$(jq -r '.clusters[1].nodes[0].pods[0].ip' <<<"$J")
VIP2=$(jq -r '.clusters[1].service_vip' <<<"$J")

check pod_to_pod_across_nodes ping1 c1-n1-p1 "$P3"
ans=$(tcp_echo c1-n1-p1 "$P3")
[ "$ans" = "c1-n3-p2 $P1" ] && t_pass pod_tcp_sees_real_source || t_fail pod_tcp_sees_real_source "got '$ans'"

# The service VIP from a pod, over TCP and UDP, several times (random backends, hairpin).
ok=1
for i in $(seq 12); do
	a=$(tcp_echo c1-n1-p1 "$VIP1")
	[[ $a =~ ^c1-n[123]-p[12]\  ]] || { ok=0; echo "tcp to VIP: '$a'" >&2; }
done
[ $ok = 1 ] && t_pass pod_to_service_vip_tcp || t_fail pod_to_service_vip_tcp
ans=$(udp_echo c1-n2-p1 "$VIP1")
[[ $ans =~ ^c1-n[123]-p[12]\  ]] && t_pass pod_to_service_vip_udp || t_fail pod_to_service_vip_udp "got '$ans'"
ans=$(tcp_echo c1-n3 "$VIP1")
[[ $ans =~ ^c1-n[123]-p[12]\  ]] && t_pass node_to_service_vip || t_fail node_to_service_vip "got '$ans'"
# A pod on a non-NAT cluster sees the client's real pod IP through the VIP from another node.
ans=$(tcp_echo c2-n3-p1 "$VIP2")
[[ $ans =~ ^c2-n[12]-p[12]\ 10\.2\.3\.11$ || $ans =~ ^c2-n3-p[12]\  ]] && t_pass service_preserves_client_ip ||
	t_fail service_preserves_client_ip "got '$ans'"

# NAT: c3's gateways reach the internet segment only through their router.
lx broker -- setsid -f socat -T5 TCP4-LISTEN:9999,reuseaddr SYSTEM:'echo $SOCAT_PEERADDR' </dev/null >/dev/null 2>&1
wait_until 5 lx broker -- ss -ltn 'sport = :9999' | grep -q 9999 || true
seen=$(lx c3-n1 -- socat -T3 - TCP4:198.18.0.10:9999,connect-timeout=3 </dev/null 2>/dev/null | head -1)
[ "$seen" = "198.18.3.254" ] && t_pass nat_source_is_router || t_fail nat_source_is_router "broker saw '$seen'"
! lx c3-n1 -- ip -o addr | grep -q ' 198\.18\.' && t_pass nat_gateway_not_on_internet ||
	t_fail nat_gateway_not_on_internet
lx c3-n1 -- ip route get 198.18.1.1 | grep -q 'via 192.168.3.1' && t_pass nat_route_via_router ||
	t_fail nat_route_via_router
check_not nat_inside_unreachable_from_outside ping1 broker 192.168.3.11
check non_nat_gateway_reaches_broker ping1 c1-n1 198.18.0.10

# The cluster DNS: pods resolve the echo service through it (search domains too), and a
# zone forwarded with dns-forward reaches its server (here a resolver on node c1-n3).
ans=$(lx c1-n2-p1 -- dig +short +time=2 +tries=1 echo.default.svc.cluster.local)
[ "$ans" = "$VIP1" ] && t_pass pod_resolves_cluster_service || t_fail pod_resolves_cluster_service "got '$ans'"
ans=$(lx c2-n1-p2 -- getent hosts echo | awk '{print $1}')
[ "$ans" = "$VIP2" ] && t_pass pod_search_domains || t_fail pod_search_domains "got '$ans'"
ans=$(lx c1-n1-p1 -- dig +time=2 +tries=1 nope.default.svc.cluster.local | grep -o 'status: [A-Z]*')
[ "$ans" = "status: NXDOMAIN" ] && t_pass cluster_dns_nxdomain || t_fail cluster_dns_nxdomain "got '$ans'"
lx c1-n3 -- dnsmasq --port 5353 --listen-address 172.20.1.13 --bind-interfaces --no-resolv --no-hosts \
	--user=root --pid-file= --host-record=a.example.test,192.0.2.7 --local=/example.test/
zone() { lx c1-n1-p1 -- dig +short +time=2 +tries=1 a.example.test; }
check dns_forward "$LAB" dns-forward c1 example.test 172.20.1.13#5353
ans=$(zone)
[ "$ans" = 192.0.2.7 ] && t_pass forwarded_zone_answers || t_fail forwarded_zone_answers "got '$ans'"
"$LAB" dns-forward c1 example.test >&2
ans=$(lx c1-n1-p1 -- dig +time=2 +tries=1 a.example.test | grep -o 'status: [A-Z]*')
[ "$ans" = "status: REFUSED" ] && t_pass forward_removed || t_fail forward_removed "got '$ans'"
check_not dns_forward_bad_server "$LAB" dns-forward c1 example.test 'x;y'
check_not dns_forward_bad_cluster "$LAB" dns-forward c9 example.test 172.20.1.13

# No traffic between clusters yet: no route.
check_not no_pod_route_between_clusters ping1 c1-n1-p1 "$C2P"
check_not no_gateway_route_to_remote_pods ping1 c1-n1 "$C2P"
[ -z "$(tcp_echo c1-n1-p1 "$VIP2")" ] && t_pass no_remote_service || t_fail no_remote_service

# Bad options change nothing: the lab above stays up.
check_not bad_clusters "$LAB" up --clusters 17
check_not bad_nat "$LAB" up --clusters 2 --nat c9
check_not bad_option "$LAB" up --bogus
check lab_still_up ping1 c1-n1-p1 "$P3"

# Overlap, and `up` twice replaces the old lab.
"$LAB" up --clusters 2 --nodes 2 --overlap >&2 && "$LAB" up --clusters 2 --nodes 2 --overlap >&2 ||
	t_fail up_overlap
J=$("$LAB" show -o json)
check overlap_same_cidrs jq -e '([.clusters[].pod_cidr] | unique | length == 1) and
  ([.clusters[].service_cidr] | unique | length == 1)' <<<"$J"
n=$(ip netns list | grep -c "^$LAB_PREFIX" || true)
# inet + broker + 2 x (switch + DNS + 2 nodes + 2 pods)
[ "$n" = 14 ] && t_pass up_twice_replaces || t_fail up_twice_replaces "$n namespaces"
check overlap_pod_to_pod ping1 c2-n1-p1 10.1.2.11

# 16 clusters.
start=$SECONDS
if "$LAB" up --clusters 16 --nodes 2 --pods 1 >&2; then
	echo "16 clusters up in $((SECONDS - start)) s" >&2
	check sixteen_clusters ping1 c16-n2-p1 10.16.1.11
else
	t_fail sixteen_clusters "up failed"
fi

pids=$(for n in $(ip netns list | awk '{print $1}' | grep "^$LAB_PREFIX"); do ip netns pids "$n"; done)
"$LAB" down >&2
after=$(snapshot)
left=$(ip netns list | grep -c "^$LAB_PREFIX" || true)
alive=0
for p in $pids; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
[ "$left" = 0 ] && [ "$alive" = 0 ] && [ "$before" = "$after" ] && [ ! -e "$STATE" ] &&
	! ls -d /etc/netns/"$LAB_PREFIX"* >/dev/null 2>&1 &&
	t_pass down_leaves_nothing ||
	{ t_fail down_leaves_nothing "netns left: $left, processes alive: $alive"; diff <(echo "$before") <(echo "$after") >&2; }
t_done
