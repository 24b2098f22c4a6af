#!/bin/sh
# tests/run.sh - run a Criterion test binary and fail the run when it ran
# no test or fewer than its floor, or when a test crashed in its .fini.
#
# Usage: run.sh KIND BINARY [ARGS...]    KIND is a key of tests/floor
#        run.sh tally FILE [ARGS...]     check the sum of a tally file
#
# Without --filter in ARGS the floor is the number tests/floor gives KIND;
# with a filter (or CRITERION_TEST_PATTERN) it is 1. When $TESTS_TALLY
# names a file, each run appends "KIND N" to it and a filtered run may run
# nothing: `run.sh tally FILE ARGS` then wants at least one test in all
# (so `make test TEST_ARGS="--filter 'sipcorpus/*'"` need not match
# integration tests too).
#
# Criterion 2.4.1 counts a failed assertion in a .fini as a pass; the
# teardown checks (tests/common/teardown.h) abort instead, which the
# runner reports as "crashed during its setup or teardown" but still
# counts as passing in its synthesis line: this script fails on that line,
# and on any sanitizer report printed by a test process.
set -u
here=$(dirname "$0")

filtered() {
	[ -n "${CRITERION_TEST_PATTERN:-}" ] && return 0
	for a in "$@"; do
		case "$a" in
		--filter | --filter=*) return 0 ;;
		esac
	done
	return 1
}

die() {
	echo "tests/run.sh: $*" >&2
	exit 1
}

[ $# -ge 2 ] || die "usage: run.sh KIND BINARY [ARGS...] | run.sh tally FILE [ARGS...]"
kind=$1
shift

if [ "$kind" = tally ]; then
	file=$1
	shift
	total=$(awk '{ n += $2 } END { print n + 0 }' "$file" 2>/dev/null)
	[ -n "$total" ] || total=0
	echo "tests/run.sh: $total tests in all"
	if filtered "$@" && [ "$total" -lt 1 ]; then
		die "the filter matched no test"
	fi
	exit 0
fi

bin=$1
shift
for a in "$@"; do
	case "$a" in
	--list | -l | --help | -h | --version) exec "$bin" "$@" ;;
	esac
done

floor=$(awk -v k="$kind" '$1 == k { print $2 }' "$here/floor")
[ -n "$floor" ] || die "no floor for '$kind' in $here/floor"
if filtered "$@"; then
	floor=1
	[ -n "${TESTS_TALLY:-}" ] && floor=0
fi

log=$(mktemp "${TMPDIR:-/tmp}/sipedge-run.XXXXXX") || die "mktemp failed"
rcf=$log.rc
trap 'rm -f "$log" "$rcf"' EXIT
{
	"$bin" "$@" 2>&1
	echo $? >"$rcf"
} | tee "$log"
rc=$(cat "$rcf" 2>/dev/null || echo 127)

line=$(grep 'Synthesis: Tested:' "$log" | tail -n 1)
[ -n "$line" ] || die "$kind: no Criterion synthesis line (exit $rc)"
tested=$(echo "$line" | sed 's/.*Tested: \([0-9]*\).*/\1/')
failing=$(echo "$line" | sed 's/.*Failing: \([0-9]*\).*/\1/')
crashing=$(echo "$line" | sed 's/.*Crashing: \([0-9]*\).*/\1/')
torn=$(grep -c 'during its setup or teardown' "$log")
# A sanitizer report from a test's own process (LeakSanitizer runs when
# the test's worker exits, after Criterion counted the test as passed).
san=$(grep -c 'ERROR: LeakSanitizer\|ERROR: AddressSanitizer\|runtime error:' "$log")
[ -n "${TESTS_TALLY:-}" ] && echo "$kind $tested" >>"$TESTS_TALLY"

bad=0
if [ "$torn" -gt 0 ]; then
	echo "tests/run.sh: $kind: $torn test(s) failed in setup or teardown:" >&2
	grep 'during its setup or teardown\|^\[FAIL\] teardown' "$log" >&2
	bad=1
fi
if [ "$san" -gt 0 ]; then
	echo "tests/run.sh: $kind: $san sanitizer report(s) in the tests' output" >&2
	bad=1
fi
if [ "$failing" -gt 0 ] || [ "$crashing" -gt 0 ]; then
	echo "tests/run.sh: $kind: $failing failing, $crashing crashing" >&2
	bad=1
fi
if [ "$tested" -lt "$floor" ]; then
	echo "tests/run.sh: $kind: ran $tested tests, fewer than the floor" \
		"$floor (tests/floor; 1 with --filter)" >&2
	bad=1
fi
if [ "$rc" -ne 0 ]; then
	echo "tests/run.sh: $kind: $bin exited with $rc" >&2
	bad=1
fi
[ "$bad" -eq 0 ] || exit 1
echo "tests/run.sh: $kind: $tested tests ran (floor $floor), none failed"
