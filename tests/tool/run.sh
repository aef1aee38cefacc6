#!/bin/sh
# SPDX-License-Identifier: MIT
#
# tests/tool/run.sh - end-to-end tests of the `rbf` command, in TAP.
#
# Ring files are made by tests/tool/mkring (known events written through
# the library on the mmap-file backend); then rbf info, dump, recover and
# drain are run on them and their output is checked, and so are bad
# inputs (missing, not an rbf file, truncated) and every --help.
#
# Environment: top_builddir (default .), where tools/rbf and
# tests/tool/mkring are built; RBF and MKRING override the programs.
# TMPDIR is used for scratch files (all removed at the end).

top_builddir=${top_builddir:-.}
RBF=${RBF:-$top_builddir/tools/rbf}
MKRING=${MKRING:-$top_builddir/tests/tool/mkring}

if test ! -x "$RBF" || test ! -x "$MKRING"; then
	echo "1..0 # SKIP $RBF or $MKRING not built"
	exit 0
fi

T=`mktemp -d "${TMPDIR:-/tmp}/rbf-tool-test.XXXXXX"` || exit 99
bgpids=
cleanup()
{
	for p in $bgpids; do
		kill -9 "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup 0
trap 'exit 1' 1 2 15

n=0
failed=0

# ok DESCRIPTION: the previous command's status decides.
pass()
{
	n=`expr $n + 1`
	echo "ok $n - $1"
}

fail()
{
	n=`expr $n + 1`
	failed=`expr $failed + 1`
	echo "not ok $n - $1"
	shift
	for line in "$@"; do
		echo "# $line"
	done
}

skip()
{
	n=`expr $n + 1`
	echo "ok $n - $1 # SKIP $2"
}

# check DESCRIPTION CONDITION...: run the condition (a shell command).
check()
{
	check_desc=$1
	shift
	if eval "$@"; then
		pass "$check_desc"
	else
		fail "$check_desc" "failed: $*"
		if test -s "$T/err"; then
			sed 's/^/#   stderr: /' "$T/err" | head -20
		fi
	fi
}

# run EXPECTED_STATUS CMD...: run with stdout in $T/out, stderr in
# $T/err; set $st.  Returns 0 if the status is the expected one.
run()
{
	run_want=$1
	shift
	"$@" >"$T/out" 2>"$T/err"
	st=$?
	# A sanitizer report fails the test whatever the exit status.
	if grep -Eq '^==[0-9]+==ERROR: |: runtime error: ' "$T/err"; then
		sed 's/^/#   /' "$T/err" | head -40
		st=98
	fi
	test "$st" -eq "$run_want"
}

# wait_for CMD...: retry for up to 10 s.
wait_for()
{
	wait_i=0
	while test $wait_i -lt 200; do
		if eval "$@"; then
			return 0
		fi
		sleep 0.05 2>/dev/null || sleep 1
		wait_i=`expr $wait_i + 1`
	done
	return 1
}

lines()
{
	wc -l <"$1" | tr -d ' '
}

# Payloads of a dump --string, in order, e.g. "t0-e5".
payloads()
{
	sed -n 's/.* data="\(.*\)"$/\1/p' "$1"
}

# The numbers 0 .. $1-1 as "t$2-eN" lines.
expected()
{
	awk -v n="$1" -v t="$2" 'BEGIN { for (i = 0; i < n; i++) print "t" t "-e" i }'
}

# Is every ts= of a dump nondecreasing?
sorted_ts()
{
	sed -n 's/.* ts=\([0-9]*\) .*/\1/p' "$1" |
		awk 'NR > 1 && $1 < prev { bad = 1 } { prev = $1 }
		     END { exit bad }'
}

checksum()
{
	cksum <"$1"
}

# --- usage -------------------------------------------------------------

run 0 "$RBF" --help && grep -q '^Usage: rbf' "$T/out"
check "rbf --help exits 0 with a usage" test $? -eq 0
run 0 "$RBF" -h
check "rbf -h exits 0" test $? -eq 0
run 0 "$RBF" --version && grep -q '^rbf [0-9]' "$T/out"
check "rbf --version exits 0" test $? -eq 0
for cmd in info dump recover drain; do
	run 0 "$RBF" $cmd --help && grep -q "^Usage: rbf $cmd" "$T/out"
	check "rbf $cmd --help exits 0 with its usage" test $? -eq 0
	run 0 "$RBF" $cmd -h
	check "rbf $cmd -h exits 0" test $? -eq 0
done
run 2 "$RBF"
check "rbf without a command exits 2" test $? -eq 0
run 2 "$RBF" frobnicate
check "rbf with an unknown command exits 2" test $? -eq 0
run 2 "$RBF" info
check "rbf info without FILE exits 2" test $? -eq 0
run 2 "$RBF" dump --bogus x && grep -q "bogus" "$T/err"
check "rbf dump with an unknown option exits 2 naming it" test $? -eq 0
run 2 "$RBF" recover x
check "rbf recover without -o exits 2" test $? -eq 0
run 2 "$RBF" drain x
check "rbf drain without -o exits 2" test $? -eq 0
run 2 "$RBF" dump --from yesterday x
check "rbf dump with a bad time exits 2" test $? -eq 0

# --- a clean global ring ------------------------------------------------

R=$T/ring1
run 0 "$MKRING" -n 600 "$R"
check "mkring writes a ring file of 600 events" test $? -eq 0
sum_before=`checksum "$R"`

run 0 "$RBF" info "$R"
check "rbf info exits 0" test $? -eq 0
cp "$T/out" "$T/info1"
check "info: state clean" "grep -q '^state: *clean' '$T/info1'"
check "info: mode, alloc and clock" \
	"grep -q '^mode: *discard' '$T/info1' &&
	 grep -q '^buffers:.*global' '$T/info1' &&
	 grep -q '^clock: *monotonic, 1000000000 Hz' '$T/info1'"
check "info: geometry" "grep -q '^geometry: *4 sub-buffers of 4096 bytes' '$T/info1'"
check "info: 600 recoverable events" \
	"grep -q '^events: *600 recoverable' '$T/info1'"
check "info: uuid and creation time" \
	"grep -Eq '^uuid: *[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' '$T/info1' &&
	 grep -Eq '^created: *[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{9}Z$' '$T/info1'"
check "info: per-buffer loss causes" "grep -q '^  lost  *full 0, busy 0' '$T/info1'"

run 0 "$RBF" info --json "$R"
check "rbf info --json exits 0" test $? -eq 0
if command -v python3 >/dev/null 2>&1; then
	check "info --json is valid JSON with 600 events" \
		"python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d[\"total\"][\"events\"] == 600 and d[\"state\"] == \"clean\" else 1)' '$T/out'"
else
	skip "info --json is valid JSON" "no python3"
fi

run 0 "$RBF" dump --string "$R"
check "rbf dump --string exits 0" test $? -eq 0
cp "$T/out" "$T/dump1"
check "dump: 600 lines" test "`lines "$T/dump1"`" -eq 600
expected 600 0 >"$T/exp1"
payloads "$T/dump1" >"$T/pay1"
check "dump: every payload, in order" cmp -s "$T/exp1" "$T/pay1"
check "dump: line format" \
	"head -1 '$T/dump1' | grep -Eq '^buf=0 ts=[0-9]+ time=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z id=1 len=5 data=\"t0-e0\"$'"
check "dump: event ids" "sed -n '8p' '$T/dump1' | grep -q ' id=1 len=5 '"
check "dump: timestamps do not decrease" sorted_ts "$T/dump1"
run 0 "$RBF" dump "$R"
check "dump: hex payload by default" \
	"head -1 '$T/out' | grep -q ' data=74302d6530$'"
run 0 "$RBF" dump --buffer 0 "$R"
check "dump --buffer 0: all 600" test "`lines "$T/out"`" -eq 600
run 0 "$RBF" dump --buffer 7 "$R"
check "dump --buffer 7 (no such buffer): nothing" test "`lines "$T/out"`" -eq 0

# Time range: events 50 .. 99 by ns, then by wall time.
t50=`sed -n '51s/.* ts=\([0-9]*\) .*/\1/p' "$T/dump1"`
t99=`sed -n '100s/.* ts=\([0-9]*\) .*/\1/p' "$T/dump1"`
w50=`sed -n '51s/.* time=\([^ ]*\) .*/\1/p' "$T/dump1"`
want=`awk -v a="$t50" -v b="$t99" '{ sub(/.* ts=/, ""); sub(/ .*/, "") }
	$1 + 0 >= a + 0 && $1 + 0 <= b + 0 { c++ } END { print c + 0 }' "$T/dump1"`
run 0 "$RBF" dump --from "$t50" --to "$t99" "$R"
check "dump --from/--to in ns: $want events" test "`lines "$T/out"`" -eq "$want"
want=`awk -v a="$t50" '{ sub(/.* ts=/, ""); sub(/ .*/, "") }
	$1 + 0 >= a + 0 { c++ } END { print c + 0 }' "$T/dump1"`
run 0 "$RBF" dump --from "$w50" "$R"
check "dump --from in wall time: $want events" test "`lines "$T/out"`" -eq "$want"
run 0 "$RBF" dump --to 1970-01-01T00:00:00Z "$R"
check "dump --to before the trace: nothing" test "`lines "$T/out"`" -eq 0

# recover of a clean file: the same events.
run 0 "$RBF" recover "$R" -o "$T/rec1"
check "rbf recover of a clean file exits 0" test $? -eq 0
check "recover: 600 kept, nothing dropped" \
	"grep -q '^kept: *600 events' '$T/out' && grep -q '^dropped: *nothing' '$T/out'"
run 0 "$RBF" dump --string "$T/rec1"
check "recover: the copy holds the same events" cmp -s "$T/dump1" "$T/out"
run 1 "$RBF" recover "$R" -o "$T/rec1"
check "recover onto an existing file exits 1" test $? -eq 0
check "recover onto an existing file names it" \
	"grep -q '^rbf: $T/rec1: ' '$T/err'"
run 1 "$RBF" recover "$R" -o "$T/no/such/dir/out"
check "recover into a missing directory exits 1" test $? -eq 0

check "info, dump and recover never write to the input" \
	test "\"`checksum "$R"`\"" = "\"$sum_before\""

# drain of a closed file: the trace directory dumps the same lines.
run 0 "$RBF" drain "$R" -o "$T/dir1"
check "rbf drain of a closed file exits 0" test $? -eq 0
check "drain: statistics" \
	"grep -q '^events: *600$' '$T/out' && grep -q '^sub-buffers: ' '$T/out' &&
	 grep -q '^lost: *full 0' '$T/out'"
check "drain: metadata and stream files" \
	"test -s '$T/dir1/metadata' && test -s '$T/dir1/stream-0'"
run 0 "$RBF" dump --string "$T/dir1"
check "dump of the trace directory: the same lines" cmp -s "$T/dump1" "$T/out"
run 0 "$RBF" dump --string --from "$t50" --to "$t99" "$T/dir1"
check "dump DIR --from/--to" test "`lines "$T/out"`" -eq \
	"`awk -v a="$t50" -v b="$t99" '{ sub(/.* ts=/, ""); sub(/ .*/, "") }
	$1 + 0 >= a + 0 && $1 + 0 <= b + 0 { c++ } END { print c + 0 }' "$T/dump1"`"

# A damaged trace directory.
cp -r "$T/dir1" "$T/dir1bad"
size=`wc -c <"$T/dir1bad/stream-0" | tr -d ' '`
head -c `expr $size - 3` "$T/dir1/stream-0" >"$T/dir1bad/stream-0"
run 1 "$RBF" dump --string "$T/dir1bad"
check "dump of a truncated stream exits 1" test $? -eq 0
check "dump of a truncated stream names the file and offset" \
	"grep -q 'stream-0: truncated sub-buffer at offset [0-9]' '$T/err'"
check "dump of a truncated stream prints the events before" \
	"test \"\`lines '$T/out'\`\" -gt 0 && test \"\`lines '$T/out'\`\" -lt 600"
printf 'XXXXXXXX' | dd of="$T/dir1bad/metadata" conv=notrunc 2>/dev/null
run 1 "$RBF" dump "$T/dir1bad"
check "dump of a trace with bad metadata exits 1" \
	"test $? -eq 0 && grep -q 'metadata: wrong magic' '$T/err'"
mkdir "$T/empty"
run 1 "$RBF" dump "$T/empty"
check "dump of a directory without metadata exits 1" \
	"test $? -eq 0 && grep -q \"^rbf: $T/empty: \" '$T/err'"

# --- clock none ----------------------------------------------------------

run 0 "$MKRING" -c none -n 50 "$T/none"
check "mkring with clock none" test $? -eq 0
run 0 "$RBF" dump --string "$T/none"
check "dump clock none: raw stamps, no wall time" \
	"head -1 '$T/out' | grep -q '^buf=0 ts=1000 time=- id=1 len=5 data=\"t0-e0\"$' &&
	 tail -1 '$T/out' | grep -q ' ts=1490 time=- '"
run 0 "$RBF" dump --from 1100 --to 1190 "$T/none"
check "dump clock none: --from/--to on raw stamps" test "`lines "$T/out"`" -eq 10
run 2 "$RBF" dump --from 2024-01-01 "$T/none"
check "dump clock none: wall times refused (exit 2)" test $? -eq 0
run 0 "$RBF" info "$T/none"
check "info clock none" "grep -q '^clock: *none' '$T/out'"

# --- per-thread buffers, merged ----------------------------------------

run 0 "$MKRING" -a thread -t 4 -n 500 -k 16 "$T/pt"
check "mkring with 4 per-thread buffers" test $? -eq 0
run 0 "$RBF" dump --string "$T/pt"
cp "$T/out" "$T/dumppt"
check "dump per-thread: 2000 events" test "`lines "$T/dumppt"`" -eq 2000
check "dump per-thread: merged by timestamp" sorted_ts "$T/dumppt"
ok=0
for t in 0 1 2 3; do
	expected 500 $t >"$T/expt"
	payloads "$T/dumppt" | grep "^t$t-" >"$T/payt"
	cmp -s "$T/expt" "$T/payt" || ok=1
done
check "dump per-thread: each thread's events in order" test $ok -eq 0
run 0 "$RBF" info "$T/pt"
check "info per-thread: 4 buffers with tids" \
	"grep -q '^buffers: *4 of' '$T/out' && test \`grep -c '^buffer [0-9]*: tid [0-9]' '$T/out'\` -eq 4"
b=`sed -n '1s/^buf=\([0-9]*\) .*/\1/p' "$T/dumppt"`
run 0 "$RBF" dump --buffer "$b" "$T/pt"
check "dump --buffer on per-thread buffers: 500" test "`lines "$T/out"`" -eq 500

# --- a writer that died -------------------------------------------------

run 0 "$MKRING" -u -n 100 "$T/crash"
check "mkring -u leaves an unclean file" test $? -eq 0
sum_before=`checksum "$T/crash"`
run 0 "$RBF" info "$T/crash"
check "info: unclean, writer dead" \
	"grep -q '^state: *unclean (writer pid [0-9]* died' '$T/out'"
run 0 "$RBF" dump --string "$T/crash"
check "dump of the crashed file: the 100 committed events only" \
	"test \"\`lines '$T/out'\`\" -eq 100 && ! grep -q uncommitted '$T/out'"
run 0 "$RBF" recover "$T/crash" -o "$T/crash.rec"
check "recover of the crashed file exits 0" test $? -eq 0
check "recover: 100 kept, 1 uncommitted dropped" \
	"grep -q '^kept: *100 events' '$T/out' && grep -q ' 1 uncommitted records' '$T/out'"
check "recover: says the writer died" "grep -q 'unclean' '$T/out'"
run 0 "$RBF" info "$T/crash.rec"
check "the recovered copy is clean" "grep -q '^state: *clean' '$T/out'"
run 0 "$RBF" dump --string "$T/crash.rec"
expected 100 0 >"$T/exp"
payloads "$T/out" >"$T/pay"
check "the recovered copy holds the 100 events" cmp -s "$T/exp" "$T/pay"
check "the crashed file was not written to" \
	test "\"`checksum "$T/crash"`\"" = "\"$sum_before\""

# --- drain of a live writer ----------------------------------------------

"$MKRING" -n 5000 -p 50 -k 64 "$T/live" 2>"$T/mkerr" &
wpid=$!
bgpids="$bgpids $wpid"
wait_for "'$RBF' info '$T/live' >/dev/null 2>&1"
run 0 "$RBF" drain "$T/live" -o "$T/dir2"
check "drain of a live writer exits 0 when the writer closes" test $? -eq 0
check "drain of a live writer: 5000 events" "grep -q '^events: *5000$' '$T/out'"
wait $wpid
check "the live writer exited 0" test $? -eq 0
run 0 "$RBF" dump --string "$T/dir2"
expected 5000 0 >"$T/exp"
payloads "$T/out" >"$T/pay"
check "the drained trace holds the 5000 events in order" cmp -s "$T/exp" "$T/pay"

# drain stopped by SIGINT while the writer holds the file open.
"$MKRING" -H -n 300 "$T/hold" 2>"$T/mkerr" &
wpid=$!
bgpids="$bgpids $wpid"
wait_for "'$RBF' info '$T/hold' 2>/dev/null | grep -q '^events: *[1-9]'"
"$RBF" drain "$T/hold" -o "$T/dir3" >"$T/out3" 2>"$T/err3" &
dpid=$!
bgpids="$bgpids $dpid"
wait_for "test -s '$T/dir3/metadata'"
sleep 1
kill -INT $dpid
wait $dpid
check "drain interrupted by SIGINT exits 0" test $? -eq 0
check "drain interrupted: says so and prints statistics" \
	"grep -q '(interrupted)' '$T/out3' && grep -q '^events: *300$' '$T/out3'"
run 0 "$RBF" dump --string "$T/dir3"
expected 300 0 >"$T/exp"
payloads "$T/out" >"$T/pay"
check "drain interrupted: the flushed trace holds the 300 events" \
	cmp -s "$T/exp" "$T/pay"
kill -TERM $wpid
wait $wpid

# drain refuses a directory holding another channel's trace.
run 1 "$RBF" drain "$T/none" -o "$T/dir1"
check "drain into another channel's trace directory exits 1" \
	"test $? -eq 0 && grep -q 'another channel' '$T/err'"

# --- bad input ------------------------------------------------------------

for cmd in info dump recover drain; do
	case $cmd in
	recover) extra="-o $T/never-$cmd" ;;
	drain) extra="-o $T/never-dir-$cmd" ;;
	*) extra= ;;
	esac
	run 1 "$RBF" $cmd $extra "$T/missing"
	check "$cmd of a missing file exits 1 naming it" \
		"test $? -eq 0 && grep -q \"^rbf: $T/missing: No such file\" '$T/err'"
	head -c 8192 /dev/urandom >"$T/junk" 2>/dev/null ||
		dd if=/dev/zero of="$T/junk" bs=1024 count=8 2>/dev/null
	run 1 "$RBF" $cmd $extra "$T/junk"
	check "$cmd of a file that is not an rbf file exits 1 naming it" \
		"test $? -eq 0 && grep -q \"^rbf: $T/junk: .\" '$T/err'"
	head -c 6000 "$R" >"$T/trunc"
	run 1 "$RBF" $cmd $extra "$T/trunc"
	check "$cmd of a truncated file exits 1 naming it" \
		"test $? -eq 0 && grep -q \"^rbf: $T/trunc: .\" '$T/err'"
	: >"$T/emptyfile"
	run 1 "$RBF" $cmd $extra "$T/emptyfile"
	check "$cmd of an empty file exits 1 naming it" \
		"test $? -eq 0 && grep -q \"^rbf: $T/emptyfile: .\" '$T/err'"
	check "$cmd of bad input created no output" \
		"test ! -e '$T/never-$cmd' && test ! -e '$T/never-dir-$cmd/metadata'"
done
# One example of each message, in the log.
"$RBF" info "$T/junk" 2>&1 | sed 's/^/# /'
"$RBF" info "$T/trunc" 2>&1 | sed 's/^/# /'

echo "1..$n"
test $failed -eq 0
