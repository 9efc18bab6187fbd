#!/bin/bash
# The data-path benchmarks on the kernel path that real nodes take: one boot of the VM test bed
# (Debian's kernel, kernel ESP and XFRM; tests/vm/) runs
#   bench_tunnel.sh                 iperf3 pod to pod through subagent (route-based XFRM) vs the
#                                   same namespaces with charon configured by hand;
#   CABLES=ipsec bench_globalnet.sh no translation / BPF / nftables over one bulk stream, new
#                                   TCP connections per second and UDP over 1000 flows.
# The VM runs under emulation (TCG) here: the absolute figures mean little, the ratios
# between configurations measured in the same boot are what to read. RUNS and SECS go to
# both. Prints their tables; not a pass/fail test.
set -u
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-3}
SECS=${SECS:-5}
for b in build/subagent build/tests/bench/flowgen; do
	[ -x "$b" ] || { echo "$b not built (make all test-build)" >&2; exit 1; }
done
echo "(the VM test bed: $(tests/vm/vm accel 2>/dev/null || echo "accelerator unknown"))"
tests/vm/vm run --timeout 7200 --env "RUNS=$RUNS" --env "SECS=$SECS" -- bash -c '
	echo "== bench_tunnel.sh on $(uname -r)"
	tests/bench/bench_tunnel.sh
	echo "== bench_globalnet.sh (ipsec) on $(uname -r)"
	CABLES=ipsec tests/bench/bench_globalnet.sh'
