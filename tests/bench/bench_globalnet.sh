#!/bin/bash
# Globalnet throughput through the gateways in the netns lab (2 clusters x 1 node x 1 pod,
# iperf3 pod -> remote pod, SECS seconds, median of RUNS runs), per cable driver:
#   none  non-overlapping clusters, broker without globalnet: no translation at all
#   bpf   overlapping clusters, globalnet with the tc BPF programs (the agent's default)
#   nft   overlapping clusters, globalnet addresses and tunnels, but the translation done
#         by nftables on the tunnel device (SNAT to the 8 cluster egress IPs with port
#         translation, DNAT of the ingress IPs): what Submariner does with iptables
# then the ns/packet figures of the BPF programs (build/tests/bench/bench_globalnet_bpf).
# Prints tables; not a pass/fail test. CABLES="ipsec vxlan" by default.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
. tests/e2e/cluster_lib.sh
# cluster_lib's agent_pid ("subagent agent .*--node c1-n1 ") matches the agents of every
# lab on the machine: ours put --node last, and we look for ours only.
start_agent() {
	local node=$1 c=${1%%-n*}; shift
	"$LAB" exec "$node" -- setsid -f "$SUBAGENT" agent --config-dir "$SA_RUN/$c" \
		--state-dir "$SA_RUN/state/$node" "$@" --node "$node" \
		</dev/null >>"$SA_RUN/logs/agent-$node.log" 2>&1
}
agent_pid() { pgrep -n -f "subagent agent --config-dir $SA_RUN/[^ ]* .*--node $1\$" 2>/dev/null; }
RUNS=${RUNS:-3}
SECS=${SECS:-5}
CABLES=${CABLES:-ipsec vxlan}
trap '"$LAB" down >/dev/null 2>&1' EXIT

median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "n/a"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
lx() { "$LAB" exec "$@"; }
gip() { # gip CLUSTER NAME
	lx "$1-n1" -- "$SUBAGENT" globalnet list --config-dir "$SA_RUN/$1" -o json |
		jq -r --arg n "$1.$2" '.[] | select(.name == $n) | .global_ip'
}

iperf() { # iperf DST: Gbit/s received
	lx c2-n1-p1 -- iperf3 -s -1 -D -p 5201 >/dev/null 2>&1
	wait_until 5 bash -c "ip netns exec ${LAB_PREFIX}c2-n1-p1 ss -ltn | grep -q :5201"
	lx c1-n1-p1 -- timeout $((SECS + 15)) iperf3 -c "$1" -p 5201 -t "$SECS" -J 2>/dev/null |
		jq -r '.end.sum_received.bits_per_second / 1e9 | . * 1000 | round / 1000' 2>/dev/null |
		grep . || echo 0
}

# nft_globalnet NODE DEV OWN_CIDR REMOTE_CIDR DNAT...: the nftables translation ("G=T" pairs)
nft_globalnet() {
	local node=$1 dev=$2 own=$3 rem=$4 e1 e8 rules=""
	shift 4
	e1=$(python3 -c 'import ipaddress,sys; print(ipaddress.ip_network(sys.argv[1])[1])' "$own")
	e8=$(python3 -c 'import ipaddress,sys; print(ipaddress.ip_network(sys.argv[1])[8])' "$own")
	for m in "$@"; do rules+="		iifname \"$dev\" ip daddr ${m%=*} dnat to ${m#*=}"$'\n'; done
	lx "$node" -- nft -f - <<EOF
table ip sa_gn_bench {
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "$dev" ip saddr 10.1.0.0/16 ip daddr $rem snat to $e1-$e8
	}
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
$rules	}
}
EOF
}

# setup MODE CABLE: a fresh lab, broker, clusters and agents; prints the iperf3 target
setup() {
	local mode=$1 cable=$2 dev
	[ "$cable" = vxlan ] && dev=sa-vx0 || dev=ipsec0
	if [ "$mode" = none ]; then
		"$LAB" up --clusters 2 --nodes 1 --pods 1 >/dev/null || return 1
		lab_start_broker >&2 || return 1
	else
		"$LAB" up --clusters 2 --nodes 1 --pods 1 --overlap >/dev/null || return 1
		lab_start_broker --globalnet >&2 || return 1
	fi
	join_cluster c1 --cable-driver "$cable" && join_cluster c2 --cable-driver "$cable" || return 1
	local extra=() c g1 g2 p1 p2 h1 h2 i
	if [ "$mode" = nft ]; then
		# Rules first: a flow (the health checker's probes) that conntrack saw before
		# them would never be translated. The agent hands out the 9th address of the
		# global CIDR to the health IP and the 10th to the first ingress object.
		extra=(--globalnet-datapath none)
		g1=$(jq -r '.globalCIDRs[0]' "$SA_RUN/c1/cluster.json")
		g2=$(jq -r '.globalCIDRs[0]' "$SA_RUN/c2/cluster.json")
		nth() { python3 -c 'import ipaddress,sys; print(ipaddress.ip_network(sys.argv[1])[int(sys.argv[2])])' "$1" "$2"; }
		nft_globalnet c1-n1 "$dev" "$g1" "$g2" "$(nth "$g1" 10)=10.1.1.11" "$(nth "$g1" 9)=10.1.1.1" || return 1
		nft_globalnet c2-n1 "$dev" "$g2" "$g1" "$(nth "$g2" 10)=10.1.1.11" "$(nth "$g2" 9)=10.1.1.1" || return 1
	fi
	start_agent c1-n1 --log-level warn "${extra[@]+"${extra[@]}"}"
	start_agent c2-n1 --log-level warn "${extra[@]+"${extra[@]}"}"
	if [ "$mode" = none ]; then
		wait_until 60 status_connected c1-n1 1 || { echo "$mode/$cable: not connected" >&2; return 1; }
		echo 10.2.1.11
		return 0
	fi
	for c in c1 c2; do
		lx "$c-n1" -- "$SUBAGENT" globalnet ingress --config-dir "$SA_RUN/$c" --pod 10.1.1.11 \
			--name p1 --wait 20 >/dev/null || return 1
	done
	p1=$(gip c1 p1) p2=$(gip c2 p1)
	if [ "$mode" = nft ] && [ "$p2" != "$(nth "$g2" 10)" ]; then
		echo "nft: c2's ingress IP is $p2, not the expected $(nth "$g2" 10)" >&2
		return 1
	fi
	wait_until 60 status_connected c1-n1 1 || { echo "$mode/$cable: not connected" >&2; return 1; }
	wait_until 20 lx c1-n1-p1 -- ping -c1 -W1 "$p2" || { echo "$mode/$cable: $p2 unreachable" >&2; return 1; }
	echo "$p2"
}

declare -A RES
for cable in $CABLES; do
	for mode in none bpf nft; do
		dst=$(setup $mode "$cable") || { RES[$cable/$mode]="n/a"; continue; }
		runs=()
		for r in $(seq "$RUNS"); do runs+=("$(iperf "$dst")"); done
		RES[$cable/$mode]="$(printf '%s\n' "${runs[@]}" | median)"
		echo "$cable/$mode: ${runs[*]} Gbit/s" >&2
		stop_agent c1-n1; stop_agent c2-n1
	done
done

echo
echo "globalnet throughput, iperf3 pod -> remote pod through the gateways, ${SECS} s, median of $RUNS"
echo
echo "| cable | no translation | BPF globalnet | nftables globalnet | BPF / none | BPF / nftables |"
echo "|-------|----------------|---------------|--------------------|------------|----------------|"
for cable in $CABLES; do
	n=${RES[$cable/none]} b=${RES[$cable/bpf]} f=${RES[$cable/nft]}
	awk -v c="$cable" -v n="$n" -v b="$b" -v f="$f" 'BEGIN {
		printf "| %-5s | %9s Gbit/s | %8s Gbit/s | %13s Gbit/s | %10s | %14s |\n", c, n, b, f,
			(n > 0 ? sprintf("%.3f", b / n) : "n/a"), (f > 0 ? sprintf("%.3f", b / f) : "n/a") }'
done
echo
if [ -x build/tests/bench/bench_globalnet_bpf ]; then
	build/tests/bench/bench_globalnet_bpf
else
	echo "(build/tests/bench/bench_globalnet_bpf not built: make test-build)"
fi
