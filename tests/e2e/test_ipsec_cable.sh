#!/bin/bash
# End-to-end test of the ipsec cable driver against the real charon: two network
# namespaces svi-a and svi-b on a switch (a bridge in svi-sw, 198.18.100.0/24), each with a
# "pod subnet" (10.201.1.1/24, 10.202.1.1/24), each running tests/unit/ipsec_node, which
# starts its own charon (private /run) through agent/cable/strongswan/charon.c and connects
# the ipsec cable. Asserts: IKE and CHILD SAs up; pod-to-pod ping; list-sas counters move;
# the wire carries UDP/4500 only (no plaintext ICMP between the subnets); a SIGKILLed charon
# is noticed and the restarted one brings the tunnel back; disconnect removes the SA on both
# sides. Either data path (kernel XFRM in the VM test bed, kernel-libipsec here). The wire is
# captured on the switch, not on a node: with kernel XFRM a node's own device shows each
# packet it decrypts a second time, in clear, after XFRM input.
# Usage: tests/e2e/test_ipsec_cable.sh  (root; ASAN=1 uses the ASan build of the helper)
set -eu
cd "$(dirname "$0")/../.."

T=test_ipsec_cable
NODE=build/tests/unit/ipsec_node
if [ "${ASAN:-0}" = 1 ]; then
	NODE=build/asan/tests/unit/ipsec_node
	T=test_ipsec_cable_asan
	export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
NSA=svi-a NSB=svi-b NSW=svi-sw NSP=svi-p
WORK=""
PIDS=()

skip() { echo "SKIP: $T ($*)"; exit 0; }
fail() {
	echo "FAIL: $T: $*"
	for s in a b; do
		[ -n "$WORK" ] || break
		echo "---- node $s log (tail)"; tail -n 25 "$WORK/$s/node.log" 2>/dev/null | sed 's/^/    /'
		echo "---- charon $s log (tail)"; tail -n 15 "$WORK/$s/charon.log" 2>/dev/null | sed 's/^/    /'
		echo "---- status $s"; cat "$WORK/$s/status" 2>/dev/null | sed 's/^/    /'
	done
	exit 1
}
pass() { echo "PASS: $T:$1"; }

[ "$(id -u)" -eq 0 ] || skip "needs root"
[ -x /usr/lib/ipsec/charon ] || skip "charon not installed"
[ -x "$NODE" ] || skip "$NODE not built (make test-build)"
command -v tcpdump >/dev/null || skip "tcpdump missing"
for ns in $NSA $NSB $NSW $NSP; do
	ip netns list | grep -qw "^$ns" && skip "namespace $ns exists (another run?)"
done

cleanup() {
	set +e
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	ip netns del $NSA 2>/dev/null
	ip netns del $NSB 2>/dev/null
	ip netns del $NSW 2>/dev/null
	ip netns del $NSP 2>/dev/null
	[ -n "$WORK" ] && [ "${KEEP:-0}" != 1 ] && rm -rf "$WORK"
}
trap cleanup EXIT

# poll SECONDS CMD...: true as soon as CMD succeeds, false after SECONDS.
poll() {
	local end=$((SECONDS + $1)); shift
	while [ $SECONDS -lt $end ]; do
		"$@" && return 0
		sleep 0.2
	done
	return 1
}
status_field() { # status_field a|b key
	sed -n "s/.*\b$2=\([^ ]*\).*/\1/p" "$WORK/$1/status" 2>/dev/null | head -1
}
connected() { [ "$(status_field "$1" connected)" = 1 ]; }
evup() { [ "$(status_field "$1" evup)" = 1 ]; }
not_connected() { [ -s "$WORK/$1/status" ] && [ "$(status_field "$1" connected)" != 1 ]; }
charon_of() { # the charon child of our helper
	cat "/proc/$1/task/$1/children" 2>/dev/null | tr ' ' '\n' | grep -m1 .
}
ms() { date +%s%3N; }

WORK=$(mktemp -d /tmp/svi-ipsec-XXXXXX)
mkdir -p "$WORK/a" "$WORK/b"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/psk"
chmod 600 "$WORK/psk"

# ---- topology (everything inside our namespaces) ----
ip netns add $NSA
ip netns add $NSB
ip netns add $NSW
ip -n $NSW link add br0 type bridge
ip -n $NSA link add svi-va type veth peer name svi-pa netns $NSW
ip -n $NSB link add svi-vb type veth peer name svi-pb netns $NSW
for l in svi-pa svi-pb; do ip -n $NSW link set $l master br0 up; done
ip -n $NSW link set br0 up
ip netns exec $NSW sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n $NSA addr add 198.18.100.1/24 dev svi-va
ip -n $NSB addr add 198.18.100.2/24 dev svi-vb
# The kernel here has no dummy driver: a veth pair with both ends in the namespace stands
# in for the pod interface.
ip -n $NSA link add svi-pod type veth peer name svi-pod-p
ip -n $NSB link add svi-pod type veth peer name svi-pod-p
ip -n $NSA addr add 10.201.1.1/24 dev svi-pod
ip -n $NSB addr add 10.202.1.1/24 dev svi-pod
for ns in $NSA $NSB; do
	# no IPv6 chatter: the capture below must hold nothing but the tunnel
	ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	for l in lo svi-pod svi-pod-p; do ip -n $ns link set $l up; done
done
ip -n $NSA link set svi-va up
ip -n $NSB link set svi-vb up
poll 10 ip netns exec $NSA ping -c1 -W1 198.18.100.2 >/dev/null || fail "underlay ping"

start_node() { # start_node a|b ns id ip subnet rid rip rsubnet
	local s=$1 ns=$2; shift 2
	ip netns exec "$ns" "$NODE" --dir "$WORK/$s" --id "$1" --ip "$2" --subnet "$3" \
		--remote-id "$4" --remote-ip "$5" --remote-subnet "$6" --psk-file "$WORK/psk" \
		--ike aes256gcm16-prfsha256-ecp256 --esp aes256gcm16-ecp256 \
		>"$WORK/$s/node.log" 2>&1 &
	PIDS+=($!)
	eval "PID_$s=$!"
}

t0=$(ms)
start_node a $NSA c1 198.18.100.1 10.201.1.0/24 c2 198.18.100.2 10.202.1.0/24
start_node b $NSB c2 198.18.100.2 10.202.1.0/24 c1 198.18.100.1 10.201.1.0/24

# (generous: the first charon of a VM boot reads its libraries over 9p under emulation)
poll 60 connected a || fail "tunnel a->b did not come up"
poll 60 connected b || fail "tunnel b->a did not come up"
for s in a b; do poll 5 evup $s || fail "node $s: no up event"; done
echo "     tunnel up $(( $(ms) - t0 )) ms after start"
grep -q "data path: libipsec\|data path: kernel" "$WORK/a/node.log" || fail "no data path decision logged"
grep -o "charon data path: [a-z]* ([^)]*)" "$WORK/a/node.log" | head -1 | sed 's/^/     /'
pass ike_and_child_sa_up

# ---- ping across, with tcpdump on the wire (the switch's port to b) ----
ip netns exec $NSW tcpdump -i svi-pb -n --immediate-mode -U -w "$WORK/wire.pcap" >"$WORK/tcpdump.log" 2>&1 &
TCPDUMP=$!
PIDS+=($TCPDUMP)
poll 10 grep -q "listening on" "$WORK/tcpdump.log" || fail "tcpdump did not start"
ip netns exec $NSA ping -c 5 -i 0.2 -W 2 -I 10.201.1.1 10.202.1.1 >"$WORK/ping.log" 2>&1 ||
	{ cat "$WORK/ping.log"; fail "ping 10.201.1.1 -> 10.202.1.1 through the tunnel"; }
grep -o 'rtt .*' "$WORK/ping.log" | sed 's/^/     /'
pass ping_across_tunnel

# ---- the tunnel device: one L3 device where the routes point, whichever data path ----
if grep -q "charon data path: kernel" "$WORK/a/node.log"; then DEV=sa-xfrm0; else DEV=ipsec0; fi
route=$(ip -n $NSA route show table 150 10.202.1.0/24)
[[ $route == *"dev $DEV "* && $route == *" mtu "* ]] ||
	fail "route to 10.202.1.0/24 in table 150: '$route' (want dev $DEV with an mtu)"
if [ $DEV = sa-xfrm0 ]; then
	# charon's kernel-netlink installs no route of its own (kernel-libipsec does, in
	# table 220, through the same ipsec0)
	! ip -n $NSA route show table 220 2>/dev/null | grep -q "^[0-9]" || fail "charon installed routes (table 220: $(ip -n $NSA route show table 220 2>&1))"
	# route-based: every policy and SA belongs to the interface's if_id; its MTU leaves room
	# for ESP in UDP on the 1500-byte underlay
	ip -n $NSA -d link show sa-xfrm0 | grep -q "xfrm if_id 0x5341" || fail "sa-xfrm0: $(ip -n $NSA -d link show sa-xfrm0 2>&1)"
	[ "$(ip -n $NSA xfrm policy | grep -c 'if_id 0x5341')" -ge 2 ] || fail "charon's policies carry no if_id"
	[ "$(ip -n $NSA xfrm state | grep -c 'if_id 0x5341')" -ge 2 ] || fail "charon's SAs carry no if_id"
	[[ $route == *" mtu 1406 "* ]] || fail "route MTU: '$route' (want 1406)"
fi
echo "     $route"
pass tunnel_device_routes

sleep 0.5	# status is rewritten every 300 ms
for s in a b; do
	for k in bytes_in bytes_out packets_in packets_out; do
		v=$(status_field $s $k)
		[ "${v:-0}" -gt 0 ] || fail "node $s: $k is ${v:-unset}"
	done
done
echo "     a: $(grep -o 'bytes_in=[0-9]* bytes_out=[0-9]* packets_in=[0-9]* packets_out=[0-9]*' "$WORK/a/status")"
pass sa_counters_moved

kill -INT $TCPDUMP
wait $TCPDUMP 2>/dev/null || true
# (the bridge itself reports its multicast groups: IGMP is not the nodes' traffic)
total=$(tcpdump -r "$WORK/wire.pcap" -n 'ip' 2>/dev/null | wc -l)
other=$(tcpdump -r "$WORK/wire.pcap" -n 'not arp and not igmp and not (udp port 4500)' 2>/dev/null | wc -l)
plain=$(tcpdump -r "$WORK/wire.pcap" -n 'icmp and (net 10.201.0.0/16 or net 10.202.0.0/16)' 2>/dev/null | wc -l)
[ "$total" -ge 10 ] || { tcpdump -r "$WORK/wire.pcap" -n 2>/dev/null | sed "s/^/    /"; fail "captured only $total IP packets on the wire"; }
[ "$other" -eq 0 ] || { tcpdump -r "$WORK/wire.pcap" -n 'not arp and not igmp and not (udp port 4500)' 2>/dev/null | head | sed "s/^/    /"; fail "$other packets on the wire were not UDP/4500"; }
[ "$plain" -eq 0 ] || fail "$plain plaintext ICMP packets between the subnets on the wire"
echo "     wire: $total IP packets, all UDP/4500"
pass underlay_is_udp4500_only

# ---- kill charon on side a: the driver notices and the restarted charon reconnects ----
old=$(charon_of "$PID_a")
[ -n "$old" ] || fail "no charon child of node a"
t0=$(ms)
kill -KILL "$old"
poll 10 grep -q "charon died" "$WORK/a/node.log" || fail "charon death not noticed"
poll 40 connected a || fail "tunnel not back after charon restart (a)"
poll 40 connected b || fail "tunnel not back after charon restart (b)"
new=$(charon_of "$PID_a")
[ -n "$new" ] && [ "$new" != "$old" ] || fail "charon was not restarted ($old -> $new)"
poll 15 ip netns exec $NSA ping -c1 -W1 -I 10.201.1.1 10.202.1.1 >/dev/null ||
	fail "ping after charon restart"
rec=$(( $(ms) - t0 ))
# the old SAs the restart left on b going away must not count as the tunnel going down
sleep 1
for s in a b; do evup $s || fail "node $s: events say down after recovery"; done
echo "     recovered ${rec} ms after SIGKILL of charon $old (new charon $new)"
pass charon_restart_restores_tunnel

# ---- a peer without SAs: a pod's connect waits, it is not refused ----
# A pod (namespace svi-p, 10.201.1.100 behind a) connects while the tunnel is down: b hears
# no IKE (dropped) and a's SAs are gone. Through kernel-libipsec the SYN is dropped without
# a word and sent again; an XFRM interface without an SA would answer ICMP host unreachable,
# ending the connect at once, so there the driver routes a peer without a CHILD_SA into a
# blackhole.
ip netns add $NSP
ip -n $NSA link add svi-pa type veth peer name svi-pp netns $NSP
ip -n $NSP addr add 10.201.1.100/32 dev svi-pp
ip -n $NSP link set lo up
ip -n $NSP link set svi-pp up
ip -n $NSA link set svi-pa up
ip -n $NSP route add 10.201.1.1 dev svi-pp
ip -n $NSP route add default via 10.201.1.1 dev svi-pp onlink
ip -n $NSA route add 10.201.1.100/32 dev svi-pa
ip netns exec $NSA sysctl -qw net.ipv4.ip_forward=1
poll 15 ip netns exec $NSP ping -c1 -W1 10.202.1.1 >/dev/null || fail "pod svi-p: no ping through the tunnel"
ip netns exec $NSB nft -f - <<-'NFT'
table ip svi_block {
	chain in { type filter hook input priority -300; policy accept; udp dport { 500, 4500 } drop; }
}
NFT
downs() { grep -c 'CHILD_SA #[0-9]* down' "$WORK/a/node.log" || true; }
d0=$(downs)
# (its exit status is not the point: the SA going away is)
swanctl --terminate --ike c2 --force --timeout 5 --uri "unix://$WORK/a/charon.vici" \
	>"$WORK/terminate.log" 2>&1 || true
poll 10 sh -c "[ \$(grep -c 'CHILD_SA #[0-9]* down' '$WORK/a/node.log') -gt $d0 ]" || fail "no CHILD_SA down event ($(cat "$WORK/terminate.log"))"
err=$(ip netns exec $NSP socat -T1 - TCP4:10.202.1.1:9,connect-timeout=3 </dev/null 2>&1 || true)
[[ $err == *"timed out"* ]] || fail "connect while the tunnel is down: '$err' (want a timeout)"
if [ $DEV = sa-xfrm0 ]; then
	poll 5 sh -c "ip -n $NSA route show table 150 10.202.1.0/24 | grep -q '^blackhole'" ||
		fail "route while the peer has no SA: '$(ip -n $NSA route show table 150 10.202.1.0/24)'"
fi
echo "     tunnel down: $(ip -n $NSA route show table 150 10.202.1.0/24); a pod's connect: ${err##*: }"
ip netns exec $NSB nft delete table ip svi_block
poll 60 connected a || fail "tunnel not back after the block"
poll 15 sh -c "ip -n $NSA route show table 150 10.202.1.0/24 | grep -q 'dev $DEV'" ||
	fail "route after the tunnel came back: '$(ip -n $NSA route show table 150 10.202.1.0/24)'"
poll 15 ip netns exec $NSP ping -c1 -W1 10.202.1.1 >/dev/null || fail "pod svi-p: no ping after the tunnel came back"
pass peer_down_connect_waits

# ---- our XFRM interface deleted by hand: the driver makes it again, routes and all ----
if [ $DEV = sa-xfrm0 ]; then
	ip -n $NSA link del sa-xfrm0
	poll 15 ip netns exec $NSA ping -c1 -W1 -I 10.201.1.1 10.202.1.1 >/dev/null ||
		fail "no ping after sa-xfrm0 was deleted ($(ip -n $NSA route show table 150))"
	grep -q "sa-xfrm0 is gone; making it again" "$WORK/a/node.log" || fail "no log of sa-xfrm0 made again"
	pass xfrm_device_made_again
else
	echo "SKIP: $T:xfrm_device_made_again (data path libipsec: ipsec0 is charon's)"
fi

# ---- disconnect: the SA goes away on both sides ----
echo disconnect >"$WORK/a/ctl"
poll 15 grep -q "cluster=none" "$WORK/a/status" || fail "a still lists the connection"
poll 20 not_connected b || fail "b still has the SA after a disconnected"
ip netns exec $NSA ping -c1 -W1 -I 10.201.1.1 10.202.1.1 >/dev/null 2>&1 &&
	fail "ping still works after disconnect"
pass disconnect_removes_sa

# ---- clean stop: charon goes with the helper; no sanitizer reports (ASAN=1) ----
for s in a b; do
	pid=$(eval echo "\$PID_$s")
	ch=$(charon_of "$pid")
	echo quit >"$WORK/$s/ctl"
	poll 10 sh -c "! kill -0 $pid 2>/dev/null" || fail "node $s did not quit"
	rc=0; wait "$pid" || rc=$?
	[ "$rc" -eq 0 ] || fail "node $s exited with $rc"
	[ -z "$ch" ] || poll 5 sh -c "! kill -0 $ch 2>/dev/null" || fail "charon $ch outlived node $s"
done
grep -q "Sanitizer\|runtime error" "$WORK"/a/node.log "$WORK"/b/node.log &&
	fail "sanitizer report in node logs"
pass clean_stop
