#!/bin/bash
# The VM test bed's own test: boots Debian's kernel with tests/vm/vm a few times and checks
# that the guest runs that kernel with ESP, XFRM and network namespaces, that output and exit
# status come back, that --share works and other writes stay in the guest, and that no qemu
# process or temporary directory outlives a run, also after a timeout or a Ctrl-C.
# With --guest DIR it is the part that runs inside the VM (it writes to DIR, a --share).
set -u

if [ "${1:-}" = --guest ]; then
	# Inside the guest: one "ok NAME" or "no NAME: why" line per check, on stdout.
	out=$2
	ok() { echo "ok $1"; }
	no() { echo "no $1: $2"; }
	uname -r
	# --modules "": esp4 is loaded here, from /lib/modules/$(uname -r) (the unpacked package)
	if ! lsmod | grep -q '^esp4 ' && modprobe esp4 && lsmod | grep -q '^esp4 '; then
		ok modprobe_esp4
	else
		no modprobe_esp4 "$(lsmod | grep esp4; modprobe -v esp4 2>&1)"
	fi
	k=0x00112233445566778899aabbccddeeff
	if ip xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1234 mode tunnel \
		aead 'rfc4106(gcm(aes))' ${k}01234567 128 2>&1 &&
		ip xfrm state get src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1234 | grep -q 'rfc4106' &&
		ip xfrm state delete src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1234 &&
		[ -z "$(ip xfrm state)" ]; then
		ok xfrm_esp_state_add_delete
	else
		no xfrm_esp_state_add_delete "$(ip xfrm state 2>&1)"
	fi
	# An XFRM interface (the agent's route-based data path), through the module autoloader.
	if ip link add vmt-xfrm type xfrm dev lo if_id 42 && ip -d link show vmt-xfrm | grep -q 'if_id 0x2a'; then
		ok xfrm_interface
	else
		no xfrm_interface "$(ip -d link show vmt-xfrm 2>&1)"
	fi
	if ip netns add vmt-a && ip netns add vmt-b &&
		ip -n vmt-a link add eth0 type veth peer name eth0 netns vmt-b &&
		ip -n vmt-a addr add 10.77.0.1/24 dev eth0 && ip -n vmt-b addr add 10.77.0.2/24 dev eth0 &&
		ip -n vmt-a link set eth0 up && ip -n vmt-b link set eth0 up &&
		ip netns exec vmt-a ping -c1 -W5 10.77.0.2 >/dev/null; then
		ok netns_veth_ping
	else
		no netns_veth_ping "$(ip -n vmt-a addr 2>&1)"
	fi
	ip netns del vmt-a 2>/dev/null; ip netns del vmt-b 2>/dev/null
	[ "$(stat -f -c %T /sys/fs/bpf)" = bpf_fs ] && ok bpffs_mounted || no bpffs_mounted "$(stat -f -c %T /sys/fs/bpf)"
	echo from-guest >"$out/shared-file" && ok share_write || no share_write "cannot write $out"
	echo not-on-the-host >"$out/../vm-canary" 2>/dev/null
	echo "to-stderr" >&2
	exit 3
fi

. "$(dirname "$0")/../lib.sh"
T_NAME=vm
VM=$ROOT/tests/vm/vm

command -v qemu-system-x86_64 >/dev/null || { t_skip all "qemu-system-x86_64 is not installed (make deps)"; exit 0; }
if ! KVER=$("$VM" kernel 2>"$ROOT/build/vm-kernel.log"); then
	t_skip all "Debian's kernel could not be fetched: $(tail -1 "$ROOT/build/vm-kernel.log")"
	exit 0
fi

# Every run gets a private TMPDIR: the run's directory goes there, and qemu's command line
# names it, so "left behind" means a file in it or a process whose command line names it.
WORK=$(mktemp -d "$ROOT/build/test-vm.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
leftovers() {
	local p found=
	for p in /proc/[0-9]*; do
		{ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qF "$1" && found="$found ${p#/proc/}"
	done
	[ -n "$(ls -A "$1")" ] && found="$found files:$(ls -A "$1" | tr '\n' ' ')"
	echo "$found"
}
# vmrun NAME ARGS...: tests/vm/vm run with TMPDIR=$WORK/NAME; stdout and stderr to files.
vmrun() {
	local name=$1; shift
	mkdir -p "$WORK/$name"
	TMPDIR=$WORK/$name "$VM" run "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
}
check_clean() {
	local l
	l=$(leftovers "$WORK/$1")
	[ -z "$l" ] && t_pass "$1_leaves_nothing" || t_fail "$1_leaves_nothing" "left:$l"
}

# 1. One boot for the guest's kernel, the checks inside and how results come back.
mkdir -p "$WORK/share"
start=$SECONDS
vmrun main --modules "" --share "$WORK/share" -- "$ROOT/tests/vm/test_vm.sh" --guest "$WORK/share"
rc=$?
echo "main boot and checks: $((SECONDS - start)) s" >&2
sed 's/^/guest stdout: /' "$WORK/main.out" >&2
sed 's/^/guest stderr: /' "$WORK/main.err" >&2
guest_kver=$(head -1 "$WORK/main.out")
if [ "$guest_kver" = "$KVER" ] && [ "$guest_kver" != "$(uname -r)" ] && [[ $guest_kver == 6.1.* ]] &&
	[ -f "$ROOT/build/vm/kernel/lib/modules/$KVER/modules.dep" ]; then
	t_pass guest_runs_debian_6.1_kernel
else
	t_fail guest_runs_debian_6.1_kernel "guest '$guest_kver', package '$KVER', host '$(uname -r)'"
fi
for c in modprobe_esp4 xfrm_esp_state_add_delete xfrm_interface netns_veth_ping bpffs_mounted share_write; do
	if grep -qx "ok $c" "$WORK/main.out"; then
		t_pass "$c"
	else
		t_fail "$c" "$(grep "^no $c" "$WORK/main.out" | head -3 | tr '\n' ' ')"
	fi
done
[ "$rc" = 3 ] && t_pass exit_status_comes_back || t_fail exit_status_comes_back "exit $rc, want 3"
grep -qx to-stderr "$WORK/main.err" && ! grep -q to-stderr "$WORK/main.out" &&
	t_pass stderr_comes_back_apart || t_fail stderr_comes_back_apart
[ "$(cat "$WORK/share/shared-file" 2>/dev/null)" = from-guest ] &&
	t_pass share_visible_on_host || t_fail share_visible_on_host
[ ! -e "$WORK/vm-canary" ] && t_pass other_writes_stay_in_guest ||
	t_fail other_writes_stay_in_guest "$WORK/vm-canary appeared on the host"
check_clean main

# 2. The exit status of a failing command, and output byte for byte (a binary file).
vmrun false --modules "" -- false
rc=$?
[ "$rc" = 1 ] && t_pass false_exits_1 || t_fail false_exits_1 "exit $rc"
check_clean false
vmrun cat --modules "" -- cat /usr/bin/ls
rc=$?
[ "$rc" = 0 ] && cmp -s "$WORK/cat.out" /usr/bin/ls && t_pass binary_output_intact ||
	t_fail binary_output_intact "exit $rc, $(wc -c <"$WORK/cat.out") bytes"
check_clean cat

# 3. --timeout ends the VM and exits 124.
vmrun timeout --modules "" --timeout 20 -- sleep 1000
rc=$?
[ "$rc" = 124 ] && t_pass timeout_exits_124 || t_fail timeout_exits_124 "exit $rc"
check_clean timeout

# 4. Ctrl-C (SIGINT) once the command runs: exit 130 and nothing left. Job control makes the
# background run a process group of its own that does not ignore SIGINT.
set -m
mkdir -p "$WORK/sigint"
TMPDIR=$WORK/sigint "$VM" run --modules "" -- sleep 1000 >"$WORK/sigint.out" 2>"$WORK/sigint.err" &
vpid=$!
set +m
if wait_until 300 bash -c "ls $WORK/sigint/*/started"; then
	kill -INT -- "-$vpid"
	wait "$vpid"
	rc=$?
	[ "$rc" = 130 ] && t_pass sigint_exits_130 || t_fail sigint_exits_130 "exit $rc"
else
	t_fail sigint_exits_130 "the command did not start within 300 s"
	kill -TERM "$vpid"
	wait "$vpid"
fi
check_clean sigint
t_done
