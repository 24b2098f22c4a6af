#!/bin/bash
# bench/proxycall.sh - sipedge CPU per proxied, record-routed call.
#
# Starts build/sipedge, a SIPp callee (tests/integration/sipp/uas_call.xml)
# and a SIPp caller (uac_call.xml: INVITE/100/180/200/ACK/BYE/200) on
# loopback, and divides sipedge's CPU time (utime + stime of all its
# threads, /proc/PID/stat) during the caller's run by the number of calls.
#
#   bench/proxycall.sh [RATE [CALLS [WORKERS [TRANSPORT]]]]
#   defaults: 500 calls/s, 10000 calls, 2 workers, u1 (UDP; t1 for TCP)
#
# Bounded: every process is stopped by its PID when the run ends, and the
# caller is given at most CALLS/RATE + 60 s. Ports: BASE_PORT (25060) for
# sipedge, +10 for the caller, +30 for the callee; they must be free.
set -u
cd "$(dirname "$0")/.."

RATE=${1:-500}
CALLS=${2:-10000}
WORKERS=${3:-2}
TP=${4:-u1}
BASE=${BASE_PORT:-25060}
SE_PORT=$BASE
UAC_PORT=$((BASE + 10))
UAS_PORT=$((BASE + 30))
BIN=${SIPEDGE_BIN:-build/sipedge}
SIPP_DIR=tests/integration/sipp
HZ=$(getconf CLK_TCK)

[ -x "$BIN" ] || { echo "proxycall: $BIN missing (run make)" >&2; exit 1; }
command -v sipp >/dev/null || { echo "proxycall: sipp missing" >&2; exit 1; }
for p in $SE_PORT $UAC_PORT $UAS_PORT; do
	if ss -Hlun "sport = :$p" | grep -q . ||
	   ss -Hltn "sport = :$p" | grep -q .; then
		echo "proxycall: port $p is in use (set BASE_PORT)" >&2
		exit 1
	fi
done

DIR=$(mktemp -d /tmp/proxycall-XXXXXX)
SE_PID= UAS_PID=
cleanup() {
	[ -n "$UAS_PID" ] && kill "$UAS_PID" 2>/dev/null
	[ -n "$SE_PID" ] && kill "$SE_PID" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT

ctp=""
[ "$TP" = t1 ] && ctp=";transport=tcp"
cat > "$DIR/sipedge.yaml" <<YAML
workers: $WORKERS
log_level: warn
listen:
  - address: 127.0.0.1
    port: $SE_PORT
domains: [localhost, 127.0.0.1]
# no management API: nothing here needs it, and 5080 may be taken
management:
  listen: []
locations:
  - aor: alice@localhost
    contacts: ["sip:alice@127.0.0.1:$UAS_PORT$ctp"]
YAML

"$BIN" -c "$DIR/sipedge.yaml" 2> "$DIR/sipedge.log" &
SE_PID=$!
# Until it answers (bounded: 50 x 0.1 s).
for _ in $(seq 50); do
	ss -Hlun "sport = :$SE_PORT" | grep -q . && break
	sleep 0.1
done

(cd "$DIR" && exec sipp -sf "$OLDPWD/$SIPP_DIR/uas_call.xml" -i 127.0.0.1 \
	-p $UAS_PORT -t "$TP" -m "$CALLS" -nostdin > uas.out 2>&1) &
UAS_PID=$!
sleep 0.5

cpu() { awk '{ print $14 + $15 }' "/proc/$SE_PID/stat"; }
c0=$(cpu)
t0=$(date +%s.%N)
(cd "$DIR" && timeout $((CALLS / RATE + 60)) sipp 127.0.0.1:$SE_PORT \
	-sf "$OLDPWD/$SIPP_DIR/uac_call.xml" -s alice -key domain localhost \
	-i 127.0.0.1 -p $UAC_PORT -t "$TP" -m "$CALLS" -r "$RATE" -l 20000 \
	-nostdin -timeout $((CALLS / RATE + 50))s -timeout_error \
	-trace_stat -stf stat.csv > uac.out 2>&1)
rc=$?
t1=$(date +%s.%N)
c1=$(cpu)

ok=$(grep -E "^ +Successful call" "$DIR/uac.out" | awk -F'|' '{ print $3 }' |
	tr -d ' ' | tail -1)
failed=$(grep -E "^ +Failed call" "$DIR/uac.out" | awk -F'|' '{ print $3 }' |
	tr -d ' ' | tail -1)
awk -v c0="$c0" -v c1="$c1" -v hz="$HZ" -v n="${ok:-0}" -v f="${failed:-?}" \
	-v t0="$t0" -v t1="$t1" -v r="$RATE" -v w="$WORKERS" -v tp="$TP" \
	-v rc="$rc" 'BEGIN {
	cpu = (c1 - c0) / hz
	printf "proxycall: %s calls ok, %s failed (sipp exit %d), " \
	       "%.0f calls/s offered, %s, %d workers\n", n, f, rc, r,
	       tp == "t1" ? "TCP" : "UDP", w
	printf "proxycall: sipedge CPU %.2f s over %.1f s wall = %.1f us " \
	       "per call\n", cpu, t1 - t0, (n > 0 ? cpu * 1e6 / n : 0)
}'
exit $rc
