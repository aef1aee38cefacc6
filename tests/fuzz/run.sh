#!/bin/sh
# SPDX-License-Identifier: MIT
#
# tests/fuzz/run.sh - build the libFuzzer target of the ring-file reader and
# run it for a bounded time.
#
#	tests/fuzz/run.sh [SECONDS]      (default 60)
#
# Builds tests/fuzz/fuzz_file.c with the library's offline-reader sources
# (backends/mmap-file/file_*.c, crc32c.c: no liburcu needed) using clang
# -fsanitize=fuzzer,address,undefined, replays the seed corpus
# (tests/fuzz/corpus/), then fuzzes for SECONDS seconds starting from it.
# New inputs go to a scratch corpus, never into the source tree.
#
# Exit status: 0 when nothing crashed; non-zero on any crash, leak, hang
# (10 s per input), sanitizer report or failed check (the crashing input is
# kept and its path printed); 77 when clang or its fuzzer runtime is
# missing (Debian: apt-get install clang libclang-rt-14-dev).
#
# Environment: CLANG (default: clang, else clang-14), RBF_FUZZ_DIR (scratch
# directory, default a new one under ${TMPDIR:-/tmp}, removed on success),
# RBF_FUZZ_JOBS (parallel fuzzing processes, default 1).

set -eu

secs=${1:-60}
case $secs in
'' | *[!0-9]*)
	echo "usage: $0 [SECONDS]" >&2
	exit 2
	;;
esac

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

cc=${CLANG:-}
if [ -z "$cc" ]; then
	for c in clang clang-14; do
		if command -v "$c" >/dev/null 2>&1; then
			cc=$c
			break
		fi
	done
fi
if [ -z "$cc" ]; then
	echo "fuzz: SKIP: clang not found (apt-get install clang libclang-rt-14-dev)" >&2
	exit 77
fi

work=${RBF_FUZZ_DIR:-}
own_work=0
if [ -z "$work" ]; then
	work=$(mktemp -d "${TMPDIR:-/tmp}/rbf-fuzz.XXXXXX")
	own_work=1
fi
mkdir -p "$work/corpus" "$work/artifacts"

bin=$work/fuzz_file
echo "fuzz: building $bin with $cc"
if ! "$cc" -g -O1 -std=gnu11 -D_GNU_SOURCE \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-I"$top/include" -I"$top/frontend" -I"$top/backends/mmap-file" \
	-o "$bin" \
	"$here/fuzz_file.c" \
	"$top/backends/mmap-file/file_open.c" \
	"$top/backends/mmap-file/file_walk.c" \
	"$top/backends/mmap-file/file_recover.c" \
	"$top/backends/mmap-file/crc32c.c" \
	-pthread; then
	# No fuzzer runtime (libclang-rt-14-dev) is a missing tool, not a
	# bug; a compile error in our sources is a failure.
	if ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' |
		"$cc" -x c -fsanitize=fuzzer -o "$work/probe" - >/dev/null 2>&1; then
		echo "fuzz: SKIP: clang cannot link -fsanitize=fuzzer (apt-get install libclang-rt-14-dev)" >&2
		exit 77
	fi
	echo "fuzz: FAILED to build the target" >&2
	exit 1
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# 1. Replay the seeds: each must pass.
echo "fuzz: replaying $(ls "$here/corpus" | wc -l) seed files"
if ! "$bin" -runs=0 "$here/corpus"/* >"$work/replay.log" 2>&1; then
	cat "$work/replay.log" >&2
	echo "fuzz: FAILED on the seed corpus (log: $work/replay.log)" >&2
	exit 1
fi

# 2. Fuzz for $secs seconds.
echo "fuzz: fuzzing for $secs s (scratch: $work)"
jobs=${RBF_FUZZ_JOBS:-1}
set -- -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	-max_len=65536 -print_final_stats=1 \
	-artifact_prefix="$work/artifacts/"
if [ "$jobs" -gt 1 ]; then
	set -- "$@" -jobs="$jobs" -workers="$jobs"
fi
rc=0
(cd "$work" && "$bin" "$@" "$work/corpus" "$here/corpus") \
	>"$work/fuzz.log" 2>&1 || rc=$?
tail -n 25 "$work/fuzz.log"
for log in "$work"/fuzz-*.log; do
	[ -f "$log" ] && tail -n 5 "$log"
done
if [ "$rc" -ne 0 ] || ls "$work/artifacts" | grep -q .; then
	echo "fuzz: FAILED (exit status $rc); inputs kept in $work/artifacts:" >&2
	ls -l "$work/artifacts" >&2
	exit 1
fi
echo "fuzz: OK ($secs s, no crash)"
if [ "$own_work" -eq 1 ]; then
	rm -rf "$work"
fi
exit 0
