#!/bin/bash
# bench/txnmem.sh - sipedge memory per held transaction and per live call.
#
#   bench/txnmem.sh [RATE [SECONDS [HOLD_MS [WORKERS]]]]
#   defaults: 500 calls/s, 20 s, 1000 ms hold, 1 worker
#
# Starts build/sipedge (SIPEDGE_BIN) on a free loopback port, registers
# 100 callees whose contact is a sipload UAS, then runs sipload
# (SIPLOAD_BIN) `-s call --role both` at RATE calls/s for SECONDS with
# HOLD_MS between ACK and BYE. Every 0.5 s it samples sipedge's VmRSS
# (/proc/PID/status) and, from /metrics, the transactions held
# (sipedge_shard_transactions, live and completed, all shards) and the
# live dialogs (sipedge_dialog_live). It prints the idle RSS (after the
# registrations), the sample with the most transactions and the one with
# the most dialogs, and:
#   bytes per held transaction = (RSS at the most transactions - idle)
#                                / transactions then
#   bytes per live call        = (RSS at the most dialogs - idle)
#                                / dialogs then
# The second includes the transactions a live call holds (its INVITE's
# stay 64*T1 = 32 s in Accepted); with a short hold the first is mostly
# completed transactions (Timers J, K, L, M, D, H), since each call
# leaves 4 of them (INVITE and BYE, server and client) for 32 s.
#
# RSS never goes down much (the allocator keeps freed pages), so the
# peaks are what matters. Bounded: sipload runs at most SECONDS + HOLD +
# 60 s, every process is stopped by its PID. Loopback only.
set -u
cd "$(dirname "$0")/.."

RATE=${1:-500}
SECS=${2:-20}
HOLD_MS=${3:-1000}
WORKERS=${4:-1}
SIPEDGE=${SIPEDGE_BIN:-build/sipedge}
SIPLOAD=${SIPLOAD_BIN:-build/sipload}

for b in "$SIPEDGE" "$SIPLOAD"; do
	[ -x "$b" ] || { echo "txnmem: $b missing (run make)" >&2; exit 1; }
done
command -v curl >/dev/null || { echo "txnmem: curl missing" >&2; exit 1; }

WORK=$(mktemp -d /tmp/sipedge-txnmem.XXXXXX)
PIDS=""
. bench/lib.sh # (the script runs from the checkout root)


PROXY_PORT=$(free_port) && MGMT_PORT=$(free_port) && UAS_PORT=$(free_port) ||
	{ echo "txnmem: no free port" >&2; exit 1; }
cat >"$WORK/sipedge.yaml" <<YAML
workers: $WORKERS
log_level: warn
listen:
  - address: 127.0.0.1
    port: $PROXY_PORT
domains: [localhost]
management:
  listen: ["127.0.0.1:$MGMT_PORT"]
YAML
"$SIPEDGE" -c "$WORK/sipedge.yaml" >"$WORK/sipedge.log" 2>&1 &
SE_PID=$!
PIDS="$SE_PID"
# Until it answers OPTIONS (bounded: 50 x 0.2 s).
for _ in $(seq 1 50); do
	kill -0 "$SE_PID" 2>/dev/null ||
		{ echo "txnmem: sipedge died" >&2; cat "$WORK/sipedge.log" >&2; exit 1; }
	"$SIPLOAD" -s options -t "127.0.0.1:$PROXY_PORT" -n 1 --t1 50 \
		--no-progress >/dev/null 2>&1 && break
	sleep 0.2
done
"$SIPLOAD" -s register -t "127.0.0.1:$PROXY_PORT" --domain localhost \
	-u 2000-2099 --contact "127.0.0.1:$UAS_PORT" --expires 3600 \
	-n 100 -r 1000 --no-progress >/dev/null 2>&1 ||
	{ echo "txnmem: registrations failed" >&2; exit 1; }

rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$SE_PID/status"; }
metric() {
	awk -v m="$1" '$1 == m || index($1, m "{") == 1 { s += $2 } END { print s + 0 }' \
		"$WORK/metrics"
}
sample() {
	curl -s -m 2 "http://127.0.0.1:$MGMT_PORT/metrics" >"$WORK/metrics" ||
		return 1
	echo "$(rss_kb) $(metric sipedge_shard_transactions) $(metric sipedge_dialog_live)"
}

sleep 1
read -r RSS0 TX0 DLG0 < <(sample)
HOLD_S=$(((HOLD_MS + 999) / 1000))
LIMIT=$((SECS + HOLD_S + 60))
"$SIPLOAD" -s call --role both -l "127.0.0.1:$UAS_PORT" \
	-t "127.0.0.1:$PROXY_PORT" --domain localhost --callee 2000-2099 \
	-r "$RATE" -d "$SECS" --hold "$HOLD_MS" \
	-c $((RATE * (HOLD_S + 2) + 1000)) --max-time "$LIMIT" \
	--json --no-progress >"$WORK/load.json" 2>"$WORK/load.err" &
GEN_PID=$!
PIDS="$PIDS $GEN_PID"
# Sample while the load runs and 2 s after (bounded by LIMIT + 5 s).
: >"$WORK/samples"
end=$((SECONDS + LIMIT + 5))
after=0
while [ $SECONDS -lt $end ] && [ $after -lt 4 ]; do
	kill -0 "$GEN_PID" 2>/dev/null || after=$((after + 1))
	sample >>"$WORK/samples"
	sleep 0.5
done
wait "$GEN_PID"
rc=$?
ok=$(sed -n 's/.*"succeeded":\([0-9]*\).*/\1/p' "$WORK/load.json" | head -1)
failed=$(sed -n 's/.*"failed":\([0-9]*\).*/\1/p' "$WORK/load.json" | head -1)

echo "txnmem: $(date -u '+%F %T') UTC, $WORKERS worker(s), $RATE calls/s for $SECS s, hold $HOLD_MS ms: ${ok:-?} calls ok, ${failed:-?} failed (sipload exit $rc)"
awk -v r0="$RSS0" -v t0="$TX0" -v d0="$DLG0" '
	$2 > tmax { tmax = $2; trss = $1; tdlg = $3 }
	$3 > dmax { dmax = $3; drss = $1; dtx = $2 }
	$1 > rmax { rmax = $1 }
	END {
		printf "txnmem: idle RSS %d kB (%d transactions, %d dialogs); peak RSS %d kB\n", r0, t0, d0, rmax
		if (tmax > 0)
			printf "txnmem: most transactions %d (dialogs %d) at RSS %d kB: %.0f bytes per held transaction\n", tmax, tdlg, trss, (trss - r0) * 1024 / tmax
		if (dmax > 0)
			printf "txnmem: most dialogs %d (transactions %d) at RSS %d kB: %.0f bytes per live call\n", dmax, dtx, drss, (drss - r0) * 1024 / dmax
	}' "$WORK/samples"
exit $rc
