#!/bin/bash
# bench/lb.sh - registrations and calls per second at 0 failures, and
# CPU per call per node, with 1, 2 and 3 sipedge nodes behind the Linux
# kernel's balancer (issue #17, "Numbers"; docs/benchmarks.md, "Nodes
# behind a balancer"). Run as root from the repository root:
#
#   SIPEDGE_BIN=build/sipedge SIPLOAD_BIN=build/sipload bench/lb.sh
#   make bench-lb                      # the same, builds first
#
# Layout: ONE network namespace this script creates and removes, all on
# its own loopback (sipload sends only to 127.0.0.0/8 and answers only
# loopback sources, so the two-namespace layout of
# tests/integration/lb/lb.sh, where the client reaches the VIP over a
# veth, is not open to it; this is a copy of that setup's parts, not a
# shared library):
#
#   sipload UAC (client)   127.0.0.1, THREADS sockets (source ports)
#   VIP                    127.0.0.100:5060, nftables DNAT in the nat
#                          OUTPUT hook (locally generated packets) to a
#                          node; conntrack pins each flow (socket) to
#                          the node its first packet went to
#   nodes 1..N             127.0.1.11..13:5060 (UDP), management on
#                          their own address :5080, workers: 1 each,
#                          Record-Route their own address (ACK and BYE
#                          go to the node straight, as in lb.sh)
#   callee                 a sipload UAS on 127.0.0.2:5090, the contact
#                          of users 2000-2099 (registered through the VIP)
#   Redis                  master :6390, replica :6391, three Sentinels
#                          :26390-26392 on 127.0.0.1 (lb.sh's default
#                          store); flushed before each N
#
# BENCH_LB_HASH picks how the balancer chooses a node for a new flow:
# numgen (default: round robin over flows, so THREADS sockets go THREADS/N
# to each node and every node gets the same share) or jhash (lb.sh's
# hash of source address and port: with a handful of sockets the share
# is left to chance). Either way a flow stays on its node.
#
# For each N (BENCH_LB_NODES, "1 2 3"), BENCH_LB_REPEAT (2) times,
# alternating N, with fresh nodes and an empty Redis: (a) the highest
# call rate with 0 failures to the callee users (INVITE/100/180/200/ACK/
# BYE/200, no hold; search() below), (b) calls at a fixed
# BENCH_LB_CALL_RATE (1000/s) for BENCH_LB_FIXED_S (8 s): each node's CPU
# (utime + stime, /proc/PID/stat) over the calls it answered (its
# sipedge_shard_invite_final_seconds_count), Redis's and sipload's, (c)
# the highest REGISTER rate with 0 failures (users 100000-149999, trusted
# source, no digest; after the first step they are refreshes).
# overload.max_transactions is BENCH_LB_MAX_TXN (2,000,000) on each node:
# with the default 100,000 a completed UDP transaction is kept 64*T1 =
# 32 s, so a one-worker node answers 503 beyond some 3,100 transactions/s
# sustained (3,100 REGISTER/s, or about 780 calls/s: 4 transactions per
# call), and the short steps would measure that cap and the leftovers of
# the previous steps, not the node.
# Search steps of BENCH_LB_STEP_S (3 s), at most BENCH_LB_STEPS (7) each.
# Every process is stopped by its PID; a watchdog ends the run after
# BENCH_LB_LIMIT_S (900 s); the namespace is removed on every path.
set -u

BIN=$(realpath "${SIPEDGE_BIN:-build/sipedge}")
LOAD=$(realpath "${SIPLOAD_BIN:-build/sipload}")
NODES=${BENCH_LB_NODES:-1 2 3}
REPEAT=${BENCH_LB_REPEAT:-2}
HASH=${BENCH_LB_HASH:-numgen}
THREADS=${BENCH_LB_THREADS:-6}
STEP=${BENCH_LB_STEP_S:-3}
STEPS=${BENCH_LB_STEPS:-7}
REG_FROM=${BENCH_LB_REG_FROM:-4000}
CALL_FROM=${BENCH_LB_CALL_FROM:-1000}
FIXED_RATE=${BENCH_LB_CALL_RATE:-1000}
FIXED_S=${BENCH_LB_FIXED_S:-8}
MAX_TXN=${BENCH_LB_MAX_TXN:-2000000}
NS=sebench$$
VIP=127.0.0.100
UAS_ADDR=127.0.0.2:5090
NODE_IP=(127.0.1.11 127.0.1.12 127.0.1.13)
HZ=$(getconf CLK_TCK)
DIR=$(mktemp -d /tmp/sipedge-benchlb-XXXXXX)
PIDS=()
NODE_PID=(0 0 0)
UAS=0
REDIS_M=0

say() { printf '%s bench-lb: %s\n' "$(date +%T)" "$*" >&2; }
die() {
	say "FAIL: $*"
	for i in 0 1 2; do
		[ -s "$DIR/n$i.log" ] && { echo "--- node $i log (tail)"; tail -n 10 "$DIR/n$i.log"; } >&2
	done
	exit 1
}
cleanup() {
	kill "$WATCHDOG" 2>/dev/null
	for p in "${PIDS[@]}" "${NODE_PID[@]}" "$UAS"; do
		[ "$p" -gt 0 ] 2>/dev/null && kill "$p" 2>/dev/null
	done
	sleep 0.2
	for p in "${PIDS[@]}" "${NODE_PID[@]}" "$UAS"; do
		[ "$p" -gt 0 ] 2>/dev/null && kill -9 "$p" 2>/dev/null
	done
	# Whatever still runs in our namespace was started here.
	for p in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	if [ -z "${KEEP:-}" ]; then rm -rf "$DIR"; else say "kept $DIR"; fi
}
trap cleanup EXIT
trap 'say "stopped by a signal"; exit 1' INT TERM
# (Its sleep is killed with it and holds no output open.)
(
	exec >/dev/null 2>&1
	sleep "${BENCH_LB_LIMIT_S:-900}" &
	s=$!
	trap 'kill $s; exit 0' TERM
	wait $s
	kill -TERM $$
) &
WATCHDOG=$!

in_ns() { ip netns exec "$NS" "$@"; }
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
rcli() { in_ns redis-cli -h 127.0.0.1 "$@" 2>/dev/null; }
metric() { # node name: the value of sipedge_NAME (0 when absent)
	in_ns curl -s --max-time 2 "http://${NODE_IP[$1]}:5080/metrics" |
		awk -v m="sipedge_$2" '$1 == m { v = $2 } END { print v + 0 }'
}

for t in nft redis-server redis-cli curl jq; do
	command -v "$t" >/dev/null || die "$t is not installed"
done
[ -x "$BIN" ] || die "no sipedge at $BIN (make)"
[ -x "$LOAD" ] || die "no sipload at $LOAD (make build/sipload)"

ip netns add "$NS" || die "ip netns add"
in_ns ip link set lo up

# --- Redis: a master, its replica and three Sentinels (as lb.sh) --------
redis_server() { # port args...
	local port=$1
	shift
	ip netns exec "$NS" redis-server --port "$port" --bind 127.0.0.1 --save '' \
		--appendonly no --protected-mode no --dir "$DIR" "$@" \
		>"$DIR/redis-$port.log" 2>&1 &
	PIDS+=($!)
	LAST=$!
	for _ in $(seq 50); do
		rcli -p "$port" ping | grep -q PONG && return 0
		sleep 0.1
	done
	die "redis on $port did not answer"
}
redis_server 6390
REDIS_M=$LAST
redis_server 6391 --replicaof 127.0.0.1 6390
for k in 0 1 2; do
	p=$((26390 + k))
	cat >"$DIR/sentinel-$p.conf" <<EOF
port $p
bind 127.0.0.1
protected-mode no
dir $DIR
sentinel monitor lbm 127.0.0.1 6390 2
sentinel down-after-milliseconds lbm 1000
sentinel failover-timeout lbm 4000
EOF
	ip netns exec "$NS" redis-server "$DIR/sentinel-$p.conf" --sentinel \
		>"$DIR/sentinel-$p.log" 2>&1 &
	PIDS+=($!)
done
for _ in $(seq 100); do
	[ "$(rcli -p 26390 sentinel get-master-addr-by-name lbm | head -n 1)" = 127.0.0.1 ] && break
	sleep 0.1
done

# --- the balancer for N nodes --------------------------------------------
balancer() { # n
	local n=$1 i el="" pick
	for i in $(seq 0 $((n - 1))); do el="$el${el:+, }$i : ${NODE_IP[$i]}"; done
	if [ "$HASH" = jhash ]; then
		pick="jhash ip saddr . udp sport mod $n"
	else
		pick="numgen inc mod $n"
	fi
	in_ns nft delete table ip lb 2>/dev/null
	in_ns nft -f - <<EOF || die "nft"
table ip lb {
	chain out {
		type nat hook output priority -100; policy accept;
		ip daddr $VIP udp dport 5060 dnat to $pick map { $el }
	}
}
EOF
	# Flows of the previous N must be hashed again.
	in_ns conntrack -F >/dev/null 2>&1 || true
}

node_start() { # i
	cat >"$DIR/n$1.yaml" <<EOF
workers: 1
log_level: warn
listen:
  - address: "${NODE_IP[$1]}"
    port: 5060
    transports: [udp]
management:
  listen: ["${NODE_IP[$1]}:5080"]
overload:
  max_transactions: $MAX_TXN
domains: [lb.test]
registrar:
  trusted: [127.0.0.0/8]
store:
  backend: redis
  redis:
    connect_timeout_ms: 300
    command_timeout_ms: 1000
    sentinel:
      master: lbm
      addresses: ["127.0.0.1:26390", "127.0.0.1:26391", "127.0.0.1:26392"]
EOF
	ip netns exec "$NS" "$BIN" -c "$DIR/n$1.yaml" >>"$DIR/n$1.log" 2>&1 &
	NODE_PID[$1]=$!
	for _ in $(seq 100); do
		[ "$(in_ns curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
			"http://${NODE_IP[$1]}:5080/health")" = 200 ] && return 0
		sleep 0.1
	done
	die "node $1 never answered /health"
}
nodes_stop() {
	local i
	for i in 0 1 2; do
		[ "${NODE_PID[$i]}" -gt 0 ] || continue
		kill -TERM "${NODE_PID[$i]}"
		wait "${NODE_PID[$i]}" 2>/dev/null
		NODE_PID[$i]=0
	done
}

sipload() { # name args...: sipload in the namespace, JSON to DIR/name.json
	local name=$1
	shift
	in_ns "$LOAD" --json --no-progress --threads "$THREADS" \
		-t "$VIP:5060" --domain lb.test "$@" >"$DIR/$name.json" 2>"$DIR/$name.err"
}

# The highest rate with 0 failures, as sipload --search does it (from
# FROM, doubling while clean, then bisecting, at most STEPS steps of
# STEP s, stop within 5 %), but each step a sipload process of its own,
# so that a step's failures are logged with their status codes (sipload
# --search reports only its best step's). That is how the 503s of the
# transaction cap (overload.max_transactions, above) were found. A step is
# clean when sipload exits 0 with every operation started (failures by
# status are in DIR/NAME.s*.json). Sets BEST; one line per step on stderr.
search() { # name from sipload-args...
	local name=$1 rate=$2 bad=0 k next clean
	shift 2
	BEST=0
	OKSUM=0
	for k in $(seq 1 "$STEPS"); do
		sipload "$name.s$k" "$@" -r "$rate" -d "$STEP" --drain 5 \
			--max-time $((STEP + 30))
		clean=$?
		OKSUM=$((OKSUM + $(jq -r '.succeeded // 0' "$DIR/$name.s$k.json" 2>/dev/null || echo 0)))
		[ "$clean" = 0 ] && [ "$(jq -r '.skipped' "$DIR/$name.s$k.json")" = 0 ] || clean=1
		say "   $name step $k: $rate/s (achieved $(jq -r '.rate_achieved' "$DIR/$name.s$k.json" 2>/dev/null)/s) $([ "$clean" = 0 ] && echo clean || echo "NOT clean: $(jq -c '{failed,timeouts,unfinished,skipped,failures}' "$DIR/$name.s$k.json" 2>/dev/null)")"
		if [ "$clean" = 0 ]; then
			[ "$rate" -gt "$BEST" ] && BEST=$rate
		else
			{ [ "$bad" = 0 ] || [ "$rate" -lt "$bad" ]; } && bad=$rate
		fi
		if [ "$clean" = 0 ] && [ "$bad" = 0 ]; then
			next=$((rate * 2))
		elif [ "$bad" -gt 0 ] && [ "$BEST" -gt 0 ]; then
			next=$(((BEST + bad) / 2))
		else
			next=$((rate / 2))
		fi
		[ "$BEST" -gt 0 ] && [ "$bad" -gt 0 ] && [ $(((bad - BEST) * 20)) -lt "$BEST" ] && break
		{ [ "$next" = "$rate" ] || [ "$next" -lt 1 ]; } && break
		rate=$next
		sleep 0.5
	done
}

# The callee, for the whole run: every call ends on it.
ip netns exec "$NS" "$LOAD" --role uas -l "$UAS_ADDR" -d 1200 --max-time 1300 \
	--json --no-progress >"$DIR/uas.json" 2>"$DIR/uas.err" &
UAS=$!

ROWS=()
one() { # n rep
	local n=$1 rep=$2 i c inv r0 r1 u0 u1 reg cal line spread="" per="" tot=0 calls=0
	say "N=$n (run $rep): nodes, callee users"
	rcli -p 6390 flushall >/dev/null
	for i in $(seq 0 $((n - 1))); do node_start "$i"; done
	balancer "$n"
	sipload "callees$n" -s register -u 2000-2099 --contact "$UAS_ADDR" -n 100 -r 500 --max-time 30 ||
		die "the callee users did not register (N=$n)"
	for i in $(seq 0 $((n - 1))); do
		for _ in $(seq 50); do
			[ "$(metric "$i" location_aors)" -ge 100 ] && break
			sleep 0.1
		done
	done
	say "N=$n: call search from $CALL_FROM/s"
	search "call$n.$rep" "$CALL_FROM" -s call --callee 2000-2099
	cal=$BEST
	say "N=$n: calls $cal/s; $FIXED_RATE calls/s for $FIXED_S s"
	sleep 2
	sleep 1
	for i in $(seq 0 $((n - 1))); do
		C0[$i]=$(cpu "${NODE_PID[$i]}")
		I0[$i]=$(metric "$i" shard_invite_final_seconds_count)
	done
	r0=$(cpu "$REDIS_M")
	u0=$(cpu "$UAS")
	sipload "fixed$n.$rep" -s call --callee 2000-2099 -r "$FIXED_RATE" -d "$FIXED_S" --max-time 60
	local frc=$?
	for i in $(seq 0 $((n - 1))); do
		C1[$i]=$(cpu "${NODE_PID[$i]}")
		I1[$i]=$(metric "$i" shard_invite_final_seconds_count)
	done
	r1=$(cpu "$REDIS_M")
	u1=$(cpu "$UAS")
	local ok fail gen
	ok=$(jq -r '.succeeded // .uac.succeeded // empty' "$DIR/fixed$n.$rep.json" 2>/dev/null)
	fail=$(jq -r '.failed // .uac.failed // empty' "$DIR/fixed$n.$rep.json" 2>/dev/null)
	for i in $(seq 0 $((n - 1))); do
		c=$((C1[i] - C0[i]))
		inv=$((I1[i] - I0[i]))
		tot=$((tot + c))
		calls=$((calls + inv))
		per="$per${per:+ / }$(awk -v c="$c" -v n="$inv" -v hz="$HZ" 'BEGIN { printf "%.0f", n ? c / hz * 1e6 / n : 0 }')"
		spread="$spread${spread:+ / }$inv"
	done
	local avg rus
	avg=$(awk -v c="$tot" -v n="$calls" -v hz="$HZ" 'BEGIN { printf "%.0f", n ? c / hz * 1e6 / n : 0 }')
	rus=$(awk -v c="$((r1 - r0))" -v n="$calls" -v hz="$HZ" 'BEGIN { printf "%.1f", n ? c / hz * 1e6 / n : 0 }')
	# The generator: the caller's own CPU per call (its report) and
	# the callee's (/proc), to show what shares the two cores.
	gen=$(jq -r '.cpu_us_per_op // 0' "$DIR/fixed$n.$rep.json" 2>/dev/null)
	gen=$(awk -v a="${gen:-0}" -v c="$((u1 - u0))" -v n="${ok:-0}" -v hz="$HZ" \
		'BEGIN { printf "%.0f + %.0f", a, n ? c / hz * 1e6 / n : 0 }')
	# Last: the REGISTER steps leave up to max_transactions completed
	# transactions behind for 64*T1 (Timer J), which would starve the
	# calls of a later search.
	say "N=$n: REGISTER search from $REG_FROM/s"
	r0=$(cpu "$REDIS_M")
	search "reg$n.$rep" "$REG_FROM" -s register -u 100000-149999
	reg=$BEST
	r1=$(cpu "$REDIS_M")
	local rreg
	rreg=$(awk -v c="$((r1 - r0))" -v n="$OKSUM" -v hz="$HZ" 'BEGIN { printf "%.1f", n ? c / hz * 1e6 / n : 0 }')
	line="| $n | $rep | $reg | $cal | $per (mean $avg) | $spread | ${ok:-?} / ${fail:-?} (exit $frc) | $rus | $gen | $rreg |"
	echo "$line"
	ROWS+=("$line")
	nodes_stop
}

say "namespace $NS, hash $HASH, $THREADS client sockets, dir $DIR"
for rep in $(seq 1 "$REPEAT"); do
	for n in $NODES; do one "$n" "$rep"; done
done
echo
echo "| nodes | run | max clean REGISTER/s | max clean calls/s | CPU µs per call per node (at $FIXED_RATE/s) | calls per node | fixed run ok / failed | Redis master CPU µs per call | sipload µs per call (caller + callee) | Redis master CPU µs per REGISTER (search) |"
echo "|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
