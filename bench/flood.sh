#!/bin/sh
# bench/flood.sh - the issue #15 flood at full length: 5,000 INVITE/s from
# one source (127.0.0.2) for 20 s over UDP and over TCP, while SIPp makes
# calls through sipedge from 127.0.0.1; prints what was dropped, answered,
# the transactions made and RSS before and after. `make test` runs the
# same tests for 4 s (tests/integration/test_edge.c, edge/flood_of_*).
#
# Usage: bench/flood.sh [BUILD_DIR]   (default: build; run `make` first)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
b=${1:-build}
case "$b" in /*) ;; *) b="$here/$b" ;; esac
[ -x "$b/test_integration" ] || {
	echo "bench/flood.sh: $b/test_integration: build it first" >&2
	exit 1
}
cd "$here"
SIPEDGE_BIN="$b/sipedge" SIPLOAD_BIN="$b/sipload" SIPCTL_BIN="$b/sipctl" \
	SIPEDGE_CORPUS="$here/tests/corpus" SIPEDGE_SRCDIR="$here" \
	SIPEDGE_FLOOD_S="${SIPEDGE_FLOOD_S:-20}" \
	"$b/test_integration" --verbose --filter 'edge/flood_of_*' 2>&1 |
	grep -E 'edge: |PASS|FAIL|Synthesis'
