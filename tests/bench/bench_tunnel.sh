#!/bin/bash
# Benchmarks of the gateway engine in the netns lab (2 clusters x 1 node x 1 pod):
#  1. time from starting the agents to the first successful cross-cluster pod-to-pod
#     exchange (ICMP echo, retried 20 ms after a failure), median of RUNS runs; every run is a
#     first start: no endpoints in the broker, no cache on disk;
#  2. pod-to-pod TCP throughput through the tunnel (iperf3, one stream, SECS s), subagent
#     side by side with the same two namespaces connected by charon configured by hand with
#     swanctl, alternating (and which goes first alternates too), median of RUNS runs
#     each, iperf3 2 s after both sides report the tunnel up. Same charon binary, the same plugin
#     list (copied from the agent's generated strongswan.conf), the same proposals (from
#     the clusters' ike settings), the same authentication (ECDSA certificates for the
#     cluster IDs from the broker's IKE signing CA, the broker's root as the trust anchor;
#     the hand-made ones signed here with openssl), the same traffic selectors, ESP-in-UDP on 4500 both ways
#     and the same data path (kernel-libipsec's TUN device ipsec0 where the kernel has no
#     ESP, kernel XFRM where it has: tests/bench/bench_kernel_path.sh runs this in the VM
#     test bed). The difference left: the agent routes the remote subnets itself (table
#     150), the hand-made charon lets charon route them (table 220); with kernel-libipsec
#     both through ipsec0, with kernel XFRM the agent's go through its XFRM interface
#     (route-based, policies bound to its if_id) and the hand-made charon's are plain
#     policy-based IPsec, what an operator configures by hand.
#     Every iperf3 run is checked against the CHILD_SA's byte counters: a run whose bytes
#     did not go through the SA is reported and not counted.
# Prints a table; not a pass/fail test. RUNS (default 3), SECS (default 5).
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
. tests/e2e/cluster_lib.sh
RUNS=${RUNS:-3}
SECS=${SECS:-5}
# Not under the lab's state dir: the hand-made charon gets a private /run (like the agent's)
MAN=/tmp/${LAB_PREFIX}bench-manual
# The logs outlive the lab (lab down removes its state dir) for a look afterwards.
KEEP=/tmp/${LAB_PREFIX}bench-tunnel-logs
keep_logs() {
	rm -rf "$KEEP"; mkdir -p "$KEEP"
	cp -r "$SA_RUN/logs/." "$KEEP/" 2>/dev/null
	cp "$MAN"/c*/charon.log "$KEEP/" 2>/dev/null
}
trap 'keep_logs; manual_down >/dev/null 2>&1; "$LAB" down >/dev/null 2>&1; rm -rf "$MAN"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "n/a"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
lx() { "$LAB" exec "$@"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

"$LAB" up --clusters 2 --nodes 1 --pods 1 >/tmp/${LAB_PREFIX}bench-lab-up.log 2>&1 ||
	{ cat /tmp/${LAB_PREFIX}bench-lab-up.log >&2; exit 1; }
lab_start_broker || exit 1
join_cluster c1 && join_cluster c2 || exit 1
IKE_PROP=$(jq -r .ike.ikeProposals "$SA_RUN/c1/cluster.json")
ESP_PROP=$(jq -r .ike.espProposals "$SA_RUN/c1/cluster.json")
P1=10.1.1.11 P2=10.2.1.11
ADMIN=$(cat "$SA_RUN/broker/admin.token")

api() {	# api METHOD PATH: the broker's API with the admin token
	lx broker -- curl -sf -X "$1" --cacert "$SA_RUN/broker/ca.pem" \
		-H "Authorization: Bearer $ADMIN" "https://$BROKER_IP:$BROKER_PORT/apis/subagent.io/v1/$2"
}

# A first start: the broker forgets the gateways' endpoints and statuses, the agents
# their cache.
forget_gateways() {
	local r n
	for r in endpoints gatewaystatuses; do
		for n in $(api GET "$r" | jq -r '.items[].metadata.name'); do
			api DELETE "$r/$n" >/dev/null
		done
	done
	rm -rf "$SA_RUN/state"
}

agent_vici() { echo "unix://$SA_RUN/state/$1/charon/charon.vici"; }
manual_vici() { echo "unix://$MAN/c${1:1:1}/charon.vici"; }

# sa_bytes NODE VICI: bytes-out of NODE's installed CHILD_SAs, summed
sa_bytes() {
	lx "$1" -- swanctl --list-sas --raw --uri "$2" 2>/dev/null |
		grep -o 'bytes-out=[0-9]*' | awk -F= '{s += $2} END {print s + 0}'
}

# sa_algs NODE VICI: "IKE alg/prf/dh, ESP alg" of the first SA (for the fairness line)
sa_algs() {
	lx "$1" -- swanctl --list-sas --uri "$2" 2>/dev/null |
		awk '/^  [A-Z][A-Z_0-9-]*\/.*\// && !i {i=$1} /ESP:/ && !e {e=$NF} END {print "IKE " i ", " e}'
}

# ---- charon configured by hand ----
manual_up() {
	local i o d load
	load=$(grep -m1 '^[[:space:]]*load =' "$SA_RUN/conf-agent.txt")
	for i in 1 2; do
		o=$((3 - i)) d=$MAN/c$i
		mkdir -p "$d/pkcs8"
		# what the broker would sign: ECDSA P-256, SAN = the cluster ID, ipsecIKE
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/pkcs8/key.pem" \
			-out "$d/req.csr" -subj "/CN=c$i" 2>/dev/null
		printf 'subjectAltName=DNS:c%s\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=1.3.6.1.5.5.7.3.17\n' \
			"$i" >"$d/ext"
		openssl x509 -req -in "$d/req.csr" -CA "$SA_RUN/broker/ike-ca.pem" \
			-CAkey "$SA_RUN/broker/ike-ca-key.pem" -CAcreateserial -days 1 -out "$d/cert.pem" \
			-extfile "$d/ext" 2>/dev/null || return 1
		cat >"$d/strongswan.conf" <<EOC
charon {
	load_modular = no
$load
	port = 500
	port_nat_t = 4500
	plugins { vici { socket = unix://$d/charon.vici } }
	filelog { charon { path = $d/charon.log
		default = 1 } }
}
swanctl { socket = unix://$d/charon.vici }
EOC
		cat >"$d/swanctl.conf" <<EOC
connections {
	c$o {
		version = 2
		local_addrs = 198.18.$i.1
		remote_addrs = 198.18.$o.1
		local_port = 4500
		remote_port = 4500
		encap = yes
		mobike = no
		proposals = $IKE_PROP
		send_cert = always
		local { auth = pubkey
			certs = $d/cert.pem
			id = c$i }
		remote { auth = pubkey
			cacerts = $SA_RUN/broker/ca.pem
			id = c$o }
		children {
			c$o {
				local_ts = 10.$i.0.0/16,10.10$i.0.0/16
				remote_ts = 10.$o.0.0/16,10.10$o.0.0/16
				esp_proposals = $ESP_PROP
				mode = tunnel
				start_action = $([ $i = 1 ] && echo start || echo none)
			}
		}
	}
}
authorities {
	root { cacert = $SA_RUN/broker/ca.pem }
	ike { cacert = $SA_RUN/broker/ike-ca.pem }
}
EOC
		# (swanctl loads the key from pkcs8/ next to the --file it is given)
		# kernel-libipsec wants a local address inside every local selector. setsid: a
		# session of its own, like the agent's charon (which shares the agent's): with
		# sched_autogroup the scheduler groups by session, and a charon sharing the
		# benchmark's session (and so its iperf3 client's group) measured ~40% faster
		# than the same charon in a session of its own.
		lx "c$i-n1" -- ip addr replace "10.10$i.0.0/32" dev lo
		lx "c$i-n1" -- unshare -m --propagation private sh -c \
			"mount -t tmpfs tmpfs /run && STRONGSWAN_CONF=$d/strongswan.conf exec setsid /usr/lib/ipsec/charon" \
			</dev/null >/dev/null 2>&1 &
		wait_until 10 test -S "$d/charon.vici" || return 1
	done
	for i in 2 1; do
		STRONGSWAN_CONF=$MAN/c$i/strongswan.conf lx "c$i-n1" -- swanctl --load-all \
			--file "$MAN/c$i/swanctl.conf" >>"$MAN/swanctl.log" 2>&1 || return 1
	done
	wait_until 30 lx c1-n1-p1 -- ping -c1 -W1 $P2
}

manual_down() {
	local p n i
	for n in c1-n1 c2-n1; do
		p=$(charon_pid $n) && kill "$p"
	done
	no_charon() { ! charon_pid c1-n1 >/dev/null && ! charon_pid c2-n1 >/dev/null; }
	wait_until 10 no_charon
	for i in 1 2; do lx "c$i-n1" -- ip addr del "10.10$i.0.0/32" dev lo 2>/dev/null; done
	rm -rf "$MAN"
	return 0
}

agents_up() {
	start_agent c1-n1 --log-level warn && start_agent c2-n1 --log-level warn
}
agents_down() {
	stop_agent c1-n1; stop_agent c2-n1
	no_charon() { ! charon_pid c1-n1 >/dev/null && ! charon_pid c2-n1 >/dev/null; }
	wait_until 10 no_charon || echo "an agent's charon outlived its agent" >&2
}

# iperf VICI_FN: Gbit/s received, or "bad" when the bytes did not go through the SA
iperf() {
	local vici before after sent gbps out
	vici=$($1 c1-n1)
	lx c2-n1-p1 -- iperf3 -s -1 -D -p 5201 >/dev/null 2>&1
	wait_until 5 lx c2-n1-p1 -- sh -c "ss -ltn | grep -q ':5201 '"
	before=$(sa_bytes c1-n1 "$vici")
	out=$(lx c1-n1-p1 -- timeout $((SECS + 20)) iperf3 -c $P2 -p 5201 -t "$SECS" -J 2>/dev/null)
	after=$(sa_bytes c1-n1 "$vici")
	# the bytes the receiver got (they crossed the tunnel), not those the sender wrote:
	# on a slow path (the VM under emulation) the sender's socket still holds some at the end
	sent=$(jq -r '.end.sum_received.bytes // 0' <<<"$out")
	gbps=$(jq -r '.end.sum_received.bits_per_second // 0 | . / 1e9 * 1000 | round / 1000' <<<"$out")
	if [ "$sent" -gt 0 ] && [ $((after - before)) -ge "$sent" ]; then
		echo "$gbps"
	else
		echo "iperf3 through $1: $sent bytes received, the SA counted $((after - before))" >&2
		echo bad
	fi
}

# one subagent round: a first start timed to the first exchange, then iperf3
round_subagent() {
	local t0 v
	forget_gateways
	t0=$(now_ms)
	agents_up
	# one process in the pod's namespace polls: no exec cost per attempt
	if lx c1-n1-p1 -- timeout 60 sh -c \
		"until ping -c1 -W0.2 $P2 >/dev/null 2>&1; do sleep 0.02; done"; then
		first_ms+=($(( $(now_ms) - t0 )))
	else
		echo "run $r: no pod-to-pod exchange within 60 s" >&2
		tail -5 "$SA_RUN/logs/agent-c1-n1.log" >&2
	fi
	# iperf3 once both gateways say connected and the start has settled
	wait_until 30 status_connected c1-n1 1 && wait_until 30 status_connected c2-n1 1 ||
		echo "run $r: the agents do not both report connected" >&2
	sleep 2
	[ -f "$SA_RUN/conf-agent.txt" ] || cp "$SA_RUN/state/c1-n1/charon/strongswan.conf" "$SA_RUN/conf-agent.txt"
	[ -n "$algs_sa" ] || algs_sa=$(sa_algs c1-n1 "$(agent_vici c1-n1)")
	v=$(iperf agent_vici); [ "$v" = bad ] || thr_sa+=("$v")
	agents_down
}

round_manual() {
	local v
	if manual_up; then
		sleep 2
		[ -n "$algs_man" ] || algs_man=$(sa_algs c1-n1 "$(manual_vici c1-n1)")
		v=$(iperf manual_vici); [ "$v" = bad ] || thr_man+=("$v")
	else
		echo "run $r: the hand-configured charons did not connect" >&2
	fi
	manual_down
}

first_ms=() thr_sa=() thr_man=() algs_sa="" algs_man=""
# the first round gives the agent's strongswan.conf, which the hand-made charon copies
r=1; round_subagent
for r in $(seq 2 "$RUNS") $((RUNS + 1)); do
	# alternate which of the two goes first
	if [ $((r % 2)) = 0 ]; then
		round_manual
		[ "$r" -le "$RUNS" ] && round_subagent
	else
		[ "$r" -le "$RUNS" ] && round_subagent
		round_manual
	fi
done

fm=$(printf '%s\n' "${first_ms[@]}" | median)
ts=$(printf '%s\n' "${thr_sa[@]}" | median)
tm=$(printf '%s\n' "${thr_man[@]}" | median)
echo
# the data path, from the plugins of the agent's charon (kernel-libipsec or not)
if grep -q kernel-libipsec "$SA_RUN/conf-agent.txt" 2>/dev/null; then dp=kernel-libipsec
else dp="kernel XFRM: subagent route-based, by hand policy-based"
fi
echo "gateway engine, 2 clusters in the lab, $RUNS runs, iperf3 1 TCP stream ${SECS} s ($dp)"
echo "SAs: subagent $algs_sa; by hand $algs_man"
printf '%-58s %s\n' "agents started -> first pod-to-pod exchange (median)" "$fm ms   (runs: ${first_ms[*]})"
printf '%-58s %s\n' "iperf3 pod->pod through subagent (median)" "$ts Gbit/s   (runs: ${thr_sa[*]})"
printf '%-58s %s\n' "iperf3 pod->pod through hand-configured charon (median)" "$tm Gbit/s   (runs: ${thr_man[*]})"
awk -v a="$ts" -v b="$tm" 'BEGIN { if (b > 0) printf "%-58s %.2f\n", "ratio subagent / by hand", a / b }'
