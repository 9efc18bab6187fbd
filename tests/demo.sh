#!/bin/bash
# make demo: the main job in the netns lab.
# Today: brings the lab up (3 clusters, c3 behind NAT), shows it, proves pods reach their
# own cluster's service, shows that clusters cannot reach each other yet, and takes it down.
set -eu
cd "$(dirname "$0")/.."
LAB=tests/lab/lab
KEEP=${KEEP:-0}

trap '[ "$KEEP" = 1 ] || $LAB down >/dev/null' EXIT
$LAB up --clusters 3 --nodes 2 --pods 1 --nat c3
$LAB show
echo
echo "== c1 pod -> c1 echo service:"
echo hello | $LAB exec c1-n1-p1 -- socat -T3 - TCP4:10.101.0.10:8080,connect-timeout=3
echo "== c1 pod -> c2 pod (no tunnel yet, must fail):"
if $LAB exec c1-n1-p1 -- ping -c1 -W1 10.2.1.11 >/dev/null 2>&1; then
	echo "unexpected: clusters already connected"; exit 1
else
	echo "unreachable, as expected until the gateway engine connects the clusters"
fi
if [ "$KEEP" = 1 ]; then
	echo
	echo "The lab stays up (KEEP=1). Look around with 'tests/lab/lab show' and"
	echo "'tests/lab/lab exec c1-n1 -- ip route'; take it down with 'make lab-down'."
fi
