#!/bin/bash
# deploy/systemd: `systemd-analyze verify` on the units (no systemd runs as PID 1 here, so
# they are checked, not started). verify wants ExecStart's binary to exist: the units are
# copied with /usr/local/bin/subagent replaced by a copy of build/subagent. verify only
# warns about unknown keys and still exits 0, so any output at all fails a unit; self-tests
# show that a misspelt key and a missing binary are caught. `systemd-analyze security
# --offline` scores the sandbox, with a ceiling so it cannot quietly get weaker. Every
# option the units and the example environment file pass to subagent is in its --help.
set -eu
source "$(dirname "$0")/../lib.sh"
T_NAME=systemd
UNITS=$ROOT/deploy/systemd
TMP=$(mktemp -d /tmp/sadep-systemd.XXXXXX)
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT

if ! command -v systemd-analyze >/dev/null; then
	t_skip verify "systemd-analyze missing: run make deps"
	t_done
fi
if [ ! -x "$SUBAGENT" ]; then
	t_skip verify "build/subagent not built"
	t_done
fi
install -m 0755 "$SUBAGENT" "$TMP/subagent"

# stage UNIT [SED]: the unit, pointing at the copy of the binary, edited by SED
stage() {
	mkdir -p "$TMP/units"
	sed -e "s#/usr/local/bin/subagent#$TMP/subagent#g" ${2:+-e "$2"} "$UNITS/$1" \
		>"$TMP/units/$1"
	echo "$TMP/units/$1"
}

# verify_clean FILE: verify exits 0 and says nothing
verify_clean() {
	local out
	out=$(systemd-analyze verify "$1" 2>&1) && [ -z "$out" ] && return 0
	echo "$out" >&2
	return 1
}

for u in subagent-agent.service subagent-broker.service; do
	check "verify_$u" verify_clean "$(stage $u)"
done

# self-tests: what verify_clean must reject
f=$(stage subagent-agent.service 's/^ProtectSystem=strict/ProtectSytem=strict/')
check_not selftest_misspelt_key verify_clean "$f"
f=$(stage subagent-agent.service "s#$TMP/subagent#$TMP/no-such-binary#")
check_not selftest_missing_binary verify_clean "$f"
f=$(stage subagent-broker.service 's/^\[Service\]/[Servce]/')
check_not selftest_bad_section verify_clean "$f"

# The sandbox: exposure 0 (locked down) .. 10 (none). The agent must keep CAP_NET_ADMIN and
# CAP_SYS_ADMIN, which costs it; the broker has no capability at all.
security() {
	local unit=$1 ceiling=$2 score
	score=$(systemd-analyze security --offline=yes "$(stage "$unit")" 2>&1 |
		sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
	if [ -z "$score" ]; then
		t_fail "security_$unit" "no score from systemd-analyze security --offline"
	elif awk -v s="$score" -v c="$ceiling" 'BEGIN { exit !(s <= c) }'; then
		t_pass "security_$unit (exposure $score, ceiling $ceiling)"
	else
		t_fail "security_$unit" "exposure $score above $ceiling"
	fi
}
if systemd-analyze security --help 2>&1 | grep -q -- --offline; then
	security subagent-agent.service 3.5
	security subagent-broker.service 2.0
else
	t_skip security "this systemd-analyze has no --offline"
fi

# Options handed to subagent: ExecStart's, and those of the example environment file.
opts_of() {	# SUBCOMMAND FILE...: the --options in ExecStart/SUBAGENT_AGENT_ARGS lines
	sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "${@:2}" |
		grep -E '^(ExecStart=|SUBAGENT_AGENT_ARGS=|#   --)' | grep -oE -- '--[a-z][a-z-]*' | sort -u
}
for spec in "agent subagent-agent.service agent.env" "broker subagent-broker.service"; do
	set -- $spec
	sub=$1; shift
	for opt in $(cd "$UNITS" && opts_of "$sub" "$@"); do
		if "$SUBAGENT" "$sub" --help 2>&1 | grep -qE -- "(^|[^a-z-])$opt([^a-z-]|\$)"; then
			t_pass "option_${sub}_${opt#--}"
		else
			t_fail "option_${sub}_${opt#--}" "'subagent $sub --help' has no $opt"
		fi
	done
done
t_done
