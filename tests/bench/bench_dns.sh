#!/bin/bash
# Benchmark of issue 14: `subagent dns` under Debian's dnsperf, side by side with the lab's
# cluster resolver (dnsmasq) answering a static zone, both asked from a pod of c1:
#  1. queries per second at full load (dnsperf, 100 queries outstanding, SECS s);
#  2. latency (p50, p99 of every query) at a fixed RATE queries per second;
#  3. the server's CPU time per answer at full load (utime + stime over the run), which the
#     other jobs of a shared machine disturb least;
# each the median of RUNS runs, and their ratios. subagent answers A for
# echo.default.svc.clusterset.local, exported by c2 and c3 (the weighted round robin path);
# dnsmasq answers A for echo.default.svc.cluster.local from its host-record. A third line
# goes through the cluster resolver (dnsmasq forwarding clusterset.local to subagent), the
# path pods take. Prints figures; not a pass/fail test.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
. tests/e2e/cluster_lib.sh
RUNS=${RUNS:-3}
SECS=${SECS:-10}
RATE=${RATE:-10000}
trap '"$LAB" down >/dev/null 2>&1' EXIT
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "n/a"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
lx() { "$LAB" exec "$@"; }
command -v dnsperf >/dev/null || { echo "bench_dns: dnsperf is missing (make deps)"; exit 1; }

"$LAB" up --clusters 3 --nodes 1 --pods 1 >/dev/null || exit 1
lab_start_broker && for c in c1 c2 c3; do join_cluster "$c" || exit 1; done
for c in c2 c3; do
	lx "$c-n1" -- "$SUBAGENT" export service --config-dir "$SA_RUN/$c" --name echo \
		--vip "10.10${c#c}.0.10" --port http:8080 --endpoint "$c-n1-p1=10.${c#c}.1.11" >/dev/null || exit 1
done
lx c1-n1 -- setsid -f "$SUBAGENT" dns --config-dir "$SA_RUN/c1" --listen 172.20.1.11:53 --log-level warn \
	</dev/null >>"$SA_RUN/logs/dns-c1.log" 2>&1
"$LAB" dns-forward c1 clusterset.local 172.20.1.11
wait_until 10 bash -c "[ -n \"\$(ip netns exec ${LAB_PREFIX}c1-n1-p1 dig +short +time=1 +tries=1 @172.20.1.11 echo.default.svc.clusterset.local)\" ]" ||
	{ echo "bench_dns: subagent dns does not answer"; tail "$SA_RUN/logs/dns-c1.log"; exit 1; }
D=$SA_RUN/bench-dns
mkdir -p "$D"
echo "echo.default.svc.clusterset.local A" >"$D/subagent.q"
echo "echo.default.svc.cluster.local A" >"$D/static.q"

cpu() {	# PID...: their CPU time in clock ticks
	local p t=0
	for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
	echo "$t"
}
qps() {	# SERVER QUERYFILE PID...: "queries/s cpu_us_per_answer" at full load
	local srv=$1 f=$2 c0 out
	shift 2
	c0=$(cpu "$@")
	out=$(lx c1-n1-p1 -- dnsperf -s "$srv" -d "$f" -l "$SECS" -q 100 2>/dev/null)
	awk -v c="$(($(cpu "$@") - c0))" -v hz="$(getconf CLK_TCK)" '
		/Queries completed:/ { n = $3 } /Queries per second/ { q = $4 }
		END { printf "%d %.2f\n", q, n ? c / hz * 1e6 / n : 0 }' <<<"$out"
}
lat() {	# SERVER QUERYFILE: "p50_ms p99_ms lost_or_failed" at RATE queries per second
	local out=$D/lat.out n lost bad
	lx c1-n1-p1 -- dnsperf -s "$1" -d "$2" -l "$SECS" -Q "$RATE" -v >"$out" 2>/dev/null
	grep '^> ' "$out" | awk '{printf "%.4f\n", $NF * 1000}' | sort -n >"$out.sorted"
	n=$(wc -l <"$out.sorted")
	lost=$(awk '/Queries lost:/ {print $3}' "$out")
	bad=$(grep '^> ' "$out" | grep -vc '^> NOERROR ')
	echo "$(sed -n "$(((n + 1) / 2))p" "$out.sorted") $(sed -n "$(((n * 99 + 99) / 100))p" "$out.sorted") $((${lost:-0} + bad))"
}
SA_PID=$(netns_pid c1-n1 "subagent dns --config-dir") DM_PID=$(cat "$("$LAB" statedir)/dns/c1.pid")
declare -A Q P50 P99 LOST CPU
for who in subagent static chain; do
	case $who in
	subagent) srv=172.20.1.11 f=$D/subagent.q pids=$SA_PID;;
	static) srv=172.20.1.53 f=$D/static.q pids=$DM_PID;;
	chain) srv=172.20.1.53 f=$D/subagent.q pids="$SA_PID $DM_PID";;
	esac
	q=() p5=() p9=() lo=() cu=()
	for r in $(seq "$RUNS"); do
		read -r a b <<<"$(qps "$srv" "$f" $pids)"
		q+=("$a") cu+=("$b")
		read -r a b c <<<"$(lat "$srv" "$f")"
		p5+=("$a") p9+=("$b") lo+=("$c")
	done
	Q[$who]=$(printf '%s\n' "${q[@]}" | median)
	P50[$who]=$(printf '%s\n' "${p5[@]}" | median)
	P99[$who]=$(printf '%s\n' "${p9[@]}" | median)
	LOST[$who]=$(printf '%s\n' "${lo[@]}" | median)
	CPU[$who]=$(printf '%s\n' "${cu[@]}" | median)
	echo "  $who: qps ${q[*]}; cpu/answer ${cu[*]} us; p50 ${p5[*]} ms; p99 ${p9[*]} ms; lost ${lo[*]}" >&2
done
echo "dns: machine load average during the run: $(cut -d' ' -f1-3 /proc/loadavg)"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo "dns: queries/s at full load (dnsperf, 100 outstanding, ${SECS} s, median of $RUNS):"
echo "     subagent dns ${Q[subagent]}, dnsmasq static zone ${Q[static]}: ratio $(ratio "${Q[subagent]}" "${Q[static]}")"
echo "     through the cluster resolver (dnsmasq forwarding to subagent dns): ${Q[chain]}"
echo "dns: CPU per answer at full load: subagent dns ${CPU[subagent]} us, dnsmasq static zone ${CPU[static]} us:" \
	"ratio $(ratio "${CPU[subagent]}" "${CPU[static]}"); through the cluster resolver (both) ${CPU[chain]} us"
echo "dns: latency at $RATE queries/s (p50 / p99, median of $RUNS):"
echo "     subagent dns ${P50[subagent]} / ${P99[subagent]} ms, dnsmasq static zone ${P50[static]} / ${P99[static]} ms:" \
	"p99 ratio $(ratio "${P99[subagent]}" "${P99[static]}"); lost or failed: ${LOST[subagent]} / ${LOST[static]}"
echo "     through the cluster resolver: ${P50[chain]} / ${P99[chain]} ms, lost ${LOST[chain]}"
kill "$SA_PID"
stop_broker
