#!/bin/bash
# Benchmarks of the gateway engine in the netns lab (2 clusters x 1 node x 1 pod):
#  1. time from starting the agents to the first successful cross-cluster pod-to-pod
#     exchange (ping every 50 ms), median of RUNS runs;
#  2. pod-to-pod TCP throughput through the tunnel (iperf3, 5 s), subagent side by side
#     with the same two namespaces connected by charon configured by hand with swanctl
#     (same charon, same plugins, same proposals), alternating, median of RUNS runs each.
# Prints a table; not a pass/fail test.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
. tests/e2e/cluster_lib.sh
RUNS=${RUNS:-3}
SECS=${SECS:-5}
MAN=/tmp/sa-bench-manual
trap '"$LAB" down >/dev/null 2>&1; rm -rf "$MAN"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "n/a"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
lx() { "$LAB" exec "$@"; }

"$LAB" up --clusters 2 --nodes 1 --pods 1 >/dev/null || exit 1
start_broker || exit 1
join_cluster c1 && join_cluster c2 || exit 1
PSK=$(cat "$SA_RUN/broker/psk")
P1=10.1.1.11 P2=10.2.1.11

# ---- charon configured by hand ----
manual_up() {
	local i
	for i in 1 2; do
		local o=$((3 - i)) d=$MAN/c$i
		mkdir -p "$d"
		cat >"$d/strongswan.conf" <<EOC
charon {
	load_modular = no
	load = random nonce openssl aes sha1 sha2 hmac gcm curve25519 gmp pem pkcs1 pkcs8 x509 pubkey constraints kdf kernel-libipsec kernel-netlink socket-default vici
	port = 4500
	port_nat_t = 4500
	plugins { vici { socket = unix://$d/charon.vici } }
	filelog { charon { path = $d/charon.log
		default = 1 } }
}
swanctl { socket = unix://$d/charon.vici }
EOC
		cat >"$d/swanctl.conf" <<EOC
connections {
	bench {
		version = 2
		local_addrs = 198.18.$i.1
		remote_addrs = 198.18.$o.1
		local_port = 4500
		remote_port = 4500
		encap = yes
		proposals = aes256gcm16-prfsha256-ecp256
		local { auth = psk
			id = c$i }
		remote { auth = psk
			id = c$o }
		children {
			bench {
				local_ts = 10.$i.0.0/16
				remote_ts = 10.$o.0.0/16
				esp_proposals = aes256gcm16-ecp256
				mode = tunnel
				start_action = $([ $i = 1 ] && echo start || echo none)
			}
		}
	}
}
secrets { ike-bench { id-1 = c1
	id-2 = c2
	secret = 0x$PSK } }
EOC
		lx "c$i-n1" -- unshare -m --propagation private sh -c \
			"mount -t tmpfs tmpfs /run && STRONGSWAN_CONF=$d/strongswan.conf exec setsid /usr/lib/ipsec/charon" \
			</dev/null >/dev/null 2>&1 &
		wait_until 10 test -S "$d/charon.vici"
	done
	for i in 2 1; do
		STRONGSWAN_CONF=$MAN/c$i/strongswan.conf lx "c$i-n1" -- swanctl --load-all \
			--file "$MAN/c$i/swanctl.conf" >/dev/null
	done
	wait_until 20 lx c1-n1-p1 -- ping -c1 -W1 $P2
}

manual_down() {
	local p n
	for n in c1-n1 c2-n1; do
		p=$(charon_pid $n) && kill "$p"
	done
	no_charon() { ! charon_pid c1-n1 >/dev/null && ! charon_pid c2-n1 >/dev/null; }
	wait_until 10 no_charon
	rm -rf "$MAN"
}

agents_up() {
	start_agent c1-n1 --log-level warn && start_agent c2-n1 --log-level warn
}
agents_down() { stop_agent c1-n1; stop_agent c2-n1; }

iperf() {
	lx c2-n1-p1 -- iperf3 -s -1 -D -p 5201 >/dev/null 2>&1
	sleep 0.3
	lx c1-n1-p1 -- iperf3 -c $P2 -p 5201 -t "$SECS" -J 2>/dev/null |
		jq -r '.end.sum_received.bits_per_second / 1e9 | . * 1000 | round / 1000'
}

first_ms=() thr_sa=() thr_man=()
for r in $(seq "$RUNS"); do
	# subagent: time to first exchange, then throughput
	t0=$(date +%s%N)
	agents_up
	until lx c1-n1-p1 -- ping -c1 -W0.05 $P2 >/dev/null 2>&1; do
		[ $(( ($(date +%s%N) - t0) / 1000000000 )) -ge 60 ] && break
		sleep 0.05
	done
	first_ms+=($(( ($(date +%s%N) - t0) / 1000000 )))
	thr_sa+=("$(iperf)")
	agents_down
	manual_up || echo "manual charon did not connect" >&2
	thr_man+=("$(iperf)")
	manual_down
done

fm=$(printf '%s\n' "${first_ms[@]}" | median)
ts=$(printf '%s\n' "${thr_sa[@]}" | median)
tm=$(printf '%s\n' "${thr_man[@]}" | median)
echo
echo "gateway engine, 2 clusters in the lab, $RUNS runs (kernel-libipsec data path)"
printf '%-58s %s\n' "agents started -> first pod-to-pod exchange (median)" "$fm ms   (runs: ${first_ms[*]})"
printf '%-58s %s\n' "iperf3 pod->pod through subagent (median)" "$ts Gbit/s   (runs: ${thr_sa[*]})"
printf '%-58s %s\n' "iperf3 pod->pod through hand-configured charon (median)" "$tm Gbit/s   (runs: ${thr_man[*]})"
awk -v a="$ts" -v b="$tm" 'BEGIN { if (b > 0) printf "%-58s %.2f\n", "ratio subagent / by hand", a / b }'
