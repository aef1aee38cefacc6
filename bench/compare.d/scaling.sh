#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bench/compare.d/scaling.sh - the scaling run of bench/compare, for a
# machine with neither a compiler nor a package archive.
#
# `bench/compare --build-static DIR` puts this script beside statically
# linked cmp-floor and cmp-rbf in DIR.  Copy DIR to the machine, then
#
#	./scaling.sh [-r ROUNDS] [-s SECONDS] [-t MAXTHREADS] [-l 1,2,4,...] \
#		> scaling.jsonl
#
# and tabulate and plot the results where bench/compare lives:
#
#	bench/compare --import scaling.jsonl --out DIR
#
# Threads are pinned one per CPU, to the first CPUs the process may use
# (run it under taskset(1) to choose them).  Without -l the thread counts
# are 1, 2, ..., CPUs up to 16 CPUs, then 1, 2, 4, 8, 16 and every 8th (up
# to 64), 16th (up to 128) or 32nd count, and the CPU count itself: the
# same list as `bench/compare --scaling`.  Each round runs every
# configuration once (round-robin), so that drifts hit all of them alike.
# Output: one JSON object per line, a "machine" line first.
set -eu

dir=$(cd "$(dirname "$0")" && pwd)
rounds=5
secs=0.2
max=
list=

usage() {
	echo "usage: $0 [-r ROUNDS] [-s SECONDS] [-t MAXTHREADS] [-l LIST]" >&2
	exit 2
}

while getopts r:s:t:l:h opt; do
	case $opt in
	r) rounds=$OPTARG ;;
	s) secs=$OPTARG ;;
	t) max=$OPTARG ;;
	l) list=$(echo "$OPTARG" | tr ',' ' ') ;;
	*) usage ;;
	esac
done

ncpu=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)
if [ -n "$max" ] && [ "$max" -lt "$ncpu" ]; then
	ncpu=$max
fi

if [ -z "$list" ]; then
	if [ "$ncpu" -le 16 ]; then
		list=$(seq 1 "$ncpu")
	else
		list="1 2 4 8 16"
		t=16
		while [ "$t" -lt "$ncpu" ]; do
			if [ "$t" -lt 64 ]; then
				t=$((t + 8))
			elif [ "$t" -lt 128 ]; then
				t=$((t + 16))
			else
				t=$((t + 32))
			fi
			[ "$t" -gt "$ncpu" ] && t=$ncpu
			list="$list $t"
		done
	fi
fi

model=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo 2>/dev/null |
	head -n 1 | tr -d '"\\')
printf '{"machine": {"cpu": "%s", "ncpus": %s, "kernel": "%s"}}\n' \
	"${model:-unknown}" "$ncpu" "$(uname -r)"

# run CELL PROGRAM ARGS...: one measurement, wrapped with its cell name.
run() {
	cell=$1
	shift
	line=$("$@" | grep '^{' | tail -n 1) || true
	if [ -n "$line" ]; then
		printf '{"cell": "%s", "round": %d, "result": %s}\n' \
			"$cell" "$r" "$line"
	else
		echo "scaling.sh: $cell failed" >&2
	fi
}

common="--seconds=$secs --warmup=0.05"
geom="--subbuf=1048576 --nsubbuf=4 --clock=monotonic --mode=overwrite"
r=1
while [ "$r" -le "$rounds" ]; do
	for t in $list; do
		run "scale/floor/$t" "$dir/cmp-floor" --what=floor \
			--record=16 --threads="$t" $common
		for alloc in per-thread per-cpu global; do
			run "scale/rbf-$alloc/$t" "$dir/cmp-rbf" --alloc="$alloc" \
				--payload=8 --threads="$t" $geom $common
		done
	done
	echo "scaling.sh: round $r/$rounds done" >&2
	r=$((r + 1))
done
