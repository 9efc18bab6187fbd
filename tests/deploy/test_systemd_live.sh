#!/bin/bash
# The systemd units of deploy/systemd, started by a real systemd: two "hosts" are podman
# containers with systemd as PID 1 (the image `make image` builds, plus systemd), each in a
# network namespace made here and joined by a veth pair (sadep-sdA-PID, sadep-sdB-PID; an
# "internet" 198.51.100.0/24 between them, nothing outside). Host A runs
# subagent-broker.service (after `subagent deploy-broker`) and, like host B, joins a
# cluster and runs subagent-agent.service with /etc/subagent/agent.env: the plain-Linux path
# of deploy/README.md, with every sandboxing option of the units in force. Then:
#   - Debian's strongswan-starter, which runs a charon of its own since boot, is stopped by
#     the agent unit's Conflicts=;
#   - both gateways report the other cluster connected, `subagent verify` passes on both;
#   - the agent's capabilities are the unit's set, the broker has none;
#   - kill -9 of the agent: systemd starts it again (Restart=always) and it reconnects;
#   - `systemctl stop` leaves the namespace clean (no ipsec0, no sa-vxr, no nft table).
set -eu
source "$(dirname "$0")/../lib.sh"
T_NAME=systemd_live
ARCHIVE=$ROOT/build/subagent-image.oci.tar
A=sadep-sdA-$$ B=sadep-sdB-$$
TMP=$(mktemp -d /tmp/sadep-sdlive.XXXXXX)
STORAGE=$ROOT/build/podman/systemd
RUN=/run/subagent-podman-$(echo "$STORAGE" | sha256sum | cut -c1-12)
PODMAN=(podman --root "$STORAGE" --runroot "$RUN/runroot" --tmpdir "$RUN/tmp"
	--storage-driver overlay --storage-opt overlay.skip_mount_home=true --runtime runc --cgroup-manager cgroupfs --events-backend file)
cleanup() {
	# SADEP_KEEP=1: leave the hosts up to look around (remove them by hand afterwards)
	[ -n "${SADEP_KEEP:-}" ] && { echo "kept: $A $B (podman --root $STORAGE)" >&2; return; }
	"${PODMAN[@]}" rm -f -t 3 --ignore "$A" "$B" >/dev/null 2>&1 || true
	ip netns del "$A" 2>/dev/null || true
	ip netns del "$B" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

for t in podman runc; do
	command -v $t >/dev/null || { t_skip systemd_live "$t missing: run make deps"; t_done; }
done
[ -x "$SUBAGENT" ] || { t_skip systemd_live "build/subagent not built"; t_done; }
if [ ! -s "$ARCHIVE" ] || [ "$SUBAGENT" -nt "$ARCHIVE" ]; then
	"$ROOT/deploy/build-image.sh" >"$TMP/image.log" 2>&1 ||
		{ cat "$TMP/image.log" >&2; t_skip systemd_live "make image failed (it needs the Debian mirror)"; t_done; }
fi

# The host image: the archive's image plus systemd, rebuilt when the archive changes.
mkdir -p "$STORAGE"
sum=$(sha256sum "$ARCHIVE" | cut -c1-16)
HOST_IMAGE=localhost/sadep-systemd-host:$sum
if ! "${PODMAN[@]}" image exists "$HOST_IMAGE"; then
	base=$("${PODMAN[@]}" load -q -i "$ARCHIVE" | sed -n 's/^Loaded image[^:]*: *//p' | tail -n1)
	# the Debian mirror, for systemd: the host's network for this RUN step only
	if ! "${PODMAN[@]}" build -q --network host --pull=never --from "$base" -t "$HOST_IMAGE" \
		-f "$ROOT/tests/deploy/systemd-host.Containerfile" "$ROOT/tests/deploy" \
		>"$TMP/build.log" 2>&1; then
		cat "$TMP/build.log" >&2
		t_skip systemd_live "could not build the systemd host image (it needs the Debian mirror)"
		t_done
	fi
	"${PODMAN[@]}" image prune -f >/dev/null 2>&1 || true
fi

# Two hosts: the internet between them, a node network and a pod network on each.
ip netns add "$A"
ip netns add "$B"
for ns in "$A" "$B"; do ip -n "$ns" link set lo up; done
ip -n "$A" link add sadep-inet type veth peer name sadep-inet netns "$B"
ip -n "$A" addr add 198.51.100.1/24 dev sadep-inet
ip -n "$B" addr add 198.51.100.2/24 dev sadep-inet
i=0
for ns in "$A" "$B"; do
	i=$((i + 1))
	ip -n "$ns" link set sadep-inet up
	ip -n "$ns" link add sadep-node type veth peer name sadep-pods
	ip -n "$ns" addr add "192.0.$((i + 1)).10/24" dev sadep-node
	ip -n "$ns" addr add "10.$i.1.1/24" dev sadep-pods
	ip -n "$ns" link set sadep-node up
	ip -n "$ns" link set sadep-pods up
done

mkdir -p "$TMP/x"
# Capabilities for systemd and the services it runs: podman's defaults plus what the agent
# unit keeps; the TUN device for charon's kernel-libipsec.
host() {	# NAME NETNS
	"${PODMAN[@]}" run -d --name "$1" --hostname "$1" --network "ns:/run/netns/$2" \
		--systemd=always --cap-add SYS_ADMIN,NET_ADMIN,NET_RAW,NET_BIND_SERVICE \
		--device /dev/net/tun --ulimit "nofile=$(ulimit -Sn):$(ulimit -Hn)" --ulimit nproc=4096:4096 \
		-v "$ROOT/deploy/systemd:/opt/units:ro" -v "$TMP/x:/x" "$HOST_IMAGE" >/dev/null
}
on() { local h=$1; shift; "${PODMAN[@]}" exec "$h" sh -c "$*"; }
host "$A" "$A"
host "$B" "$B"
for h in "$A" "$B"; do
	wait_until 30 on "$h" 'systemctl is-system-running | grep -qE "running|degraded"' ||
		{ t_fail "boot_$h" "systemd did not come up"; t_done; }
	on "$h" 'cp /opt/units/subagent-*.service /etc/systemd/system/ && systemctl daemon-reload'
done
t_pass systemd_booted

# Host A: the broker.
on "$A" 'subagent deploy-broker --dir /var/lib/subagent-broker --listen 198.51.100.1:8443 >/dev/null &&
	systemctl start subagent-broker && cp /var/lib/subagent-broker/broker-info.subm /x/'
if wait_until 20 on "$A" 'curl -sf --cacert /var/lib/subagent-broker/ca.pem https://198.51.100.1:8443/healthz'; then
	t_pass broker_unit_serves
else
	t_fail broker_unit_serves
	on "$A" 'journalctl -u subagent-broker --no-pager | tail -20' >&2
fi

# Each host joins its cluster and starts its agent (cluster c1 on A, c2 on B).
join_and_start() {	# HOST N
	on "$1" "subagent join /x/broker-info.subm --clusterid c$2 --clustercidr 10.$2.0.0/16 \
		--servicecidr 10.10$2.0.0/16 --config-dir /etc/subagent >/dev/null &&
		printf 'NODE_NAME=n1\nNODE_IP=192.0.$(($2 + 1)).10\nSUBAGENT_AGENT_ARGS=--pod-cidr 10.$2.1.0/24\n' \
			>/etc/subagent/agent.env && chmod 600 /etc/subagent/agent.env &&
		systemctl start subagent-agent"
}
check join_c1 join_and_start "$A" 1
check join_c2 join_and_start "$B" 2

# Debian's strongswan-starter (pulled in by strongswan-charon, enabled at install) ran a
# charon on UDP 500/4500 since boot: the agent unit's Conflicts= stopped it.
for h in "$A" "$B"; do
	if ! on "$h" 'systemctl is-active -q strongswan-starter'; then
		t_pass "strongswan_starter_stopped_${h:8:1}"
	else
		t_fail "strongswan_starter_stopped_${h:8:1}"
	fi
done

connected() {	# HOST: its gateway reports one connected cluster
	[ "$(on "$1" "subagent show connections --config-dir /etc/subagent -o json" 2>/dev/null |
		jq '[.[] | select(.status == "connected")] | length')" = 1 ]
}
if wait_until 60 connected "$A" && wait_until 30 connected "$B"; then
	t_pass connected
else
	t_fail connected
	for h in "$A" "$B"; do on "$h" 'journalctl -u subagent-agent --no-pager | tail -20' >&2; done
fi
for h in "$A" "$B"; do
	n=${h:8:1}
	check "verify_from_$n" on "$h" 'subagent verify --config-dir /etc/subagent --state-dir /var/lib/subagent/n1'
done

# The sandbox is the unit's: the agent holds NET_BIND_SERVICE, NET_ADMIN, NET_RAW, SYS_ADMIN
# (0x203400) and at most BPF and PERFMON on top (when the container's bounding set has
# them); the broker holds nothing.
capeff() { on "$1" "grep CapEff /proc/\$(systemctl show -P MainPID $2)/status | cut -f2"; }
eff=$(capeff "$A" subagent-agent)
if (( (0x$eff & 0x203400) == 0x203400 && (0x$eff & ~0xc000203400) == 0 )); then
	t_pass "agent_capabilities ($eff)"
else
	t_fail agent_capabilities "CapEff $eff"
fi
eff=$(capeff "$A" subagent-broker)
[ "$eff" = 0000000000000000 ] && t_pass broker_no_capabilities || t_fail broker_no_capabilities "CapEff $eff"
# ProtectSystem=strict: / is read-only for the agent, its state directory is not
if on "$A" 'pid=$(systemctl show -P MainPID subagent-agent);
	grep -q " / / ro," /proc/$pid/mountinfo && grep -qE " /var/lib/subagent rw," /proc/$pid/mountinfo'; then
	t_pass agent_read_only_system
else
	t_fail agent_read_only_system
	on "$A" 'grep -E " / | /var/lib/subagent " /proc/$(systemctl show -P MainPID subagent-agent)/mountinfo' >&2
fi

# kill -9: Restart=always brings the agent back, and the tunnel with it.
pid=$(on "$B" 'systemctl show -P MainPID subagent-agent')
on "$B" "kill -9 $pid"
restarted() { on "$B" "[ \"\$(systemctl show -P NRestarts subagent-agent)\" -ge 1 ] && systemctl is-active -q subagent-agent"; }
if wait_until 20 restarted && wait_until 60 connected "$B"; then
	t_pass restart_after_kill
else
	t_fail restart_after_kill
	on "$B" 'systemctl status --no-pager subagent-agent; journalctl -u subagent-agent --no-pager | tail -20' >&2
fi

# systemctl stop: the agent removes what it made (KillMode=mixed: it stops its charon itself).
on "$B" 'systemctl stop subagent-agent'
result=$(on "$B" 'systemctl show -P Result subagent-agent')
clean() {
	! ip -n "$B" link show ipsec0 >/dev/null 2>&1 && ! ip -n "$B" link show sa-vxr >/dev/null 2>&1 &&
		! on "$B" 'nft list tables' | grep -q subagent
}
if [ "$result" = success ] && clean; then
	t_pass stop_cleans_up
else
	t_fail stop_cleans_up "Result=$result"
	ip -n "$B" -br link >&2
fi
t_done
