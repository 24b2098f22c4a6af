#!/bin/bash
# bench/park.sh - COUNT calls parked at once on one node, each hearing
# music: the sipedge process's CPU and memory per parked call and the
# pool's media lateness (issue #13: "1,000 parked calls on one node").
#
# Starts build/sipedge (2 proxy workers, B2B_WORKERS pool workers, a lot
# of 1,000 slots on 127.0.0.1) and a sipload UAC that dials 700 COUNT
# times at RATE/s and holds each call HOLD_S seconds: every call is
# parked and hears "parked at" + its slot, then music, sent by the
# pool's media engine to sipload's SDP address (sipload does not read
# RTP: the packets are sent all the same, which is what costs). Once
# COUNT slots are taken (sipedge_park_occupied), it samples the process's
# CPU (/proc/PID/stat) and RSS and the pool's media counters for
# WINDOW_S seconds (signalling is idle then: the CPU is the music),
# then lets the calls end (sipload's BYEs) and stops sipedge.
#
#   bench/park.sh [COUNT [RATE [HOLD_S [B2B_WORKERS]]]]
#   defaults: 1000 calls, 100/s, held 45 s, 2 pool workers; WINDOW_S=20
#
# Bounded: sipload by --max-time, every wait by a count; processes
# stopped by PID. Ports: BASE_PORT (27060) sipedge, +1 management.
set -u
cd "$(dirname "$0")/.."

COUNT=${1:-1000}
RATE=${2:-100}
HOLD=${3:-45}
B2B=${4:-2}
WINDOW=${WINDOW_S:-20}
BASE=${BASE_PORT:-27060}
SE_PORT=$BASE
MG_PORT=$((BASE + 1))
BIN=${SIPEDGE_BIN:-build/sipedge}
SIPLOAD=${SIPLOAD_BIN:-build/sipload}
RAMP=$((COUNT / RATE + 1))

[ "$COUNT" -le 1000 ] || { echo "park: at most 1000 (one lot)" >&2; exit 1; }
[ $((RAMP + WINDOW + 5)) -lt "$HOLD" ] ||
	{ echo "park: HOLD_S must exceed COUNT/RATE + WINDOW_S + 5" >&2; exit 1; }
for b in "$BIN" "$SIPLOAD"; do
	[ -x "$b" ] || { echo "park: $b missing (run make)" >&2; exit 1; }
done
for p in $SE_PORT $MG_PORT; do
	if ss -Hlun "sport = :$p" | grep -q . ||
	   ss -Hltn "sport = :$p" | grep -q .; then
		echo "park: port $p is in use (set BASE_PORT)" >&2
		exit 1
	fi
done

DIR=$(mktemp -d /tmp/parkbench-XXXXXX)
SE_PID= UAC_PID=
cleanup() {
	[ -n "$UAC_PID" ] && kill "$UAC_PID" 2>/dev/null
	[ -n "$SE_PID" ] && kill "$SE_PID" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT

cat > "$DIR/sipedge.yaml" <<YAML
workers: 2
log_level: warn
listen:
  - address: 127.0.0.1
    port: $SE_PORT
    transports: [udp]
domains: [127.0.0.1]
management:
  listen: ["127.0.0.1:$MG_PORT"]
b2b:
  workers: $B2B
park:
  - domain: 127.0.0.1
    code: "700"
    slots: 1000-1999
    timeout_s: 3600
YAML

metric() { # name: the sum over its labels in /metrics
	curl -s --max-time 2 "http://127.0.0.1:$MG_PORT/metrics" |
		awk -v m="$1" '$1 == m || index($1, m "{") == 1 { v += $2 } END { print v + 0 }'
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$SE_PID/stat"; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$SE_PID/status"; }

"$BIN" -c "$DIR/sipedge.yaml" 2> "$DIR/sipedge.log" &
SE_PID=$!
for _ in $(seq 100); do
	ss -Hltn "sport = :$MG_PORT" | grep -q . && break
	sleep 0.1
done
rss0=$(rss_kb)
"$SIPLOAD" -t 127.0.0.1:$SE_PORT --scenario call --callee 700 \
	--domain 127.0.0.1 -u 0001-1000 -n "$COUNT" -r "$RATE" \
	--hold $((HOLD * 1000)) -c "$COUNT" --max-time $((HOLD + RAMP + 60)) \
	--no-progress --json > "$DIR/uac.json" 2> "$DIR/uac.err" &
UAC_PID=$!
# Until every call is parked (bounded: RAMP + 30 s).
parked=0
for _ in $(seq $(((RAMP + 30) * 10))); do
	parked=$(metric sipedge_park_occupied)
	[ "$parked" -ge "$COUNT" ] && break
	sleep 0.1
done
[ "$parked" -ge "$COUNT" ] || { echo "park: only $parked of $COUNT parked" >&2; exit 1; }
hz=$(getconf CLK_TCK)
rss1=$(rss_kb)
c1=$(cpu_ticks)
tx1=$(metric sipedge_b2b_media_tx_total)
l5a=$(metric sipedge_b2b_media_late_5ms_total)
l20a=$(metric sipedge_b2b_media_late_20ms_total)
t1=$(date +%s%N)
sleep "$WINDOW"
c2=$(cpu_ticks)
t2=$(date +%s%N)
tx2=$(metric sipedge_b2b_media_tx_total)
l5b=$(metric sipedge_b2b_media_late_5ms_total)
l20b=$(metric sipedge_b2b_media_late_20ms_total)
still=$(metric sipedge_park_occupied)
wait "$UAC_PID"
urc=$?
UAC_PID=
kill -TERM "$SE_PID"
for _ in $(seq 300); do
	kill -0 "$SE_PID" 2>/dev/null || break
	sleep 0.1
done
wait "$SE_PID"
serc=$?
SE_PID=
awk -v n="$COUNT" -v c="$((c2 - c1))" -v hz="$hz" -v ns="$((t2 - t1))" \
    -v r0="$rss0" -v r1="$rss1" -v tx="$((tx2 - tx1))" \
    -v l5="$((l5b - l5a))" -v l20="$((l20b - l20a))" -v still="$still" \
    -v b2b="$B2B" -v cores="$(nproc)" 'BEGIN {
	s = ns / 1e9; cpu = c / hz;
	printf "park: %d calls parked at once (%d still at the end of the window), b2b.workers %d, %d cores\n", n, still, b2b, cores;
	printf "park: sipedge CPU %.1f %% of one core over %.1f s = %.1f us per parked call per second\n", 100 * cpu / s, s, 1e6 * cpu / s / n;
	printf "park: RSS %.1f MB before, %.1f MB parked: %.1f KB per parked call\n", r0 / 1024, r1 / 1024, (r1 - r0) / n;
	printf "park: RTP sent %d (%.0f/s, %.1f per call per second; 50 expected), %d sent >= 5 ms late, %d >= 20 ms late (%.4f %%)\n", tx, tx / s, tx / s / n, l5, l20, tx ? 100 * l20 / tx : 0;
}'
python3 - "$DIR/uac.json" <<'PY'
import json, sys
try:
    u = json.load(open(sys.argv[1]))
except Exception as e:
    print("park: sipload: no report (%s)" % e); sys.exit(0)
c = u.get("uac", u)
print("park: sipload: started %s, succeeded %s, failed %s" % (
    c.get("started"), c.get("succeeded", c.get("ok")), c.get("failed")))
PY
[ "$urc" -eq 0 ] && [ "$serc" -eq 0 ] && echo "park: 0 failures" && exit 0
echo "park: FAILURES (sipload $urc, sipedge $serc); sipedge log tail:" >&2
tail -5 "$DIR/sipedge.log" >&2
exit 1
