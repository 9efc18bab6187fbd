# Shared helpers for shell tests. Source it; then use:
#   t_pass NAME / t_fail NAME [WHY] / t_skip NAME WHY  -> PASS:/FAIL:/SKIP: lines
#   check NAME CMD...          runs CMD (output to the log), PASS if it exits 0
#   check_not NAME CMD...      PASS if CMD fails
#   wait_until SECONDS CMD...  polls CMD every 0.1 s until it succeeds or the deadline passes
#   free_port                  a loopback TCP port in 20000..29999 that nothing listens on
#   stop_pid PID               SIGTERM, SIGKILL after 5 s, and reaps it (a process we started)
#   t_done                     exit status: 1 if anything failed
#   ts N                       N seconds, scaled (below): for a client's timeout
# T_NAME (default: the script's name) prefixes every case name.
# SA_TIME_SCALE (default 1) multiplies wait_until's deadlines and ts: the VM test bed sets it
# under emulation (TCG), where everything takes several times longer. It widens deadlines
# only; a bound a test asserts on a measured time is scaled by that test, if at all.
# Tests print their own diagnostics to stderr; run-all.sh keeps them in build/test-logs/.
T_FAILED=0
T_NAME=${T_NAME:-$(basename "$0" .sh)}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LAB=$ROOT/tests/lab/lab
LAB_PREFIX=${LAB_PREFIX:-sal-}
export LAB_PREFIX
SUBAGENT=$ROOT/build/subagent

t_pass() { echo "PASS: $T_NAME:$1"; }
t_fail() { echo "FAIL: $T_NAME:$1${2:+ ($2)}"; T_FAILED=1; }
t_skip() { echo "SKIP: $T_NAME:$1 ($2)"; }

check() {
	local name=$1; shift
	if "$@" >&2; then t_pass "$name"; else t_fail "$name" "command failed: $*"; fi
}

check_not() {
	local name=$1; shift
	if "$@" >&2 2>/dev/null; then t_fail "$name" "should have failed: $*"; else t_pass "$name"; fi
}

T_SCALE=${SA_TIME_SCALE:-1}
[[ $T_SCALE =~ ^[1-9][0-9]*$ ]] || { echo "SA_TIME_SCALE=$T_SCALE: a whole number, 1 or more" >&2; exit 2; }
ts() { echo $(($1 * T_SCALE)); }

wait_until() {
	local secs=$1; shift
	local deadline=$((SECONDS + secs * T_SCALE))
	while ! "$@" >/dev/null 2>&1; do
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.1
	done
}

free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 10000))
		if ! ss -Htln "sport = :$p" | grep -q .; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

stop_pid() {
	local pid=$1
	kill -CONT "$pid" 2>/dev/null
	kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

t_done() { exit $T_FAILED; }
