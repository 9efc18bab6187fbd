#!/bin/bash
# Runs end-to-end suites inside one boot of the VM test bed (Debian's kernel: kernel ESP and
# XFRM), and prints their PASS/FAIL/SKIP lines with " kernel" after each case name, so that
# they count apart from the same cases run on this machine's kernel (user-space ESP):
#   PASS: test_gateway:c1_to_c2_pod_tcp kernel
# Each suite's whole output goes to build/vm-logs/SUITE.log and the logs of its broker and
# agents ($SA_RUN/logs) to build/vm-logs/SUITE/. Exit status: 1 if any case failed.
# Usage: tests/vm/run-suites.sh [--timeout S] [--mem M] SUITE...
#   SUITE: a script (tests/e2e/test_gateway.sh) or its short name (gateway)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LOGS=$ROOT/build/vm-logs

usage() { sed -n '2,9s/^# \{0,1\}//p' "$0"; }

if [ "${1:-}" = --guest ]; then
	# Inside the guest, in the checkout: --guest SUITE_TIMEOUT SUITE...
	tmo=$2; shift 2
	failed=0
	# Under emulation a process takes longer to start than the election's 600 ms dead time:
	# the suites that check timing against the protocol's timers scale both (test_election).
	[ "${SA_VM_ACCEL:-}" = tcg ] && export SA_TIME_SCALE=${SA_TIME_SCALE:-4}
	# run_suite T: one run of the suite; its case lines (suffixed) in /run/vm-suites/NAME/cases;
	# 0 when nothing failed.
	run_suite() {
		local t=$1 name rc why
		name=$(basename "$t" .sh)
		# SA_RUN outside the lab's state directory: 'lab down' then keeps the logs to copy.
		# (empty: a second run must not find the first one's broker, caches and state)
		export SA_RUN=/run/vm-suites/$name/sa
		rm -rf "$SA_RUN"
		mkdir -p "$SA_RUN" "$LOGS/$name"
		start=$SECONDS
		# the case lines, suffixed; everything, stderr too, in the suite's log.
		timeout -k 10 "$tmo" "$t" </dev/null 2>>"$LOGS/$name.log" |
			tee -a "$LOGS/$name.log" |
			sed -uE -n 's/^(PASS|FAIL|SKIP): ([^ ]+)/\1: \2 kernel/p' >"/run/vm-suites/$name/cases"
		rc=${PIPESTATUS[0]}
		if [ "$rc" -ne 0 ] && ! grep -q '^FAIL: ' "/run/vm-suites/$name/cases"; then
			# crashed or timed out outside a case: still a failure of its own
			[ "$rc" = 124 ] && why="timed out after $tmo s" || why="exit $rc"
			echo "FAIL: $name kernel ($why)" >>"/run/vm-suites/$name/cases"
		fi
		echo "suite $name: exit $rc, $((SECONDS - start)) s" >&2
		cp -r "$SA_RUN/logs/." "$LOGS/$name/" 2>/dev/null
		"$ROOT/tests/lab/lab" down >/dev/null 2>&1
		! grep -q '^FAIL: ' "/run/vm-suites/$name/cases"
	}
	for t in "$@"; do
		name=$(basename "$t" .sh)
		if run_suite "$t"; then
			cat "/run/vm-suites/$name/cases"
			continue
		fi
		# The emulated guest stalls when the host is loaded: a failed suite runs once more
		# and its second run counts; the first run's failures show as FLAKY lines.
		sed -n 's/^FAIL: /FLAKY: /p' "/run/vm-suites/$name/cases"
		echo "RERUN: $name kernel (failed once; its second run counts)"
		# the first run's logs stay apart: build/vm-logs/NAME.first{,.log}
		rm -rf "$LOGS/$name.first"
		mv "$LOGS/$name" "$LOGS/$name.first"
		mv "$LOGS/$name.log" "$LOGS/$name.first.log"
		run_suite "$t" || failed=1
		cat "/run/vm-suites/$name/cases"
	done
	exit $failed
fi

tmo=1800 mem=2048M suites=()
while [ $# -gt 0 ]; do
	case $1 in
	--timeout) tmo=${2:?}; shift;;
	--mem) mem=${2:?}; shift;;
	-h|--help) usage; exit 0;;
	-*) echo "run-suites: unknown option $1" >&2; exit 2;;
	*)
		if [ -f "$1" ]; then t=$(realpath "$1")
		elif [ -f "$ROOT/tests/e2e/test_$1.sh" ]; then t=$ROOT/tests/e2e/test_$1.sh
		else echo "run-suites: no suite $1" >&2; exit 2
		fi
		suites+=("$t");;
	esac
	shift
done
[ ${#suites[@]} -gt 0 ] || { usage >&2; exit 2; }

mkdir -p "$LOGS"
for t in "${suites[@]}"; do
	name=$(basename "$t" .sh)
	rm -rf "${LOGS:?}/$name" "$LOGS/$name.log" "$LOGS/$name.first" "$LOGS/$name.first.log"
done
cd "$ROOT" || exit 2
# The whole boot gets each suite's time plus ten minutes for the boot and slow starts.
# The caller's LAB_PREFIX goes in: the guest's /etc/netns is the host's (read through), so a
# guest lab with the default prefix would collide with a lab of that prefix on the host.
"$HERE/vm" run --mem "$mem" --timeout $((tmo * ${#suites[@]} + 600)) --share "$LOGS" \
	${LAB_PREFIX:+--env "LAB_PREFIX=$LAB_PREFIX"} -- \
	"$HERE/run-suites.sh" --guest "$tmo" "${suites[@]}"
rc=$?
case $rc in
0|1) ;;
*) echo "FAIL: vm kernel (tests/vm/vm run exit $rc: the VM did not finish the suites)"; rc=1;;
esac
exit $rc
