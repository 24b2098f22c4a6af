#!/bin/bash
# bench/originate.sh - originate (3PCC) load: failures, sipedge CPU per
# originate and RSS per bridged call.
#
# Starts build/sipedge (its B2B pool with B2B_WORKERS workers) and one
# sipload UAS (bench/sipload, --role uas) that plays both legs: alice's
# offerless INVITE gets an offer in the 200 and the answer in the ACK is
# checked (sipload's 3pcc role); bob's INVITE with alice's offer gets an
# answer. bench/originate_rpc.py issues COUNT originates at RATE/s as
# JSON-RPC batches over one HTTP connection, waits until all are bridged
# (they stay bridged: the UAS never hangs up, so COUNT is also the number
# of bridged calls at once), reads CPU and RSS, then cancels them all.
#
#   bench/originate.sh [RATE [COUNT [B2B_WORKERS [WORKERS]]]]
#   defaults: 200/s, 10000 originates, 2 pool workers, 2 proxy workers
#
# Failures: RPC errors, originates not bridged, the UAS's own verdict
# (a bad or missing answer in an ACK, no ACK: exit status 1), and
# sipedge not stopping cleanly on SIGTERM (exit status, or a sanitizer
# report in its log: SIPEDGE_BIN=build-san/sipedge runs it under ASan).
# Bounded: every process started here is stopped by its PID; the UAS by
# --max-time. Ports: BASE_PORT (26060) for sipedge, +1 management, +30
# the UAS.
set -u
cd "$(dirname "$0")/.."

RATE=${1:-200}
COUNT=${2:-10000}
B2B=${3:-2}
WORKERS=${4:-2}
BASE=${BASE_PORT:-26060}
SE_PORT=$BASE
MG_PORT=$((BASE + 1))
UAS_PORT=$((BASE + 30))
BIN=${SIPEDGE_BIN:-build/sipedge}
SIPLOAD=${SIPLOAD_BIN:-build/sipload}
MAXT=$((COUNT / RATE + 180))

for b in "$BIN" "$SIPLOAD"; do
	[ -x "$b" ] || { echo "originate: $b missing (run make)" >&2; exit 1; }
done
command -v python3 >/dev/null || { echo "originate: python3 missing" >&2; exit 1; }
for p in $SE_PORT $MG_PORT $UAS_PORT; do
	if ss -Hlun "sport = :$p" | grep -q . ||
	   ss -Hltn "sport = :$p" | grep -q .; then
		echo "originate: port $p is in use (set BASE_PORT)" >&2
		exit 1
	fi
done

DIR=$(mktemp -d /tmp/originate-XXXXXX)
SE_PID= UAS_PID=
cleanup() {
	[ -n "$UAS_PID" ] && kill "$UAS_PID" 2>/dev/null
	[ -n "$SE_PID" ] && kill "$SE_PID" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT

cat > "$DIR/sipedge.yaml" <<YAML
workers: $WORKERS
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
locations:
  - aor: alice@127.0.0.1
    contacts: ["sip:alice@127.0.0.1:$UAS_PORT"]
  - aor: bob@127.0.0.1
    contacts: ["sip:bob@127.0.0.1:$UAS_PORT"]
YAML

"$BIN" -c "$DIR/sipedge.yaml" 2> "$DIR/sipedge.log" &
SE_PID=$!
"$SIPLOAD" --role uas -l 127.0.0.1:$UAS_PORT -n $((2 * COUNT)) \
	--max-time $MAXT --json > "$DIR/uas.json" 2> "$DIR/uas.err" &
UAS_PID=$!
# Until both answer (bounded: 50 x 0.1 s).
for _ in $(seq 50); do
	ss -Hltn "sport = :$MG_PORT" | grep -q . &&
		ss -Hlun "sport = :$UAS_PORT" | grep -q . && break
	sleep 0.1
done

python3 bench/originate_rpc.py $MG_PORT $SE_PID "$RATE" "$COUNT" \
	$((COUNT / RATE + 60)) > "$DIR/driver.json"
rc=$?
# The UAS stops after 2 * COUNT BYEs (bounded by --max-time).
for _ in $(seq 300); do
	kill -0 "$UAS_PID" 2>/dev/null || break
	sleep 0.1
done
kill "$UAS_PID" 2>/dev/null
wait "$UAS_PID"
urc=$?
UAS_PID=
# sipedge stops cleanly (SIGTERM, bounded: 300 x 0.1 s): exit 0, and no
# sanitizer report when $BIN is a SAN=1 build (leaks show at exit).
kill -TERM "$SE_PID" 2>/dev/null
for _ in $(seq 300); do
	kill -0 "$SE_PID" 2>/dev/null || break
	sleep 0.1
done
kill -KILL "$SE_PID" 2>/dev/null
wait "$SE_PID"
serc=$?
SE_PID=
if grep -q "Sanitizer\|runtime error" "$DIR/sipedge.log"; then
	echo "originate: a sanitizer report:" >&2
	grep -m 20 -A 12 "Sanitizer\|runtime error" "$DIR/sipedge.log" >&2
	serc=1
fi
echo "originate: $RATE/s, $COUNT originates, b2b.workers $B2B, workers $WORKERS, $(nproc) cores, sipedge exit $serc"
cat "$DIR/driver.json"
python3 - "$DIR/uas.json" <<'PY'
import json, sys
try:
    u = json.load(open(sys.argv[1]))
except Exception as e:
    print("uas: no report (%s)" % e); sys.exit(0)
p = u.get("uas", {}).get("3pcc", {})
print("uas 3pcc: offerless %s, answers ok %s, missing %s, invalid %s, "
      "ack timeouts %s" % (p.get("offerless"), p.get("answers_ok"),
      p.get("answers_missing"), p.get("answers_invalid"),
      p.get("ack_timeouts")))
PY
[ $rc -eq 0 ] && [ $urc -eq 0 ] && [ $serc -eq 0 ] &&
	echo "originate: 0 failures" && exit 0
echo "originate: FAILURES (driver $rc, uas $urc, sipedge $serc); sipedge log tail:" >&2
tail -5 "$DIR/sipedge.log" >&2
exit 1
