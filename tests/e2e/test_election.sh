#!/bin/bash
# Gateway election over real UDP broadcast between network namespaces: three gateway-capable
# nodes (sel-n1..3) and one plain node (sel-n4) on a bridge (sel-sw), each running
# build/tests/bench/election_node. Checks: exactly one active; failover after kill -9 within
# dead + 2 intervals (measured); the old active comes back and does not take the role back;
# the active restarted within 300 ms keeps the role (state file, no failover); forged
# heartbeats (wrong key) are ignored; partition then heal leaves one active.
# SA_TIME_SCALE=N (default 1) multiplies the protocol's timers and every time bound checked
# against them: the VM test bed sets it under emulation (TCG), where restarting a process
# takes longer than the 600 ms dead time. The bounds stay the same multiples of the timers.
set -u
T_NAME=election
. "$(dirname "$0")/../lib.sh"

NODE=$ROOT/build/tests/bench/election_node
INTERVAL_MS=$((100 * T_SCALE))	# T_SCALE: SA_TIME_SCALE, see tests/lib.sh
DEAD_MS=$((600 * T_SCALE))
RESTART_MS=$((300 * T_SCALE))	# a restart faster than this must not cause a failover
NS=(sel-n1 sel-n2 sel-n3 sel-n4)
declare -A PID

[ "$(id -u)" -eq 0 ] || { t_skip all "needs root"; exit 0; }
[ -x "$NODE" ] || { t_fail all "missing $NODE (make test-build)"; exit 1; }
ip netns add sel-probe 2>/dev/null && ip netns del sel-probe ||
	{ t_skip all "cannot create network namespaces"; exit 0; }

T=$(mktemp -d /tmp/sel-election.XXXXXX)
cleanup() {
	local p
	for p in "${PID[@]}"; do kill -9 "$p" 2>/dev/null; done
	for p in "${PID[@]}"; do wait "$p" 2>/dev/null; done
	for ns in "${NS[@]}" sel-x sel-sw; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

now_ns() { date +%s%N; }

# ---- the node network: 10.77.0.0/24 on a bridge ----
ip netns add sel-sw
ip -n sel-sw link add br0 type bridge
ip -n sel-sw link set br0 up
i=0
for ns in "${NS[@]}" sel-x; do
	i=$((i + 1)); [ "$ns" = sel-x ] && i=9
	ip netns add "$ns"
	ip -n "$ns" link add eth0 type veth peer name "v$i" netns sel-sw
	ip -n "$ns" addr add "10.77.0.$i/24" brd 10.77.0.255 dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" link set lo up
	ip -n sel-sw link set "v$i" master br0 up
done
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/key"
echo "this-is-not-the-cluster-key-at-all" >"$T/badkey"
chmod 600 "$T/key"

# start N [extra flags]: node nN in its namespace, output appended to $T/nN.log
start() {
	local n=$1; shift
	ip netns exec "sel-n$n" "$NODE" --cluster c1 --name "n$n" --ip "10.77.0.$n" \
		--bcast 10.77.0.255 --key-file "$T/key" --state-dir "$T/state-n$n" \
		--status "$T/n$n.status" --interval-ms $INTERVAL_MS --dead-ms $DEAD_MS "$@" \
		>>"$T/n$n.log" 2>&1 &
	PID[$n]=$!
}
stop9() { kill -9 "${PID[$1]}" 2>/dev/null; wait "${PID[$1]}" 2>/dev/null; unset "PID[$1]"; rm -f "$T/n$1.status"; }
field() { sed -n "s/.*\\b$2=\\([^ ]*\\).*/\\1/p" "$T/n$1.status" 2>/dev/null; }

# actives LIST: how many of the nodes in LIST say they are active
actives() { local n c=0; for n in "$@"; do [ "$(field "$n" active)" = 1 ] && c=$((c + 1)); done; echo $c; }
active_of() { local n; for n in "$@"; do [ "$(field "$n" active)" = 1 ] && echo "$n"; done; }
# became_active_count N: how many times node N's log says it became active
became() { grep -c 'became active' "$T/n$1.log" 2>/dev/null || true; }
dump() { local n; for n in 1 2 3 4; do echo "--- n$n: $(cat "$T/n$n.status" 2>/dev/null)" >&2; grep -v STATUS "$T/n$n.log" | tail -n 25 >&2; done; }

# ---- 1. election: exactly one active, everybody knows everybody ----
for n in 1 2 3; do start $n; done
start 4 --no-gateway
# sees_all N A: node N sees nA as the active gateway and all four nodes alive
sees_all() {
	[ "$(field "$1" activenode)" = "n$2" ] &&
	[ "$(field "$1" peers | tr ',' '\n' | sort | tr '\n' ' ')" = "n1 n2 n3 n4 " ]
}
one_active() {
	[ "$(actives 1 2 3 4)" = 1 ] || return 1
	local a n; a=$(active_of 1 2 3 4)
	for n in 1 2 3 4; do sees_all "$n" "$a" || return 1; done
}
if wait_until 10 one_active; then
	A=$(active_of 1 2 3 4)
	t_pass "elect_one_active (n$A, all four nodes see each other)"
else
	t_fail elect_one_active; dump; exit 1
fi
[ "$A" != 4 ] && t_pass "plain_node_never_active" || t_fail plain_node_never_active
E1=$(field "$A" epoch)

# ---- 2. kill -9 the active: another one takes over within dead + 2 intervals ----
OTHERS=$(for n in 1 2 3; do [ "$n" != "$A" ] && echo -n "$n "; done)
t_kill=$(now_ns)
stop9 "$A"
new_active() { [ "$(actives $OTHERS 4)" = 1 ] && [ -n "$(active_of $OTHERS)" ]; }
if wait_until 5 new_active; then
	B=$(active_of $OTHERS)
	since=$(field "$B" since)
	fo_ms=$(( (since - t_kill) / 1000000 ))
	echo "failover: n$A killed, n$B active after $fo_ms ms (dead $DEAD_MS ms, interval $INTERVAL_MS ms)" >&2
	echo "# failover_ms=$fo_ms"
	if [ "$fo_ms" -le $((DEAD_MS + 2 * INTERVAL_MS)) ]; then
		t_pass "failover_within_dead_plus_2_intervals ($fo_ms ms)"
	else
		t_fail failover_within_dead_plus_2_intervals "$fo_ms ms"
	fi
	E2=$(field "$B" epoch)
	[ "$E2" -gt "$E1" ] && t_pass "failover_epoch_grows ($E1 -> $E2)" || t_fail failover_epoch_grows "$E1 -> $E2"
else
	t_fail failover; dump; exit 1
fi

# ---- 3. the old active comes back: it does not take the role back ----
before=$(became "$A")
start "$A"
back() { sees_all "$A" "$B"; }
if wait_until 5 back; then
	# an observation window: nothing may change for 10 dead intervals
	deadline=$(( $(now_ns) + 10 * DEAD_MS * 1000000 ))
	ok=1
	while [ "$(now_ns)" -lt "$deadline" ]; do
		[ "$(actives 1 2 3 4)" = 1 ] && [ "$(field "$B" active)" = 1 ] || { ok=0; break; }
		sleep 0.1
	done
	if [ $ok = 1 ] && [ "$(became "$A")" = "$before" ] && [ "$(field "$B" epoch)" = "$E2" ]; then
		t_pass "sticky_old_active_returns_as_standby"
	else
		t_fail sticky_old_active_returns_as_standby; dump
	fi
else
	t_fail sticky_old_active_returns_as_standby "n$A did not see n$B active"; dump
fi

# ---- 4. restart the active within RESTART_MS (300 ms): no failover ----
declare -A nb
for n in 1 2 3 4; do nb[$n]=$(became "$n"); done
t0=$(now_ns)
stop9 "$B"
start "$B"
gap_ms=$(( ($(now_ns) - t0) / 1000000 ))
reclaimed() { [ "$(field "$B" active)" = 1 ]; }
if wait_until 5 reclaimed; then
	deadline=$(( $(now_ns) + 3 * DEAD_MS * 1000000 ))
	while [ "$(now_ns)" -lt "$deadline" ] && [ "$(actives 1 2 3 4)" = 1 ]; do sleep 0.1; done
	others_claimed=0
	for n in 1 2 3 4; do [ "$n" != "$B" ] && [ "$(became "$n")" != "${nb[$n]}" ] && others_claimed=1; done
	echo "restart of the active: killed and started again in $gap_ms ms" >&2
	if [ "$gap_ms" -lt $RESTART_MS ] && [ $others_claimed = 0 ] && [ "$(actives 1 2 3 4)" = 1 ] &&
	   [ "$(field "$B" epoch)" = "$E2" ]; then
		t_pass "restart_active_without_failover (down $gap_ms ms, epoch $E2 kept)"
	else
		t_fail restart_active_without_failover "gap $gap_ms ms, others claimed: $others_claimed, epoch $(field "$B" epoch)"; dump
	fi
else
	t_fail restart_active_without_failover "n$B did not reclaim"; dump
fi

# ---- 5. forged heartbeats (wrong key) claiming the role with a huge epoch are ignored ----
ip netns exec sel-x "$NODE" --forge --cluster c1 --name a0 --ip 10.77.0.9 --bcast 10.77.0.255 \
	--key-file "$T/badkey" --epoch 1000 >"$T/forge.log" 2>&1 || { t_fail forged_ignored "forger failed"; cat "$T/forge.log" >&2; }
logged() { grep -q 'bad HMAC' "$T/n1.log" && grep -q 'bad HMAC' "$T/n2.log" && grep -q 'bad HMAC' "$T/n3.log"; }
if wait_until 5 logged && [ "$(actives 1 2 3 4)" = 1 ] && [ "$(field "$B" active)" = 1 ] &&
   [ "$(field "$B" epoch)" = "$E2" ] && ! grep -q 'a0' "$T"/n[1-4].status; then
	t_pass forged_heartbeat_ignored
else
	t_fail forged_heartbeat_ignored; dump
fi

# ---- 6. partition the active away, then heal: one active remains ----
t_part=$(now_ns)
ip -n sel-sw link set "v$B" down
REST=$(for n in 1 2 3; do [ "$n" != "$B" ] && echo -n "$n "; done)
split() { [ "$(actives $REST)" = 1 ]; }
if wait_until 5 split; then
	C=$(active_of $REST)
	echo "partition: n$B cut off, n$C active on the other side after $(( ($(field "$C" since) - t_part) / 1000000 )) ms" >&2
	t_pass "partition_majority_elects (n$C)"
else
	t_fail partition_majority_elects; dump
fi
[ "$(field "$B" active)" = 1 ] && t_pass "partition_minority_keeps_role" || t_fail partition_minority_keeps_role
t_heal=$(now_ns)
ip -n sel-sw link set "v$B" up
healed() { one_active; }
if wait_until 10 healed; then
	heal_ms=$(( ($(now_ns) - t_heal) / 1000000 ))
	W=$(active_of 1 2 3 4)
	echo "heal: one active (n$W, epoch $(field "$W" epoch)) $heal_ms ms after the link came back (poll granularity 100 ms)" >&2
	echo "# heal_ms=$heal_ms"
	[ "$W" = "${C:-}" ] && t_pass "partition_heal_one_active (n$W, higher epoch)" ||
		t_fail partition_heal_one_active "winner n$W, expected n${C:-?}"
	# the protocol's part: from the first heartbeat heard across the healed link to the
	# step-down (the rest is the kernel reporting the veth's carrier, up to 1 s)
	heard=$(awk -v t="$t_heal" '$1 == "EVENT" && $2 > t && $3 == "peer" && $5 == "up" { print $2; exit }' "$T/n$B.log")
	down=$(awk -v t="$t_heal" '$1 == "EVENT" && $2 > t && $3 == "stepped" { print $2; exit }' "$T/n$B.log")
	if [ -n "$heard" ] && [ -n "$down" ]; then
		echo "heal: n$B heard the others $(( (heard - t_heal) / 1000000 )) ms after link up, stepped down $(( (down - heard) / 1000000 )) ms later" >&2
		echo "# stepdown_ms=$(( (down - heard) / 1000000 ))"
		[ $(( (down - heard) / 1000000 )) -le $INTERVAL_MS ] && t_pass "partition_heal_loser_steps_down_within_interval" ||
			t_fail partition_heal_loser_steps_down_within_interval
	else
		t_fail partition_heal_loser_steps_down_within_interval "no step-down in n$B's log after $t_heal"
		dump
	fi
else
	t_fail partition_heal_one_active; dump
fi

# ---- 7. planned handover: the active resigns (SIGUSR1), the next one claims at once ----
if [ -n "${W:-}" ]; then
	vtep_ok=1
	for n in 1 2 3 4; do [ "$(field "$n" activevtep)" = "10.77.0.$W" ] || vtep_ok=0; done
	[ $vtep_ok = 1 ] && t_pass "everyone_knows_active_vtep (10.77.0.$W)" || { t_fail everyone_knows_active_vtep; dump; }
	REST=$(for n in 1 2 3; do [ "$n" != "$W" ] && echo -n "$n "; done)
	t_sig=$(now_ns)
	kill -USR1 "${PID[$W]}"
	handed() { [ "$(actives $REST)" = 1 ] && [ "$(field "$W" active)" = 0 ]; }
	if wait_until 5 handed; then
		H=$(active_of $REST)
		ho_ms=$(( ($(field "$H" since) - t_sig) / 1000000 ))
		echo "planned handover: n$W resigned, n$H active after $ho_ms ms" >&2
		echo "# handover_ms=$ho_ms"
		[ "$ho_ms" -le $INTERVAL_MS ] && t_pass "resign_handover_within_interval ($ho_ms ms)" ||
			t_fail resign_handover_within_interval "$ho_ms ms"
	else
		t_fail resign_handover_within_interval; dump
	fi
fi

t_done
