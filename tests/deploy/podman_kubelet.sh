#!/bin/bash
# Runs a container of a pod template (a DaemonSet of deploy/kubernetes/) the way a kubelet
# would, with podman, in the network namespace of a lab node: the image is the one in the
# OCI archive `make image` writes, command/args/env have the downward API filled in and
# $(VAR)s expanded, secret volumes come from a directory of files, hostPaths are bound
# (kept per node under --host-root, except the kernel's /sys, /dev, /lib/modules), the
# security context becomes capabilities, --read-only and so on (tests/deploy/pod_to_podman.py
# has the whole mapping). Podman runs with runc and cgroupfs (crun refuses this machine's
# hybrid cgroups) and with ulimits no higher than this shell's (raising one is refused).
#
# Usage: tests/deploy/podman_kubelet.sh [OPTIONS] MANIFEST NETNS SECRET-DIR [-- ARGS...]
#   MANIFEST        e.g. deploy/kubernetes/agent.yaml
#   NETNS           a network namespace in /run/netns (a lab node: `tests/lab/lab netns c1-n1`)
#   SECRET-DIR      the files of the pod's secret volumes (e.g. what `subagent join` wrote)
#   -- ARGS...      replace the container's args (the image's entrypoint stays)
# Options:
#   --object KIND/NAME  the workload (default: the first DaemonSet)
#   --container NAME    the container (default: the first)
#   --node-name NAME    spec.nodeName (default: NETNS)
#   --node-ip IP        status.hostIP (default: NETNS's first global IPv4 address)
#   --host-root DIR     where hostPaths live (default: build/podman/kubelet/NETNS/host)
#   --archive FILE      the image (default: build/subagent-image.oci.tar)
#   --entrypoint JSON   replace the image's entrypoint too (e.g. '["/bin/sh","-c"]')
#   --detach            run in the background; prints the container's name
#   --remove            remove this node's container (after --detach, or a killed run)
#   --stop              stop this node's container the way the kubelet ends a pod (SIGTERM,
#                       then SIGKILL after terminationGracePeriodSeconds), print its exit
#                       code and remove it
#   --exec              run ARGS (after --) in this node's running container
#   --dry-run           print the podman command instead of running it
#   --skip-missing-host-paths  leave out a shared hostPath (/lib/modules...) this machine
#                       lacks, with a note, instead of refusing as a kubelet would
# Environment: PODMAN_KUBELET_STORAGE (default build/podman/kubelet/storage).
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
OBJECT= CONTAINER= NODE_NAME= NODE_IP= HOST_ROOT= ENTRYPOINT= DETACH= DRY= MISSING= REMOVE= STOP= EXEC=
ARCHIVE=$ROOT/build/subagent-image.oci.tar
usage() { sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--object) OBJECT=$2; shift 2;;
	--container) CONTAINER=$2; shift 2;;
	--node-name) NODE_NAME=$2; shift 2;;
	--node-ip) NODE_IP=$2; shift 2;;
	--host-root) HOST_ROOT=$2; shift 2;;
	--archive) ARCHIVE=$2; shift 2;;
	--entrypoint) ENTRYPOINT=$2; shift 2;;
	--detach) DETACH=1; shift;;
	--remove) REMOVE=1; shift;;
	--stop) STOP=1; shift;;
	--exec) EXEC=1; shift;;
	--dry-run) DRY=1; shift;;
	--skip-missing-host-paths) MISSING=--skip-missing-host-paths; shift;;
	-h|--help) usage;;
	--) break;;
	-*) echo "podman_kubelet: unknown option $1" >&2; usage;;
	*) break;;
	esac
done
[ $# -ge 3 ] || usage
MANIFEST=$1 NETNS=$2 SECRETS=$3; shift 3
OVERRIDE=()
if [ $# -gt 0 ]; then
	[ "$1" = -- ] || usage
	shift
	OVERRIDE=(--command "$@")
fi
[ -e "/run/netns/$NETNS" ] || { echo "podman_kubelet: no network namespace $NETNS" >&2; exit 1; }
[ -d "$SECRETS" ] || { echo "podman_kubelet: $SECRETS is not a directory" >&2; exit 1; }
[ -s "$ARCHIVE" ] || { echo "podman_kubelet: $ARCHIVE missing: make image" >&2; exit 1; }
NODE_NAME=${NODE_NAME:-$NETNS}
if [ -z "$NODE_IP" ]; then
	NODE_IP=$(ip -n "$NETNS" -4 -o addr show scope global | awk '{sub("/.*", "", $4); print $4; exit}')
	[ -n "$NODE_IP" ] || { echo "podman_kubelet: $NETNS has no IPv4 address; use --node-ip" >&2; exit 1; }
fi
WORK=$ROOT/build/podman/kubelet
HOST_ROOT=${HOST_ROOT:-$WORK/$NETNS/host}
STAGE=$WORK/$NETNS/stage
STORAGE=${PODMAN_KUBELET_STORAGE:-$WORK/storage}
mkdir -p "$HOST_ROOT" "$STAGE" "$STORAGE"

# Podman with its own storage; its run-time state on tmpfs at a path fixed per storage (the
# database records it).
RUN=/run/subagent-podman-$(echo "$STORAGE" | sha256sum | cut -c1-12)
PODMAN=(podman --root "$STORAGE" --runroot "$RUN/runroot" --tmpdir "$RUN/tmp"
	--storage-driver overlay --storage-opt overlay.skip_mount_home=true --runtime runc --cgroup-manager cgroupfs --events-backend file)

name=sadep-kubelet-$NODE_NAME
if [ -n "$REMOVE" ]; then
	exec "${PODMAN[@]}" rm -f -t 5 --ignore "$name"
fi
if [ -n "$EXEC" ]; then
	exec "${PODMAN[@]}" exec "$name" "${OVERRIDE[@]:1}"
fi
if [ -n "$STOP" ]; then
	grace=$($PY -c 'import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d.get("kind") == "DaemonSet" and (not sys.argv[2] or sys.argv[2] == "DaemonSet/" + d["metadata"]["name"]):
        print(d["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)); break' "$MANIFEST" "$OBJECT")
	# the container runs with --rm: its exit code is what `podman wait` sees
	"${PODMAN[@]}" wait "$name" &
	waiter=$!
	sleep 0.5
	"${PODMAN[@]}" stop -t "${grace:-30}" "$name" >/dev/null
	wait "$waiter" || true
	exec "${PODMAN[@]}" rm -f --ignore "$name" >/dev/null
fi

# The image: the archive, loaded once per archive content.
sum=$(sha256sum "$ARCHIVE" | cut -c1-16)
if [ "$(cat "$STORAGE/archive.sum" 2>/dev/null)" != "$sum" ]; then
	loaded=$("${PODMAN[@]}" load -q -i "$ARCHIVE" | sed -n 's/^Loaded image[^:]*: *//p' | tail -n1)
	[ -n "$loaded" ] || { echo "podman_kubelet: podman load $ARCHIVE failed" >&2; exit 1; }
	echo "$loaded" >"$STORAGE/archive.image"
	echo "$sum" >"$STORAGE/archive.sum"
fi
IMAGE=$(cat "$STORAGE/archive.image")

apparmor=
[ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ] && apparmor=--apparmor
mapfile -d '' -t RUNARGS < <($PY "$ROOT/tests/deploy/pod_to_podman.py" "$MANIFEST" "$NETNS" \
	${OBJECT:+--object "$OBJECT"} ${CONTAINER:+--container "$CONTAINER"} \
	--node-name "$NODE_NAME" --node-ip "$NODE_IP" --secret "*=$SECRETS" \
	--host-root "$HOST_ROOT" --stage "$STAGE" --image "$IMAGE" --name "$name" $apparmor \
	$MISSING "${OVERRIDE[@]}" && printf 'rc=0\0' || printf 'rc=1\0')
[ "${#RUNARGS[@]}" -gt 0 ] && [ "${RUNARGS[-1]}" = rc=0 ] || exit 1
unset 'RUNARGS[-1]'
# ulimits no higher than ours: podman's defaults (nofile 1048576) would be a raise. runc
# refuses even an nproc equal to ours here, so that one is lowered to at most 4096.
nproc=$(ulimit -Hu)
[ "$nproc" = unlimited ] || [ "$nproc" -gt 4096 ] && nproc=4096
LIMITS=(--ulimit "nofile=$(ulimit -Sn):$(ulimit -Hn)" --ulimit "nproc=$nproc:$nproc")
EXTRA=()
[ -n "$ENTRYPOINT" ] && EXTRA+=(--entrypoint "$ENTRYPOINT")
[ -n "$DETACH" ] && EXTRA+=(--detach)
CMD=("${PODMAN[@]}" run "${LIMITS[@]}" "${EXTRA[@]}" "${RUNARGS[@]}")
if [ -n "$DRY" ]; then
	printf '%q ' "${CMD[@]}"
	echo
	exit 0
fi
if [ -n "$DETACH" ]; then
	"${CMD[@]}" >/dev/null
	echo "$name"
else
	exec "${CMD[@]}"
fi
