#!/bin/bash
# vagrant/Vagrantfile without VMs: `vagrant validate` (Debian's vagrant with its
# vagrant-libvirt plugin; with the plugin every libvirt option is checked too), self-tests
# that validate rejects a broken copy, and the provisioning scripts of every machine,
# taken out of the Vagrantfile by tests/deploy/vagrant_scripts.rb: `bash -n`, the options
# they hand to subagent are in its --help, and the unit they write passes
# `systemd-analyze verify`. Bringing the VMs up (`vagrant up`) is not possible here: no
# libvirt daemon, no box download.
set -eu
source "$(dirname "$0")/../lib.sh"
T_NAME=vagrant
TMP=$(mktemp -d /tmp/sadep-vagrant.XXXXXX)
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT

if ! command -v vagrant >/dev/null; then
	t_skip vagrant_validate "vagrant missing: run make deps"
	t_done
fi
# Nothing of the test goes into the tree or root's ~/.vagrant.d.
export VAGRANT_HOME=$TMP/home VAGRANT_DOTFILE_PATH=$TMP/dot SUBAGENT_VAGRANT_STATE=$TMP/state
export SUBAGENT_ROOT=$ROOT VAGRANT_CHECKPOINT_DISABLE=1 VAGRANT_NO_COLOR=1

# validate_in DIR: `vagrant validate` of DIR/Vagrantfile (with the provider's options when the
# libvirt plugin is there)
if vagrant plugin list 2>/dev/null | grep -q '^vagrant-libvirt'; then
	VALIDATE=(vagrant validate)
else
	VALIDATE=(vagrant validate --ignore-provider)
	t_skip vagrant_validate_libvirt "no vagrant-libvirt plugin: libvirt options unchecked"
fi
validate_in() { (cd "$1" && "${VALIDATE[@]}"); }

check vagrant_validate validate_in "$ROOT/vagrant"

# self-tests: a copy with one mistake each must be refused
selftest() {
	local name=$1 edit=$2
	mkdir -p "$TMP/$name"
	sed -e "$edit" "$ROOT/vagrant/Vagrantfile" >"$TMP/$name/Vagrantfile"
	if cmp -s "$ROOT/vagrant/Vagrantfile" "$TMP/$name/Vagrantfile"; then
		t_fail "selftest_$name" "the edit changed nothing"
	else
		check_not "selftest_$name" validate_in "$TMP/$name"
	fi
}
selftest unknown_vm_option 's/n.vm.hostname = name/n.vm.hostnam = name/'
selftest ruby_error 's/^CLUSTERS = {/CLUSTERS = {{/'
[ "${VALIDATE[*]}" = "vagrant validate" ] &&
	selftest unknown_libvirt_option 's/lv.memory = 1024/lv.memoryy = 1024/'

# The provisioning scripts
if ! command -v ruby >/dev/null; then
	t_skip provisioning_scripts "no ruby"
	t_done
fi
if ruby "$ROOT/tests/deploy/vagrant_scripts.rb" "$ROOT/vagrant/Vagrantfile" "$TMP/scripts" \
	>"$TMP/machines" 2>&1; then
	machines=$(tr '\n' ' ' <"$TMP/machines")
	if [ "$machines" = "broker c1-n1 c1-n2 c2-n1 c2-n2 " ]; then
		t_pass "machines ($machines)"
	else
		t_fail machines "got: $machines"
	fi
else
	t_fail machines "$(cat "$TMP/machines")"
	t_done
fi
for f in "$TMP"/scripts/*.sh; do
	check "bash_n_$(basename "$f" .sh)" bash -n "$f"
done

# options handed to subagent: "subagent VERB [SUB] --opt ..." with continuation lines joined
sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$TMP"/scripts/*.sh |
	grep -oE 'subagent (deploy-broker|join|agent|verify|show [a-z]+|broker)[^;|&]*' |
	while read -r _ verb rest; do
		for opt in $(grep -oE -- '--[a-z][a-z-]*' <<<"$rest"); do echo "$verb $opt"; done
	done | sort -u >"$TMP/opts"
# ... and those the last VM's trigger runs on every node (Ruby strings in the Vagrantfile)
grep -oE 'subagent (verify|show [a-z]+) [^"]*' "$ROOT/vagrant/Vagrantfile" |
	while read -r _ verb rest; do
		for opt in $(grep -oE -- '--[a-z][a-z-]*' <<<"$rest"); do echo "$verb $opt"; done
	done | sort -u >>"$TMP/opts"
# the agent's options come from agent.env
grep -ohE 'SUBAGENT_AGENT_ARGS=.*' "$TMP"/scripts/*.sh | grep -oE -- '--[a-z][a-z-]*' |
	sed 's/^/agent /' | sort -u >>"$TMP/opts"
if [ -x "$SUBAGENT" ]; then
	while read -r verb opt; do
		if "$SUBAGENT" "$verb" --help 2>&1 | grep -qE -- "(^|[^a-z-])$opt([^a-z-]|\$)"; then
			t_pass "option_${verb}_${opt#--}"
		else
			t_fail "option_${verb}_${opt#--}" "'subagent $verb --help' has no $opt"
		fi
	done < <(sort -u "$TMP/opts")
else
	t_skip options "build/subagent not built"
fi

# the test bed's own unit (pods0 and the routes to the other node's slice)
if command -v systemd-analyze >/dev/null; then
	sed -n "/^cat >\/etc\/systemd\/system\/subagent-pods.service <<'UNIT'$/,/^UNIT$/p" \
		"$TMP/scripts/c1-n1.sh" | sed '1d;$d' >"$TMP/subagent-pods.service"
	if [ -s "$TMP/subagent-pods.service" ]; then
		check verify_pods_unit bash -c "out=\$(systemd-analyze verify '$TMP/subagent-pods.service' 2>&1) && [ -z \"\$out\" ] || { echo \"\$out\"; false; }"
	else
		t_fail verify_pods_unit "not found in c1-n1's provisioning"
	fi
fi
t_done
