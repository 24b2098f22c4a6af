#!/bin/bash
# tests/integration/lb/lb.sh - three sipedge nodes behind the Linux
# kernel's own balancer, in network namespaces this script creates and
# removes (issue #17). Run by tests/integration/test_lb.c; by hand:
#   SIPEDGE_BIN=build/sipedge tests/integration/lb/lb.sh
# as root, from the repository root. Exit 0 when every check passed.
# KEEP=1 keeps the run's directory (configs, logs, SIPp screens);
# LB_DEBUG=1 traces the health checker into its log.
#
# Layout (all addresses inside the namespaces; nothing outside them is
# touched):
#
#   client ns C            balancer ns L                 node ns N1..N3
#   10.77.0.2 --veth-- 10.77.0.1, VIP 10.77.0.100   br0 10.77.1.1 --veth-- 10.77.1.11..13
#   SIPp UAs               nftables DNAT (jhash),       sipedge, management
#                          Redis on 10.77.1.1,          on 127.0.0.1:5080
#                          health checker               of its own ns
#
# The balancer DNATs UDP and TCP to VIP:5060 to a node chosen by a hash
# of the client's address and port (jhash ip saddr . sport): one UA's
# 5-tuple stays on one node, so retransmissions meet their transaction
# and a TCP connection stays put; no SNAT, so the node sees the UA's own
# address (Via received/rport, the binding's flow). Replies leave the
# node for the client through L, where conntrack un-DNATs them (source
# VIP). Each node Record-Routes its own address, which the client
# reaches through L: a dialog stays on the node that set it up.
#
# The health checker (a loop in L, every 200 ms) asks each node's GET
# /health; a node that does not answer 200 twice in a row is taken out
# of the map (its hash buckets go to the live nodes), and put back when
# it answers again.
#
# Checks, each bounded in count and time:
#  1. 300 users register through the VIP from 12 source ports: spread
#     over at least two nodes (each node's registrar counter), all 200.
#  2. every user is reached by a call entering through each node's own
#     address (900 calls: the location is shared through Redis).
#  3. a node is SIGKILLed while calls run through the VIP: the checker
#     takes it out within 2 s, and new calls through the VIP all
#     succeed within 5 s of the kill; no registration is lost (every
#     user still reached through each survivor).
set -u

BIN=${SIPEDGE_BIN:?SIPEDGE_BIN must name the sipedge binary}
BIN=$(realpath "$BIN")
HERE=$(cd "$(dirname "$0")" && pwd)
ID=$$
C=se${ID}c
L=se${ID}l
N=(se${ID}n1 se${ID}n2 se${ID}n3)
NODE_IP=(10.77.1.11 10.77.1.12 10.77.1.13)
VIP=10.77.0.100
USERS=300
DIR=$(mktemp -d /tmp/sipedge-lb-XXXXXX)
PIDS=()
NODE_PID=(0 0 0)
CHECKER=0
WATCHDOG=0

say() { printf '%s lb: %s\n' "$(date +%T.%3N)" "$*"; }
fail() {
	say "FAIL: $*"
	for i in 0 1 2; do
		[ -f "$DIR/n$i.log" ] && { echo "--- node $i log (tail)"; tail -n 20 "$DIR/n$i.log"; }
	done
	[ -f "$DIR/checker.log" ] && { echo "--- checker"; tail -n 20 "$DIR/checker.log"; }
	exit 1
}

cleanup() {
	kill "$WATCHDOG" 2>/dev/null
	for p in "${PIDS[@]}" "${NODE_PID[@]}" "$CHECKER"; do
		[ "$p" -gt 0 ] 2>/dev/null && kill "$p" 2>/dev/null
	done
	sleep 0.2
	for p in "${PIDS[@]}" "${NODE_PID[@]}" "$CHECKER"; do
		[ "$p" -gt 0 ] 2>/dev/null && kill -9 "$p" 2>/dev/null
	done
	# Whatever still runs in our namespaces was started here.
	for ns in "$C" "$L" "${N[@]}"; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			kill -9 "$p" 2>/dev/null
		done
	done
	wait 2>/dev/null
	for ns in "$C" "$L" "${N[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	if [ -z "${KEEP:-}" ]; then rm -rf "$DIR"; else say "kept $DIR"; fi
}
trap cleanup EXIT
trap 'say "FAIL: stopped by a signal"; exit 1' INT TERM
# Bounded as a whole: whatever happens, the run ends (and cleans up)
# within LB_LIMIT_S seconds.
( sleep "${LB_LIMIT_S:-150}"; kill -TERM $$ ) 2>/dev/null &
WATCHDOG=$!

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# --- the namespaces and links ------------------------------------------
topology() {
	local i
	for ns in "$C" "$L" "${N[@]}"; do
		ip netns add "$ns" || fail "ip netns add $ns"
		in_ns "$ns" ip link set lo up
	done
	ip link add "v${ID}c" type veth peer name "v${ID}cl" || fail "veth"
	ip link set "v${ID}c" netns "$C"
	ip link set "v${ID}cl" netns "$L"
	in_ns "$C" ip addr add 10.77.0.2/24 dev "v${ID}c"
	in_ns "$C" ip link set "v${ID}c" up
	in_ns "$C" ip route add default via 10.77.0.1
	in_ns "$L" ip addr add 10.77.0.1/24 dev "v${ID}cl"
	in_ns "$L" ip addr add "$VIP/32" dev "v${ID}cl"
	in_ns "$L" ip link set "v${ID}cl" up
	in_ns "$L" ip link add br0 type bridge
	in_ns "$L" ip addr add 10.77.1.1/24 dev br0
	in_ns "$L" ip link set br0 up
	in_ns "$L" sysctl -qw net.ipv4.ip_forward=1
	for i in 0 1 2; do
		ip link add "v${ID}n$i" type veth peer name "v${ID}b$i" ||
			fail "veth $i"
		ip link set "v${ID}n$i" netns "${N[$i]}"
		ip link set "v${ID}b$i" netns "$L"
		in_ns "$L" ip link set "v${ID}b$i" master br0
		in_ns "$L" ip link set "v${ID}b$i" up
		in_ns "${N[$i]}" ip addr add "${NODE_IP[$i]}/24" dev "v${ID}n$i"
		in_ns "${N[$i]}" ip link set "v${ID}n$i" up
		in_ns "${N[$i]}" ip route add default via 10.77.1.1
	done
}

# The balancer: a map from hash bucket to node, rewritten by the checker.
# 6 buckets, two per node: taking a node out hands its buckets to the
# two others, one each.
balancer() {
	in_ns "$L" nft -f - <<EOF || fail "nft"
table ip lb {
	map bucket {
		type mark : ipv4_addr
		elements = { 0 : ${NODE_IP[0]}, 1 : ${NODE_IP[1]}, 2 : ${NODE_IP[2]},
			     3 : ${NODE_IP[0]}, 4 : ${NODE_IP[1]}, 5 : ${NODE_IP[2]} }
	}
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr $VIP udp dport 5060 meta mark set jhash ip saddr . udp sport mod 6 dnat to meta mark map @bucket
		ip daddr $VIP tcp dport 5060 meta mark set jhash ip saddr . tcp sport mod 6 dnat to meta mark map @bucket
	}
}
EOF
}

# --- Redis and the nodes --------------------------------------------------
redis() {
	ip netns exec "$L" redis-server --port 6390 --bind 10.77.1.1 --save '' \
		--appendonly no --protected-mode no >"$DIR/redis.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 50); do
		in_ns "$L" redis-cli -h 10.77.1.1 -p 6390 ping 2>/dev/null |
			grep -q PONG && return 0
		sleep 0.1
	done
	fail "redis did not answer"
}

node_conf() {
	cat >"$DIR/n$1.yaml" <<EOF
workers: 2
log_level: info
listen:
  - address: "${NODE_IP[$1]}"
    port: 5060
    transports: [udp, tcp]
domains: [lb.test]
registrar:
  trusted: [10.77.0.0/24]
store:
  backend: redis
  redis:
    address: "10.77.1.1:6390"
    connect_timeout_ms: 300
    command_timeout_ms: 1000
EOF
}

node_start() {
	# Not through in_ns(): $! must be the process itself (ip netns
	# exec execs it), not a subshell, so that kill -9 kills the node.
	ip netns exec "${N[$1]}" "$BIN" -c "$DIR/n$1.yaml" >>"$DIR/n$1.log" 2>&1 &
	NODE_PID[$1]=$!
}

health() { # node -> the HTTP status of its GET /health
	in_ns "${N[$1]}" curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
		http://127.0.0.1:5080/health 2>/dev/null
}

node_wait() {
	for _ in $(seq 100); do
		[ "$(health "$1")" = 200 ] && return 0
		sleep 0.1
	done
	fail "node $1 never answered /health"
}

# --- the health checker -------------------------------------------------
# Runs in the background; writes the map only when a node's state
# changes. A node is out after 2 failed checks in a row.
checker() {
	[ -n "${LB_DEBUG:-}" ] && set -x
	local up=(1 1 1) bad=(0 0 0) i b live
	while :; do
		for i in 0 1 2; do
			if [ "$(health "$i")" = 200 ]; then
				bad[$i]=0
				[ "${up[$i]}" = 1 ] && continue
				up[$i]=1
			else
				bad[$i]=$((bad[$i] + 1))
				[ "${up[$i]}" = 0 ] || [ "${bad[$i]}" -lt 2 ] && continue
				up[$i]=0
			fi
			live=()
			for b in 0 1 2; do [ "${up[$b]}" = 1 ] && live+=("${NODE_IP[$b]}"); done
			[ ${#live[@]} -eq 0 ] && continue
			{
				echo "flush map ip lb bucket"
				for b in 0 1 2 3 4 5; do
					if [ "${up[$((b % 3))]}" = 1 ]; then
						echo "add element ip lb bucket { $b : ${NODE_IP[$((b % 3))]} }"
					else
						echo "add element ip lb bucket { $b : ${live[$((b % ${#live[@]}))]} }"
					fi
				done
			} | in_ns "$L" nft -f -
			# Flows already pinned to a node that went out would
			# keep going to it (conntrack outlives the map entry):
			# forget them, so their next packet is hashed again.
			[ "${up[$i]}" = 0 ] &&
				in_ns "$L" conntrack -D --reply-src "${NODE_IP[$i]}" \
					>/dev/null 2>&1
			echo "$(date +%T.%3N) node $i $([ "${up[$i]}" = 1 ] && echo in || echo out)"
		done
		sleep 0.2
	done
}

# --- SIPp in the client namespace ---------------------------------------
users_csv() { # file [contact host:port]
	{
		echo SEQUENTIAL
		for u in $(seq 1000 $((1000 + USERS - 1))); do
			echo "u$u;lb.test;10.77.0.2:6000"
		done
	} >"$1"
}

sipp_c() { # name args... (background; pid in SIPP)
	local name=$1
	shift
	ip netns exec "$C" sipp -i 10.77.0.2 -nostdin -timeout 60s -timeout_error \
		-trace_err -error_file "$DIR/$name.err" "$@" \
		>"$DIR/$name.out" 2>&1 &
	SIPP=$!
	PIDS+=($SIPP)
}

sipp_wait() { # pid name: exit status 0 or fail
	wait "$1"
	local rc=$?
	[ "$rc" = 0 ] || {
		tail -n 15 "$DIR/$2.err" 2>/dev/null
		fail "sipp $2 exited $rc"
	}
}

metric() { # node name: the value of sipedge_NAME (0 when absent)
	in_ns "${N[$1]}" curl -s --max-time 2 http://127.0.0.1:5080/metrics |
		awk -v m="sipedge_$2" '$1 == m { v = $2 } END { print v + 0 }'
}

calls_through() { # name target: every user called once through target
	sipp_c "$1" "$2:5060" -sf "$HERE/lb_call.xml" -inf "$DIR/users.csv" \
		-m "$USERS" -r 150 -l 100
	sipp_wait "$SIPP" "$1"
}

# --- the run ------------------------------------------------------------
command -v nft >/dev/null || fail "nft is not installed (scripts/install-deps.sh)"
command -v conntrack >/dev/null || fail "conntrack is not installed (scripts/install-deps.sh)"
command -v sipp >/dev/null || fail "sipp is not installed"
command -v redis-server >/dev/null || fail "redis-server is not installed"

say "topology in $DIR"
topology
balancer
redis
for i in 0 1 2; do node_conf "$i"; node_start "$i"; done
for i in 0 1 2; do node_wait "$i"; done
checker >"$DIR/checker.log" 2>&1 &
CHECKER=$!
users_csv "$DIR/users.csv"

# The callee of every call: one SIPp UAS, every user's contact.
sipp_c uas -sf "$HERE/../sipp/uas_call.xml" -p 6000 -t u1
UAS=$SIPP

# 1. Registrations through the VIP from 12 source ports.
say "1. $USERS registrations through $VIP from 12 source ports"
per=$((USERS / 12))
for k in $(seq 0 11); do
	{
		echo SEQUENTIAL
		for u in $(seq $((1000 + k * per)) $((1000 + k * per + per - 1))); do
			echo "u$u;lb.test;10.77.0.2:6000"
		done
	} >"$DIR/reg$k.csv"
	sipp_c "reg$k" "$VIP:5060" -sf "$HERE/lb_reg.xml" -inf "$DIR/reg$k.csv" \
		-m "$per" -r 200 -p $((7000 + k)) -t u1
	REG[$k]=$SIPP
done
for k in $(seq 0 11); do sipp_wait "${REG[$k]}" "reg$k"; done
took=0
for i in 0 1 2; do
	ok=$(metric "$i" registrar_ok_total)
	say "   node $i (${NODE_IP[$i]}) answered $ok REGISTERs 200"
	[ "$ok" -gt 0 ] && took=$((took + 1))
	total=$((${total:-0} + ok))
done
[ "$total" = "$USERS" ] || fail "the nodes answered $total REGISTERs 200, not $USERS"
[ "$took" -ge 2 ] || fail "the balancer sent every REGISTER to one node"

# 2. Every user through each node's own address.
for i in 0 1 2; do
	say "2. $USERS calls into node $i (${NODE_IP[$i]})"
	calls_through "call$i" "${NODE_IP[$i]}"
done

# 3. A node dies under calls through the VIP.
say "3. calls through $VIP from 6 source ports; node 1 SIGKILLed"
for k in $(seq 0 5); do
	sipp_c "load$k" "$VIP:5060" -sf "$HERE/lb_call.xml" -inf "$DIR/users.csv" \
		-m 100 -r 20 -l 50 -p $((7100 + k)) -t u1 -timeout 15s
	LOAD[$k]=$SIPP
done
sleep 1
# Which node each load instance's 5-tuple went to: L's conntrack table
# (the reply direction's source).
for k in $(seq 0 5); do
	ON[$k]=$(in_ns "$L" awk -v sp="sport=$((7100 + k))" '
		$0 ~ "dst='"$VIP"' " && index($0, sp " dport=5060") {
			for (i = 1; i <= NF; i++)
				if ($i ~ /^src=10\.77\.1\./) { sub("src=", "", $i); print $i; exit }
		}' /proc/net/nf_conntrack)
	[ -n "${ON[$k]}" ] || fail "no conntrack entry for load$k"
done
kill -9 "${NODE_PID[1]}"
killed=$(date +%s%N)
wait "${NODE_PID[1]}" 2>/dev/null
NODE_PID[1]=0
out=0
for _ in $(seq 20); do
	grep -q "node 1 out" "$DIR/checker.log" && { out=1; break; }
	sleep 0.1
done
[ "$out" = 1 ] || fail "the checker did not take node 1 out within 2 s"
say "   node 1 out after $((($(date +%s%N) - killed) / 1000000)) ms"
# New calls through the VIP from new source ports, 5 s after the kill,
# while the load still runs: all succeed.
now=$(date +%s%N)
left=$((5000 - (now - killed) / 1000000))
[ "$left" -gt 0 ] && sleep "$(awk -v l="$left" 'BEGIN { printf "%.3f", l / 1000 }')"
for k in $(seq 0 5); do
	sipp_c "after$k" "$VIP:5060" -sf "$HERE/lb_call.xml" -inf "$DIR/users.csv" \
		-m 50 -r 50 -l 50 -p $((7200 + k)) -t u1
	AFTER[$k]=$SIPP
done
for k in $(seq 0 5); do sipp_wait "${AFTER[$k]}" "after$k"; done
# Calls of the dead node's instances may be lost (the calls it carried,
# and those sent to it before the checker took it out: at 20 calls/s,
# at most 60); every other instance loses none. A call SIPp did not see
# end within -timeout counts as lost.
for k in $(seq 0 5); do
	wait "${LOAD[$k]}"
	ok=$(awk -F'|' '/Successful call/ { v = $NF } END { gsub(/ /, "", v); print v + 0 }' \
		"$DIR/load$k.out")
	f=$((100 - ok))
	say "   load$k on ${ON[$k]}: $f of 100 calls lost"
	if [ "${ON[$k]}" = "${NODE_IP[1]}" ]; then
		[ "$f" -le 60 ] || fail "load$k lost $f calls, more than node 1 carried"
	else
		[ "$f" = 0 ] || fail "load$k on a live node lost $f calls"
	fi
done
say "   300 new calls through $VIP after the kill: all completed"
for i in 0 2; do
	say "   every user through survivor node $i"
	calls_through "survivor$i" "${NODE_IP[$i]}"
done
kill "$UAS" 2>/dev/null
# The survivors stop cleanly (exit 0, and no sanitizer report in a
# SAN=1 build).
kill "$CHECKER"
for i in 0 2; do
	kill -TERM "${NODE_PID[$i]}"
	wait "${NODE_PID[$i]}"
	rc=$?
	NODE_PID[$i]=0
	[ "$rc" = 0 ] || fail "node $i exited $rc on SIGTERM"
	grep -q 'Sanitizer' "$DIR/n$i.log" && fail "node $i: sanitizer report"
done
say "PASS"
exit 0
