#!/bin/bash
# bench/steering.sh - sipedge's CPU per proxied call with udp.steering bpf
# against off (issue #14), driven by sipload from ONE caller socket (the
# load a trunk or an SBC gives), rounds alternating the two modes.
#
#   bench/steering.sh BUILD_DIR_ABS            (make bench-steering)
#
# Knobs (environment, defaults in brackets):
#   RATES ["1000 2000 4000"]  offered calls/s
#   WORKERS_LIST ["1 2"]      sipedge workers
#   SECONDS_PER [3]           seconds of calls per point
#   ROUNDS [2]                rounds; odd ones run the variants in order,
#                             even ones in reverse
#   HOLD_MS [1000]            ACK to BYE
#   VARIANTS ["bpf off"]      what is compared: each is a udp.steering
#                             mode, or MODE:NAME=PATH to run the sipedge
#                             binary at PATH (an A/B of two builds:
#                             "bpf:a=/tmp/a/sipedge bpf:b=$PWD/build/sipedge")
#
# CPU is utime + stime of sipedge from /proc/PID/stat over the run,
# divided by the successful calls; the hand-offs are shard.handoff_out
# from the management API (stats.get) over the same run. Every loop is
# bounded, every process stopped by its PID, loopback only. Prints a
# markdown table on stdout. Context switches are the voluntary and
# involuntary ones of all of sipedge's threads (/proc/PID/task/*/status)
# over the run, per call.
set -u

BUILD=${1:?usage: bench/steering.sh BUILD_DIR_ABS}
SIPLOAD=$BUILD/sipload
SIPEDGE=$BUILD/sipedge
RATES=${RATES:-"1000 2000 4000"}
WORKERS_LIST=${WORKERS_LIST:-"1 2"}
SECONDS_PER=${SECONDS_PER:-3}
ROUNDS=${ROUNDS:-2}
HOLD_MS=${HOLD_MS:-1000}
VARIANTS=${VARIANTS:-"bpf off"}
HOLD_S=$(((HOLD_MS + 999) / 1000))
HZ=$(getconf CLK_TCK)
WORK=$(mktemp -d /tmp/sipedge-steering.XXXXXX)
PIDS=""

log() {
	echo "steering: $*" >&2
}

. "$(dirname "$0")/lib.sh"

# Wait at most $2 seconds for process $1, then kill it.
wait_pid() {
	local pid=$1 limit=$(($2 * 10)) i=0 p out=""

	while kill -0 "$pid" 2>/dev/null && [ $i -lt $limit ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	for p in $PIDS; do
		[ "$p" = "$pid" ] || out="$out $p"
	done
	PIDS=$out
}


ticks() {
	sed 's/^[0-9]* (.*) //' "/proc/$1/stat" 2>/dev/null |
		awk '{ printf "%d\n", $12 + $13 }'
}

# Sample PID's ticks into FILE every 50 ms until it is gone.
cpu_watch() {
	local v

	echo 0 >"$2"
	while [ -r "/proc/$1/stat" ]; do
		v=$(ticks "$1")
		[ -n "$v" ] && echo "$v" >"$2"
		sleep 0.05
	done
}

# Context switches of every thread of PID $1, voluntary and involuntary.
ctxsw() {
	cat /proc/"$1"/task/*/status 2>/dev/null |
		awk '/^(non)?voluntary_ctxt_switches/ { n += $2 } END { print n + 0 }'
}

us_per() {
	awk -v t="$1" -v n="$2" -v hz="$HZ" \
		'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / hz / n; else print "-" }'
}

json_num() {
	sed -n "s/.*\"$1\":\([-0-9.e]*\).*/\1/p" "$2" | head -1
}

handoffs() {
	curl -s -m 5 -d '{"jsonrpc":"2.0","method":"stats.get","id":1}' \
		"http://127.0.0.1:$MGMT_PORT/rpc" |
		sed -n 's/.*"shard.handoff_out":\([0-9]*\).*/\1/p'
}

# sipedge with $1 workers and udp.steering $2 (binary $3, default
# $SIPEDGE); callees 2000-2099 at a sipload UAS port of their own.
start_sipedge() {
	local i bin=${3:-$SIPEDGE}

	PROXY_PORT=$(free_port) || return 1
	MGMT_PORT=$(free_port) || return 1
	UAS_PORT=$(free_port) || return 1
	cat >"$WORK/sipedge.yaml" <<YAML
workers: $1
log_level: warn
listen:
  - address: 127.0.0.1
    port: $PROXY_PORT
domains: [localhost]
udp:
  steering: $2
management:
  listen: ["127.0.0.1:$MGMT_PORT"]
YAML
	"$bin" -c "$WORK/sipedge.yaml" >"$WORK/sipedge.log" 2>&1 &
	PROXY_PID=$!
	PIDS="$PIDS $PROXY_PID"
	for i in $(seq 1 50); do
		kill -0 "$PROXY_PID" 2>/dev/null || return 1
		"$SIPLOAD" -s options -t "127.0.0.1:$PROXY_PORT" -n 1 \
			--t1 50 --no-progress >/dev/null 2>&1 && break
		sleep 0.2
	done
	"$SIPLOAD" -s register -t "127.0.0.1:$PROXY_PORT" --domain localhost \
		-u 2000-2099 --contact "127.0.0.1:$UAS_PORT" --expires 3600 \
		-n 100 -r 1000 --no-progress --json >"$WORK/reg.json" 2>&1
}

# One point at rate $1: sets OK FAIL TICKS GTICKS HOFF CSW P99 (µs). GTICKS
# is sipload's CPU: on loopback the receive path, the steering program
# included, runs in the softirq of the sender, so the program's cost is
# charged to sipload, not to sipedge.
run_point() {
	local rate=$1 n=$(($1 * SECONDS_PER)) t0 h0 c0 watch
	local conc=$(($1 * (HOLD_S + 2) + 1000))

	t0=$(ticks "$PROXY_PID")
	h0=$(handoffs)
	c0=$(ctxsw "$PROXY_PID")
	"$SIPLOAD" -s call --role both -l "127.0.0.1:$UAS_PORT" \
		-t "127.0.0.1:$PROXY_PORT" --domain localhost \
		--callee 2000-2099 -r "$rate" -n "$n" --hold "$HOLD_MS" \
		-c "$conc" --json --no-progress >"$WORK/p.json" 2>"$WORK/p.err" &
	GEN_PID=$!
	PIDS="$PIDS $GEN_PID"
	cpu_watch "$GEN_PID" "$WORK/gen.ticks" &
	watch=$!
	wait_pid "$GEN_PID" $((SECONDS_PER + HOLD_S + 60))
	wait "$watch"
	GTICKS=$(cat "$WORK/gen.ticks")
	TICKS=$(($(ticks "$PROXY_PID") - t0))
	CSW=$(($(ctxsw "$PROXY_PID") - c0))
	HOFF=$(($(handoffs) - h0))
	OK=$(json_num succeeded "$WORK/p.json")
	[ -n "$OK" ] || log "sipload gave no result: $(tail -c 300 "$WORK/p.err" "$WORK/p.json" | tr '\n' ' ')"
	FAIL=$(json_num failed "$WORK/p.json")
	P99=$(sed -n 's/.*"final":{[^}]*"p99":\([0-9]*\).*/\1/p' "$WORK/p.json")
}

per_call() {
	awk -v h="$1" -v n="$2" 'BEGIN { if (n > 0) printf "%.2f", h / n; else print "-" }'
}

echo "| workers | offered calls/s | round | steering | ok / failed | sipedge µs per call | sipload µs per call | hand-offs per call | context switches per call | p99 INVITE→final ms |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for w in $WORKERS_LIST; do
	for round in $(seq 1 "$ROUNDS"); do
		if [ $((round % 2)) = 1 ]; then
			order=$VARIANTS
		else
			order=$(echo "$VARIANTS" | tr ' ' '\n' | tac | tr '\n' ' ')
		fi
		for variant in $order; do
			steer=${variant%%:*}
			mode=$steer
			bin=
			case $variant in
			*:*=*)
				bin=${variant#*=}
				name=${variant#*:}
				mode="$steer ${name%%=*}"
				;;
			esac
			if ! start_sipedge "$w" "$steer" "$bin"; then
				log "sipedge did not start: $(tail -3 "$WORK/sipedge.log")"
				exit 1
			fi
			for rate in $RATES; do
				run_point "$rate"
				log "w=$w round=$round $mode $rate/s: ok=$OK failed=$FAIL ticks=$TICKS handoffs=$HOFF ctxsw=$CSW"
				echo "| $w | $rate | $round | $mode | ${OK:-0} / ${FAIL:-?} | $(us_per "$TICKS" "${OK:-0}") | $(us_per "$GTICKS" "${OK:-0}") | $(per_call "$HOFF" "${OK:-0}") | $(per_call "$CSW" "${OK:-0}") | $(awk -v p="${P99:-0}" 'BEGIN { printf "%.2f", p / 1000 }') |"
			done
			kill "$PROXY_PID" 2>/dev/null
			wait_pid "$PROXY_PID" 10
			sleep 0.5
		done
	done
done
