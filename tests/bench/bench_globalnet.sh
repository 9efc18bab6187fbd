#!/bin/bash
# Globalnet through the gateways in the netns lab (2 clusters x 1 node x PODS pods), per cable
# driver and translator:
#   none  non-overlapping clusters, broker without globalnet: no translation at all
#   bpf   overlapping clusters, globalnet with the tc BPF programs (the agent's default)
#   nft   overlapping clusters, globalnet addresses and tunnels, but the translation done
#         by nftables on the tunnel device (SNAT to the 8 cluster egress IPs with port
#         translation, DNAT of the ingress IPs): what Submariner does with iptables
# Three loads, each the median of RUNS runs of SECS seconds, pods of c1 -> a pod of c2:
#   bulk   one iperf3 TCP stream (cannot tell translators apart: the stream costs one
#          translation per packet of an established flow, and the tunnel bounds it);
#   conns  new TCP connections per second: every pod of c1 keeps CONC connections in flight,
#          each connect, one byte each way, close (tests/bench/flowgen tcp-rate): every
#          connection is a new translation, a new flow to track and one to expire;
#   udp    datagrams per second received, 64-byte UDP over FLOWS concurrent flows (FLOWS
#          source ports, flowgen udp-blast): the translator's per-packet cost and its table.
# The ipsec cable takes whichever data path the kernel has (kernel-libipsec here, kernel
# XFRM in the VM test bed: tests/bench/bench_kernel_path.sh); the table says which.
# Then the ns/packet figures of the BPF programs (build/tests/bench/bench_globalnet_bpf).
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
PODS=${PODS:-4}
CONC=${CONC:-8}
FLOWS=${FLOWS:-1000}
FLOWGEN=$PWD/build/tests/bench/flowgen
[ -x "$FLOWGEN" ] || { echo "$FLOWGEN not built (make test-build)" >&2; exit 1; }
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

# conns DST: new TCP connections per second, summed over the pods of c1
conns() {
	local p out=() total
	for p in $(seq "$PODS"); do
		lx "c1-n1-p$p" -- timeout $((SECS + 15)) "$FLOWGEN" tcp-rate "$1" 7000 "$SECS" "$CONC" \
			>"$SA_RUN/conns.$p" 2>&1 &
		out+=($!)
	done
	wait "${out[@]}"
	total=$(cat "$SA_RUN"/conns.* | awk '$1 == "conns" { s += $6 } END { printf "%.0f", s }')
	grep -h errors "$SA_RUN"/conns.* | awk '$8 > 0 { e += $8 } END { if (e) print "  (" e " failed connections)" }' >&2
	rm -f "$SA_RUN"/conns.*
	echo "${total:-0}"
}

# udp DST: datagrams per second the pod of c2 received from FLOWS flows of c1-n1-p1
udp() {
	local sink
	lx c2-n1-p1 -- timeout $((SECS + 20)) "$FLOWGEN" udp-sink 7001 $((SECS + 5)) >"$SA_RUN/udp.sink" 2>&1 &
	sink=$!
	wait_until 5 bash -c "ip netns exec ${LAB_PREFIX}c2-n1-p1 ss -lun | grep -q :7001"
	lx c1-n1-p1 -- timeout $((SECS + 15)) "$FLOWGEN" udp-blast "$1" 7001 "$SECS" "$FLOWS" 64 >"$SA_RUN/udp.blast" 2>&1
	wait "$sink"
	awk '$1 == "pkts" { printf "%.0f", $6 }' "$SA_RUN/udp.sink" | grep . || echo 0
	rm -f "$SA_RUN"/udp.*
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

# kernel_esp: the lab's kernel takes an ESP SA (kernel XFRM), as the agent probes it
kernel_esp() {
	lx c1-n1 -- ip xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x5341 mode tunnel \
		aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128 2>/dev/null &&
		lx c1-n1 -- ip xfrm state del src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x5341
}

# setup MODE CABLE: a fresh lab, broker, clusters and agents; prints the iperf3 target
setup() {
	local mode=$1 cable=$2 dev
	if [ "$mode" = none ]; then
		"$LAB" up --clusters 2 --nodes 1 --pods "$PODS" >/dev/null || return 1
		lab_start_broker >&2 || return 1
	else
		"$LAB" up --clusters 2 --nodes 1 --pods "$PODS" --overlap >/dev/null || return 1
		lab_start_broker --globalnet >&2 || return 1
	fi
	join_cluster c1 --cable-driver "$cable" && join_cluster c2 --cable-driver "$cable" || return 1
	# the ipsec cable's device depends on the data path the kernel offers, as the agent's
	# own probe decides: kernel ESP gives the XFRM interface, none charon's TUN device
	if [ "$cable" = vxlan ]; then dev=sa-vx0
	elif kernel_esp; then dev=sa-xfrm0
	else dev=ipsec0
	fi
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

# the flowgen server in c2's first pod, for every mode
servers() { lx c2-n1-p1 -- setsid -f "$FLOWGEN" tcp-serve 7000 </dev/null >/dev/null 2>&1; }

declare -A RES PATHS
for cable in $CABLES; do
	for mode in none bpf nft; do
		dst=$(setup $mode "$cable") || { RES[$cable/$mode/bulk]="n/a"; continue; }
		PATHS[$cable]=$cable
		if [ "$cable" = ipsec ] && kernel_esp; then PATHS[$cable]="ipsec (kernel XFRM)"
		elif [ "$cable" = ipsec ]; then PATHS[$cable]="ipsec (kernel-libipsec)"
		fi
		servers
		for load in bulk conns udp; do
			runs=()
			for r in $(seq "$RUNS"); do
				case $load in
				bulk) runs+=("$(iperf "$dst")");;
				conns) runs+=("$(conns "$dst")");;
				udp) runs+=("$(udp "$dst")");;
				esac
			done
			RES[$cable/$mode/$load]="$(printf '%s\n' "${runs[@]}" | median)"
			echo "$cable/$mode/$load: ${runs[*]}" >&2
		done
		stop_agent c1-n1; stop_agent c2-n1
	done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0 && a > 0) printf "%.2f", a / b; else printf "n/a" }'; }
echo
echo "globalnet through the gateways: c1's pods -> a pod of c2, median of $RUNS runs of ${SECS} s"
echo "(bulk: one iperf3 TCP stream, Gbit/s; conns: new TCP connections/s from $PODS pods x $CONC in flight;"
echo " udp: 64-byte datagrams/s received over $FLOWS flows)"
echo
echo "| cable (data path) | load | no translation | BPF | nftables | BPF / none | BPF / nftables | nftables / none |"
echo "|---|---|---|---|---|---|---|---|"
for cable in $CABLES; do
	for load in bulk conns udp; do
		n=${RES[$cable/none/$load]:-n/a} b=${RES[$cable/bpf/$load]:-n/a} f=${RES[$cable/nft/$load]:-n/a}
		echo "| ${PATHS[$cable]:-$cable} | $load | $n | $b | $f | $(ratio "$b" "$n") | $(ratio "$b" "$f") | $(ratio "$f" "$n") |"
	done
done
echo
if [ -x build/tests/bench/bench_globalnet_bpf ]; then
	build/tests/bench/bench_globalnet_bpf
else
	echo "(build/tests/bench/bench_globalnet_bpf not built: make test-build)"
fi
