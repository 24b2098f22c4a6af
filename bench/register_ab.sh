#!/bin/bash
# bench/register_ab.sh - REGISTER CPU and hand-offs per REGISTER, two
# sipedge binaries alternated (A, B, A, B ...), one sipload socket.
#
#   bench/register_ab.sh A_BIN B_BIN [ROUNDS] [RATE] [SECONDS] [WORKERS]
#
# Each round starts each binary afresh (workers WORKERS, default 2;
# memory store; the management API on a free loopback port), sends
# `sipload -s register` at RATE/s (default 5000) for SECONDS (default 4)
# from one socket, users 000001-100000 (a new AOR each), and prints
# sipedge's utime+stime over the run (/proc/PID/stat) per successful
# REGISTER, the hand-offs (stats.get shard.handoff_out) per REGISTER and
# the load average. Sends only to 127.0.0.1.
set -u
A=$1
B=$2
ROUNDS=${3:-3}
RATE=${4:-5000}
SECS=${5:-4}
WORKERS=${6:-2}
HERE=$(cd "$(dirname "$0")" && pwd)
SIPLOAD=${SIPLOAD:-$HERE/../build/sipload}
WORK=$(mktemp -d /tmp/register_ab.XXXXXX)
PIDS=""
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

HZ=$(getconf CLK_TCK)
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# stats.get value of key $2 from the API on port $1.
stat_get() {
	curl -s --max-time 5 -H 'Content-Type: application/json' \
		--data-binary "{\"jsonrpc\":\"2.0\",\"method\":\"stats.get\",\"params\":[\"$2\"],\"id\":1}" \
		"http://127.0.0.1:$1/rpc" |
		python3 -c "import sys, json; print(json.load(sys.stdin)['result'].get('$2', 0))"
}

for round in $(seq 1 "$ROUNDS"); do
	for v in a b; do
		if [ $v = a ]; then bin=$A; else bin=$B; fi
		port=$(free_port) || exit 1
		mport=$(free_port) || exit 1
		cat >"$WORK/s.yaml" <<YAML
workers: $WORKERS
log_level: warn
listen:
  - address: 127.0.0.1
    port: $port
domains: [localhost]
management:
  listen: [ "127.0.0.1:$mport" ]
YAML
		"$bin" -c "$WORK/s.yaml" >"$WORK/$v.log" 2>&1 &
		pid=$!
		PIDS="$PIDS $pid"
		for _ in $(seq 1 100); do
			curl -s --max-time 1 "http://127.0.0.1:$mport/metrics" \
				>/dev/null && break
			sleep 0.1
		done
		h0=$(stat_get "$mport" shard.handoff_out)
		t0=$(ticks "$pid")
		out=$("$SIPLOAD" -s register -t "127.0.0.1:$port" \
			--domain localhost -u 000001-100000 -r "$RATE" \
			-d "$SECS" --no-progress --json 2>/dev/null)
		t1=$(ticks "$pid")
		h1=$(stat_get "$mport" shard.handoff_out)
		load=$(cut -d' ' -f1-3 /proc/loadavg)
		echo "$out" | python3 -c "
import sys, json
r = json.load(sys.stdin)
ok, ticks = r['succeeded'], $t1 - $t0
print('round $round $v: ok %d failed %d, %d ticks, %.1f us/REGISTER, '
      '%.3f hand-offs/REGISTER, load $load'
      % (ok, r['failed'], ticks, ticks * 1e6 / $HZ / max(ok, 1),
         ($h1 - $h0) / max(ok, 1)))"
		kill "$pid"
		wait "$pid" 2>/dev/null
	done
done
