#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# scripts/test.sh - THE test command of rbf (CI runs it through .ci/run).
#
#   bash scripts/test.sh
#
# 1. build/       ../configure --enable-werror; make; make check
# 2. build-asan/  ../configure --enable-werror --enable-sanitizers; make check
#                 (ASan + UBSan; LeakSanitizer when it can run here)
# 3. build/       make torture TORTURE_SECONDS=${TORTURE_SECONDS:-90}, then
#                 make crash CRASH_KILLS=${CRASH_KILLS:-1000} (SIGKILLed
#                 writers, every committed event recovered)
# 4. tests/model/run.sh: SPIN model check of the head-flag protocol, when
#    spin is installed (about 30 s)
# 5. tests/fuzz/run.sh: the libFuzzer target of the ring-file reader for
#    FUZZ_SECONDS (default 60), when clang and its fuzzer runtime exist
# 6. build/       make distcheck, only when RBF_DISTCHECK=1
# 7. clang-format check of include/ frontend/ backends/ (report only,
#    unless RBF_FORMAT_STRICT=1)
#
# The last line printed is "N passed, N failed": the test cases that
# passed and failed (or errored) in both test suites, the torture run,
# the crash run, the model check, the fuzz run and distcheck counting as
# one case each.  The exit status is non-zero when anything failed.
#
# Environment: JOBS (make -j, default 2), TORTURE_SECONDS (default 90),
# CRASH_KILLS (default 1000), FUZZ_SECONDS (default 60), RBF_DISTCHECK=1,
# RBF_FORMAT_STRICT=1, RBF_SKIP_ASAN=1.

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

jobs=${JOBS:-2}
torture_seconds=${TORTURE_SECONDS:-90}
passed=0
failed=0
problems=()
start_all=$SECONDS

banner()
{
	printf '\n========================================================\n'
	printf '== %s\n' "$*"
	printf '========================================================\n'
}

problem()
{
	problems+=("$*")
	printf '!! %s\n' "$*"
}

# count_suite DIR - add the totals of DIR/tests/test-suite.log.
count_suite()
{
	local log=$1/tests/test-suite.log p f e x

	if [ ! -f "$log" ]; then
		problem "$log missing: the test suite did not run"
		failed=$((failed + 1))
		return
	fi
	p=$(awk '/^# PASS: / { print $3; exit }' "$log")
	f=$(awk '/^# FAIL: / { print $3; exit }' "$log")
	e=$(awk '/^# ERROR: / { print $3; exit }' "$log")
	x=$(awk '/^# XPASS: / { print $3; exit }' "$log")
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0} + ${e:-0} + ${x:-0}))
	printf '%s: %s passed, %s failed, %s errors\n' "$log" \
		"${p:-0}" "${f:-0}" "${e:-0}"
}

# run_suite DIR MAKE-ARGS... - make check in DIR, showing the log on failure.
run_suite()
{
	local dir=$1

	shift
	if ! make -C "$dir" -j"$jobs" check "$@"; then
		problem "make check failed in $dir"
		if [ -f "$dir/tests/test-suite.log" ]; then
			banner "$dir/tests/test-suite.log"
			cat "$dir/tests/test-suite.log"
		fi
	fi
	count_suite "$dir"
}

# An in-tree configure would break the out-of-tree builds below.
if [ -f "$top/config.status" ]; then
	banner "source tree configured in place: make distclean"
	make -C "$top" -s distclean || rm -f "$top/config.status"
fi

banner "autogen"
./autogen.sh

# ---------------------------------------------------------------------
banner "build: configure --enable-werror"
rm -rf build
mkdir -p build
built=no
if (cd build && ../configure --enable-werror) &&
   make -C build -j"$jobs"; then
	built=yes
	banner "build: make check"
	run_suite build
else
	problem "build failed (configure --enable-werror)"
	failed=$((failed + 1))
fi

# ---------------------------------------------------------------------
if [ "${RBF_SKIP_ASAN:-0}" != 1 ]; then
	banner "build-asan: configure --enable-werror --enable-sanitizers"

	# LeakSanitizer stops the world with ptrace; sandboxes that forbid
	# it make every program fail at exit.  Probe it first.
	leaks=1
	probe=$(mktemp -d)
	printf 'int main(void)\n{\n\treturn 0;\n}\n' >"$probe/p.c"
	if ${CC:-cc} -fsanitize=address -o "$probe/p" "$probe/p.c" 2>/dev/null; then
		if ! ASAN_OPTIONS=detect_leaks=1 "$probe/p" >"$probe/out" 2>&1; then
			leaks=0
			echo "NOTICE: LeakSanitizer cannot run here" \
				"($(head -n 1 "$probe/out")); using detect_leaks=0"
		fi
	fi
	rm -rf "$probe"

	rm -rf build-asan
	mkdir -p build-asan
	if (cd build-asan &&
	    ../configure --enable-werror --enable-sanitizers) &&
	   make -C build-asan -j"$jobs"; then
		banner "build-asan: make check (detect_leaks=$leaks)"
		ASAN_OPTIONS=detect_leaks=$leaks:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			run_suite build-asan
	else
		problem "sanitizer build failed"
		failed=$((failed + 1))
	fi
fi

# ---------------------------------------------------------------------
if [ "$built" = yes ]; then
	banner "build: make torture TORTURE_SECONDS=$torture_seconds"
	if make -C build torture TORTURE_SECONDS="$torture_seconds"; then
		passed=$((passed + 1))
	else
		problem "make torture failed"
		failed=$((failed + 1))
	fi
	banner "build: make crash CRASH_KILLS=${CRASH_KILLS:-1000}"
	if make -C build crash CRASH_KILLS="${CRASH_KILLS:-1000}"; then
		passed=$((passed + 1))
	else
		problem "make crash failed"
		failed=$((failed + 1))
	fi
fi

# ---------------------------------------------------------------------
banner "model check: tests/model/run.sh (SPIN)"
if command -v spin >/dev/null 2>&1; then
	model_rc=0
	bash tests/model/run.sh || model_rc=$?
	if [ "$model_rc" -eq 0 ]; then
		passed=$((passed + 1))
	elif [ "$model_rc" -eq 77 ]; then
		echo "NOTICE: model check skipped (exit status 77)"
	else
		problem "model check failed (tests/model/run.sh)"
		failed=$((failed + 1))
	fi
else
	echo "NOTICE: spin not installed: model check skipped"
fi

# ---------------------------------------------------------------------
banner "fuzz: tests/fuzz/run.sh ${FUZZ_SECONDS:-60} (ring-file reader)"
fuzz_rc=0
sh tests/fuzz/run.sh "${FUZZ_SECONDS:-60}" || fuzz_rc=$?
if [ "$fuzz_rc" -eq 0 ]; then
	passed=$((passed + 1))
elif [ "$fuzz_rc" -eq 77 ]; then
	echo "NOTICE: fuzzing skipped (clang or libclang-rt missing)"
else
	problem "fuzzing found a crash (tests/fuzz/run.sh)"
	failed=$((failed + 1))
fi

# ---------------------------------------------------------------------
if [ "${RBF_DISTCHECK:-0}" = 1 ] && [ "$built" = yes ]; then
	banner "build: make distcheck"
	if make -C build -j"$jobs" distcheck; then
		passed=$((passed + 1))
	else
		problem "make distcheck failed"
		failed=$((failed + 1))
	fi
fi

# ---------------------------------------------------------------------
banner "clang-format check"
if command -v clang-format >/dev/null 2>&1; then
	unformatted=0
	while IFS= read -r f; do
		if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
			echo "not clang-formatted: $f"
			unformatted=$((unformatted + 1))
		fi
	done < <(find include frontend backends -name '*.[ch]' 2>/dev/null | sort)
	echo "$unformatted file(s) differ from .clang-format"
	if [ "$unformatted" -gt 0 ] && [ "${RBF_FORMAT_STRICT:-0}" = 1 ]; then
		problem "clang-format: $unformatted file(s) not formatted"
		failed=$((failed + 1))
	fi
else
	echo "clang-format not installed: skipped"
fi

# ---------------------------------------------------------------------
banner "summary ($((SECONDS - start_all)) s)"
for p in "${problems[@]+"${problems[@]}"}"; do
	echo "problem: $p"
done
echo "$passed passed, $failed failed"
if [ "$failed" -gt 0 ] || [ "${#problems[@]}" -gt 0 ]; then
	exit 1
fi
exit 0
