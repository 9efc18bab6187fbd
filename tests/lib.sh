# Shared helpers for shell tests. Source it; then use:
#   t_pass NAME / t_fail NAME [WHY] / t_skip NAME WHY  -> PASS:/FAIL:/SKIP: lines
#   check NAME CMD...          runs CMD (output to the log), PASS if it exits 0
#   check_not NAME CMD...      PASS if CMD fails
#   wait_until SECONDS CMD...  polls CMD every 0.1 s until it succeeds or the deadline passes
#   t_done                     exit status: 1 if anything failed
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

wait_until() {
	local secs=$1; shift
	local deadline=$((SECONDS + secs))
	while ! "$@" >/dev/null 2>&1; do
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.1
	done
}

t_done() { exit $T_FAILED; }
