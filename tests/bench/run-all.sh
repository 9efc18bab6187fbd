#!/bin/bash
# make bench: runs every benchmark under tests/bench/ and prints its figures.
# Benchmarks are measurements, not pass/fail tests.
set -u
cd "$(dirname "$0")/../.."
for b in tests/bench/bench_*.sh; do
	[ -e "$b" ] || continue
	echo "== $b"
	"$b" || echo "(benchmark $b exited $?)"
done
for b in build/tests/bench/bench_*; do
	[ -x "$b" ] || continue
	case $b in *.o|*.d) continue;; esac
	# a program with a script of its own is run by that script
	[ -e "tests/bench/$(basename "$b").sh" ] && continue
	echo "== $b"
	"$b" || echo "(benchmark $b exited $?)"
done
