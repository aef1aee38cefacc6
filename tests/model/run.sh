#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/model/run.sh - model-check the head-flag / sub-buffer exchange
# protocol (tests/model/head.pml) with SPIN.
#
#   bash tests/model/run.sh          quick set (about 35 s, 1 GiB)
#   bash tests/model/run.sh --full   also the large configurations (about
#                                    6 min, 4 GiB of memory)
#
# Each configuration is generated with `spin -a`, compiled with ${CC:-cc}
# and searched exhaustively (state compression, no bitstate hashing).  The
# exit status is 0 when every search completed without error, 1 when one
# found an error (assertion, invalid end state, non-progress cycle) or did
# not complete (depth or memory limit), 77 when spin or a C compiler is
# missing.  The last line printed is a one-line summary.
#
# Environment: CC, MODEL_MEMLIM (MiB per search, default 4096 quick and
# 12288 full), MODEL_KEEP=1 keeps the work directory.

set -u

here=$(cd "$(dirname "$0")" && pwd)
model=$here/head.pml
full=0

for arg in "$@"; do
	case $arg in
	--full) full=1 ;;
	-h | --help)
		sed -n '4,19p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "model: unknown argument: $arg" >&2
		exit 2
		;;
	esac
done

if ! command -v spin >/dev/null 2>&1; then
	echo "model: SKIP: spin is not installed (apt-get install spin)"
	exit 77
fi
cc=${CC:-cc}
if ! command -v "$cc" >/dev/null 2>&1; then
	echo "model: SKIP: no C compiler ($cc)"
	exit 77
fi

if [ "$full" = 1 ]; then
	memlim=${MODEL_MEMLIM:-12288}
else
	memlim=${MODEL_MEMLIM:-4096}
fi

# name | spin -D flags | pan compile flags | pan run flags
#
# safety: assertions and invalid end states; np-*: non-progress cycles,
# "lockfree" without fairness (the reader's -EAGAIN retry counts as
# progress, so a cycle means a writer waits for a stopped process),
# "fair" with weak fairness.
configs=(
	"safety-S3-w2x2|-DS=3 -DK0=2 -DK1=2 -DW0PAT=5 -DFLUSHES=1|-DSAFETY|-w24"
	"safety-S4-w2x3|-DS=4 -DK0=2 -DK1=3 -DW0PAT=1 -DFLUSHES=1|-DSAFETY|-w24"
	"safety-S4-w3x2|-DS=4 -DK0=3 -DK1=2 -DW0PAT=3 -DFLUSHES=1|-DSAFETY|-w25"
	"np-lockfree-S2-w2x2|-DS=2 -DK0=2 -DK1=2 -DW0PAT=0 -DFLUSHES=0 -DLOCKFREE=1|-DNP|-w24 -l"
)
if [ "$full" = 1 ]; then
	configs+=(
		"safety-S3-any-w2x2|-DS=3 -DK0=2 -DK1=2 -DRSZ_ANY=1 -DFLUSHES=1|-DSAFETY|-w27"
		"safety-S3-w3x2|-DS=3 -DK0=3 -DK1=2 -DW0PAT=5 -DFLUSHES=1|-DSAFETY|-w27"
		"safety-S2-w3x3|-DS=2 -DK0=3 -DK1=3 -DW0PAT=0 -DFLUSHES=0|-DSAFETY|-w27"
		"np-lockfree-S3-w2x2|-DS=3 -DK0=2 -DK1=2 -DW0PAT=5 -DFLUSHES=1 -DLOCKFREE=1|-DNP|-w26 -l"
		"np-fair-S3-w2x2|-DS=3 -DK0=2 -DK1=2 -DW0PAT=5 -DFLUSHES=1|-DNP|-w26 -l -f"
	)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/rbf-model.XXXXXX") || exit 1
keep=${MODEL_KEEP:-0}
# shellcheck disable=SC2317 # called by the trap
cleanup()
{
	if [ "$keep" = 1 ]; then
		echo "model: work directory kept: $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

cp "$model" "$work/head.pml" || exit 1
cd "$work" || exit 1

total_states=0
failed=0
passed=0
start=$SECONDS

# build_one NAME DFLAGS CFLAGS: spin -a and compile pan in $work/NAME;
# leaves the status in $work/NAME/build.rc.
build_one()
{
	local dir=$work/$1 rc=0

	mkdir -p "$dir" && cp head.pml "$dir/" || return 1
	# shellcheck disable=SC2086
	(cd "$dir" && spin $2 -a head.pml >build.log 2>&1 &&
		"$cc" -O2 -w -DCOLLAPSE -DMEMLIM="$memlim" $3 \
			-o pan pan.c >>build.log 2>&1) || rc=1
	echo "$rc" >"$dir/build.rc"
}

# Generate and compile every configuration first, two at a time.
running=0
for c in "${configs[@]}"; do
	IFS='|' read -r name dflags cflags rflags <<<"$c"
	build_one "$name" "$dflags" "$cflags" &
	running=$((running + 1))
	if [ "$running" -ge 2 ]; then
		wait -n 2>/dev/null || true
		running=$((running - 1))
	fi
done
wait

for c in "${configs[@]}"; do
	IFS='|' read -r name dflags cflags rflags <<<"$c"
	dir=$work/$name
	if [ "$(cat "$dir/build.rc" 2>/dev/null)" != 0 ]; then
		echo "model: $name: FAIL: spin -a or compiling pan.c failed"
		cat "$dir/build.log" 2>/dev/null
		failed=$((failed + 1))
		keep=1
		continue
	fi
	t0=$SECONDS
	# shellcheck disable=SC2086
	(cd "$dir" && ./pan -m300000 $rflags >pan.log 2>&1)
	rc=$?
	secs=$((SECONDS - t0))
	log=$dir/pan.log
	errors=$(awk '/errors: / { for (i = 1; i <= NF; i++)
		if ($i == "errors:") print $(i + 1) }' "$log" | tail -n 1)
	states=$(awk '/states, stored/ { print $1; exit }' "$log")
	states=$(printf '%.0f' "${states:-0}" 2>/dev/null || echo 0)
	problem=
	if [ -z "$errors" ]; then
		problem="no result (pan exit status $rc)"
	elif [ "$errors" != 0 ]; then
		problem="$errors error(s): $(grep -m 1 -E 'violated|cycle|invalid end state' "$log")"
	elif grep -q -E 'max search depth too small|MEMLIM|out of memory|Search not completed' "$log"; then
		problem="search incomplete: $(grep -m 1 -E 'depth too small|MEMLIM|out of memory|not completed' "$log")"
	fi
	if [ -n "$problem" ]; then
		echo "model: $name: FAIL: $problem"
		tail -n 25 "$log"
		if [ -f "$dir/head.pml.trail" ]; then
			echo "model: counterexample (last steps; all of it:" \
				"cd $dir && spin -t -p -g $dflags head.pml):"
			# shellcheck disable=SC2086
			(cd "$dir" && spin -t -p $dflags head.pml 2>&1 |
				grep -E '^ *[0-9]+:' | tail -n 40)
		fi
		failed=$((failed + 1))
		keep=1
		continue
	fi
	echo "model: $name: ok, $states states, ${secs} s"
	total_states=$((total_states + states))
	passed=$((passed + 1))
done

elapsed=$((SECONDS - start))
if [ "$failed" -gt 0 ]; then
	echo "model: FAILED: $failed of $((passed + failed)) configurations" \
		"failed (${elapsed} s)"
	exit 1
fi
echo "model: PASS: $passed configurations, $total_states states," \
	"no errors (${elapsed} s)"
exit 0
