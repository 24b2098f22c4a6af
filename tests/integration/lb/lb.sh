#!/bin/bash
# tests/integration/lb/lb.sh - three sipedge nodes behind the Linux
# kernel's own balancer, in network namespaces this script creates and
# removes (issue #17). Run by tests/integration/test_lb.c; by hand:
#   SIPEDGE_BIN=build/sipedge tests/integration/lb/lb.sh
# as root, from the repository root (SIPCTL_BIN, default sipctl beside
# the binary). Exit 0 when every check passed. LB_STORE=sentinel (the
# default), cluster or single picks the Redis setup; LB_USERS the number
# of users (300); LB_SAMPLE how many of them each reachability check
# calls (300: with more users, a sample spread over all); LB_LIMIT_S the
# watchdog (180 s). `make soak` runs LB_STORE=cluster, and
# LB_USERS=10000 with LB_SAMPLE=10000 (every user called through every
# node).
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
# Redis (LB_STORE): a master, its replica and three Sentinels (default),
# a 3-master Redis Cluster with a replica each (cluster), or one server
# (single); all on 10.77.1.1 in L. LB_USERS (default 300) users.
#
# Checks, each bounded in count and time:
#  1. LB_USERS users register through the VIP from 12 source ports:
#     spread over at least two nodes (each node's registrar counter),
#     all 200; each node holds every one (sipedge_location_aors).
#  2. every user is reached by a call entering through each node's own
#     address (the location is shared through Redis); above 300 users a
#     sample of 300 spread over all of them.
#  3. a node is SIGKILLed while calls run through the VIP: the checker
#     takes it out within 2 s, and new calls through the VIP all
#     succeed within 5 s of the kill; no registration is lost (every
#     survivor holds every user and reaches them).
#  4. the node restarts with the same config: the checker puts it back,
#     calls through the VIP all complete and those of the source ports
#     hashed to it are answered by it (its INVITE count), and it reaches
#     every user (its table loaded from Redis).
#  5. (sentinel, cluster) while 600 new users register through the VIP
#     and calls run, the Redis master is SIGKILLed: its replica is
#     promoted (by Sentinel, or by the cluster), every REGISTER is
#     answered 200, every call completes, each node resynchronises with
#     the new master, and no acknowledged registration is lost (Redis
#     holds 2 keys per AOR, every node's location.dump has every one);
#     60 users registered afterwards are reached through the VIP.
set -u

BIN=${SIPEDGE_BIN:?SIPEDGE_BIN must name the sipedge binary}
BIN=$(realpath "$BIN")
SIPCTL=${SIPCTL_BIN:-$(dirname "$BIN")/sipctl}
HERE=$(cd "$(dirname "$0")" && pwd)
ID=$$
C=se${ID}c
L=se${ID}l
N=(se${ID}n1 se${ID}n2 se${ID}n3)
NODE_IP=(10.77.1.11 10.77.1.12 10.77.1.13)
VIP=10.77.0.100
USERS=${LB_USERS:-300}
SAMPLE=${LB_SAMPLE:-300} # calls per reachability check: every user up to it, else a sample
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
( sleep "${LB_LIMIT_S:-180}"; kill -TERM $$ ) 2>/dev/null &
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
# LB_STORE picks the store, all on 10.77.1.1 in L:
#  sentinel (default): a master :6390, its replica :6391, and three
#    Sentinels :26390-26392 (quorum 2, down after 1 s);
#  cluster: six servers :6390-6395, three masters with a replica each
#    (cluster-node-timeout 1 s);
#  single: one server :6390 (no fail-over step).
STORE=${LB_STORE:-sentinel}
RIP=10.77.1.1
RPID=() # port -> redis-server pid

rcli() { in_ns "$L" redis-cli -h "$RIP" "$@" 2>/dev/null; }

redis_server() { # port args...: a redis-server in L, until it answers PING
	local port=$1
	shift
	ip netns exec "$L" redis-server --port "$port" --bind "$RIP" --save '' \
		--appendonly no --protected-mode no --dir "$DIR" "$@" \
		>"$DIR/redis-$port.log" 2>&1 &
	RPID[$port]=$!
	PIDS+=($!)
	for _ in $(seq 50); do
		rcli -p "$port" ping | grep -q PONG && return 0
		sleep 0.1
	done
	fail "redis on $port did not answer"
}

role() { rcli -p "$1" role | head -n 1; } # port: master, slave or ""

redis_keys() { # the keys of every live master (DBSIZE summed)
	local p n=0
	for p in "${!RPID[@]}"; do
		kill -0 "${RPID[$p]}" 2>/dev/null || continue
		[ "$(role "$p")" = master ] || continue
		n=$((n + $(rcli -p "$p" dbsize)))
	done
	echo "$n"
}

sentinel_start() {
	local p k
	redis_server 6390
	redis_server 6391 --replicaof "$RIP" 6390
	for k in 0 1 2; do
		p=$((26390 + k))
		cat >"$DIR/sentinel-$p.conf" <<EOF
port $p
bind $RIP
protected-mode no
dir $DIR
sentinel monitor lbm $RIP 6390 2
sentinel down-after-milliseconds lbm 1000
sentinel failover-timeout lbm 4000
sentinel parallel-syncs lbm 1
EOF
		ip netns exec "$L" redis-server "$DIR/sentinel-$p.conf" --sentinel \
			>"$DIR/sentinel-$p.log" 2>&1 &
		PIDS+=($!)
	done
	# Until each Sentinel knows the replica and the two others (hello
	# messages every 2 s), bounded.
	for k in 0 1 2; do
		p=$((26390 + k))
		for _ in $(seq 150); do
			rcli -p "$p" sentinel master lbm >"$DIR/sm" || true
			[ "$(sed -n '/^num-slaves$/{n;p}' "$DIR/sm")" = 1 ] &&
				[ "$(sed -n '/^num-other-sentinels$/{n;p}' "$DIR/sm")" = 2 ] &&
				continue 2
			sleep 0.1
		done
		fail "Sentinel $p does not know the replica and the other two"
	done
}

cluster_start() {
	local p ok
	for p in 6390 6391 6392 6393 6394 6395; do
		redis_server "$p" --cluster-enabled yes \
			--cluster-config-file "nodes-$p.conf" --cluster-node-timeout 1000
	done
	in_ns "$L" redis-cli --cluster create $(for p in 6390 6391 6392 6393 6394 6395; do
		echo "$RIP:$p"; done) --cluster-replicas 1 --cluster-yes \
		>"$DIR/cluster-create.out" 2>&1 || fail "redis-cli --cluster create"
	for _ in $(seq 200); do
		ok=0
		for p in 6390 6391 6392 6393 6394 6395; do
			rcli -p "$p" cluster info | grep -q 'cluster_state:ok' &&
				ok=$((ok + 1))
		done
		[ "$ok" = 6 ] && break
		sleep 0.1
	done
	[ "$ok" = 6 ] || fail "the cluster never became ok"
	# Until each replica has synced with its master, bounded.
	for p in 6393 6394 6395; do
		for _ in $(seq 200); do
			rcli -p "$p" role | grep -qx connected && continue 2
			sleep 0.1
		done
		fail "replica $p never synced"
	done
}

redis() {
	case "$STORE" in
	single) redis_server 6390 ;;
	sentinel) sentinel_start ;;
	cluster) cluster_start ;;
	*) fail "LB_STORE=$STORE: not single, sentinel or cluster" ;;
	esac
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
    connect_timeout_ms: 300
    command_timeout_ms: 1000
EOF
	case "$STORE" in
	single) echo '    address: "10.77.1.1:6390"' ;;
	sentinel)
		echo '    sentinel:'
		echo '      master: lbm'
		echo '      addresses: ["10.77.1.1:26390", "10.77.1.1:26391", "10.77.1.1:26392"]'
		;;
	cluster) echo '    cluster: ["10.77.1.1:6390", "10.77.1.1:6391", "10.77.1.1:6392"]' ;;
	esac >>"$DIR/n$1.yaml"
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
users_csv() { # sample.csv: SAMPLE users spread over all of them
	local u step=$(((USERS + SAMPLE - 1) / SAMPLE))
	# Every STEP-th user from the first: with USERS <= SAMPLE, all.
	{
		echo SEQUENTIAL
		for u in $(seq 1000 "$step" $((1000 + USERS - 1))); do
			echo "u$u;lb.test;10.77.0.2:6000"
		done
	} >"$DIR/sample.csv"
	NSAMPLE=$(($(wc -l <"$DIR/sample.csv") - 1))
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

map_has() { # address: the balancer's map sends some bucket to it
	in_ns "$L" nft list map ip lb bucket | grep -q ": $1\b"
}

node_of() { # source port: the node L's conntrack sends it to (or "")
	in_ns "$L" awk -v sp="sport=$1" '
		$0 ~ "dst='"$VIP"' " && index($0, sp " dport=5060") {
			for (i = 1; i <= NF; i++)
				if ($i ~ /^src=10\.77\.1\./) { sub("src=", "", $i); print $i; exit }
		}' /proc/net/nf_conntrack
}

aors_wait() { # node: until it holds USERS AORs (sipedge_location_aors), 20 s
	local n
	for _ in $(seq 200); do
		n=$(metric "$1" location_aors)
		[ "$n" = "$USERS" ] && return 0
		sleep 0.1
	done
	fail "node $1 holds $n AORs, not $USERS"
}

calls_through() { # name target: every sampled user called once through target
	# 150 calls/s: the run's own time plus a minute.
	sipp_c "$1" "$2:5060" -sf "$HERE/lb_call.xml" -inf "$DIR/sample.csv" \
		-m "$NSAMPLE" -r 150 -l 100 -timeout $((NSAMPLE / 150 + 60))s
	sipp_wait "$SIPP" "$1"
}

# --- the run ------------------------------------------------------------
command -v nft >/dev/null || fail "nft is not installed (scripts/install-deps.sh)"
command -v conntrack >/dev/null || fail "conntrack is not installed (scripts/install-deps.sh)"
command -v sipp >/dev/null || fail "sipp is not installed"
command -v redis-server >/dev/null || fail "redis-server is not installed"
command -v redis-cli >/dev/null || fail "redis-cli is not installed"
[ -x "$SIPCTL" ] || fail "no sipctl at $SIPCTL (SIPCTL_BIN)"

say "topology in $DIR"
topology
balancer
redis
for i in 0 1 2; do node_conf "$i"; node_start "$i"; done
for i in 0 1 2; do node_wait "$i"; done
checker >"$DIR/checker.log" 2>&1 &
CHECKER=$!
users_csv

# The callee of every call: one SIPp UAS, every user's contact.
# It lives as long as the run may (its -timeout is SIPp's global one).
sipp_c uas -sf "$HERE/../sipp/uas_call.xml" -p 6000 -t u1 \
	-timeout "${LB_LIMIT_S:-180}s"
UAS=$SIPP

# 1. Registrations through the VIP from 12 source ports.
say "1. $USERS registrations through $VIP from 12 source ports"
per=$((USERS / 12))
for k in $(seq 0 11); do
	# The last port takes the remainder.
	n=$per
	[ "$k" = 11 ] && n=$((USERS - 11 * per))
	{
		echo SEQUENTIAL
		for u in $(seq $((1000 + k * per)) $((1000 + k * per + n - 1))); do
			echo "u$u;lb.test;10.77.0.2:6000"
		done
	} >"$DIR/reg$k.csv"
	sipp_c "reg$k" "$VIP:5060" -sf "$HERE/lb_reg.xml" -inf "$DIR/reg$k.csv" \
		-m "$n" -r 200 -p $((7000 + k)) -t u1
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
# Each node holds every user (its location table, through Redis).
for i in 0 1 2; do
	aors_wait "$i"
	say "   node $i holds $(metric "$i" location_aors) AORs"
done

# 2. Every user through each node's own address.
for i in 0 1 2; do
	say "2. $NSAMPLE calls into node $i (${NODE_IP[$i]}), users 1 in $(((USERS + SAMPLE - 1) / SAMPLE))"
	calls_through "call$i" "${NODE_IP[$i]}"
done

# 3. A node dies under calls through the VIP.
say "3. calls through $VIP from 6 source ports; node 1 SIGKILLed"
for k in $(seq 0 5); do
	sipp_c "load$k" "$VIP:5060" -sf "$HERE/lb_call.xml" -inf "$DIR/sample.csv" \
		-m 100 -r 20 -l 50 -p $((7100 + k)) -t u1 -timeout 15s
	LOAD[$k]=$SIPP
done
sleep 1
# Which node each load instance's 5-tuple went to: L's conntrack table
# (the reply direction's source).
for k in $(seq 0 5); do
	ON[$k]=$(node_of $((7100 + k)))
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
map_has "${NODE_IP[1]}" && fail "node 1 is still in the balancer's map"
# New calls through the VIP from new source ports, 5 s after the kill,
# while the load still runs: all succeed.
now=$(date +%s%N)
left=$((5000 - (now - killed) / 1000000))
[ "$left" -gt 0 ] && sleep "$(awk -v l="$left" 'BEGIN { printf "%.3f", l / 1000 }')"
for k in $(seq 0 5); do
	sipp_c "after$k" "$VIP:5060" -sf "$HERE/lb_call.xml" -inf "$DIR/sample.csv" \
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
	aors_wait "$i"
	say "   survivor node $i holds $USERS AORs; $NSAMPLE users called through it"
	calls_through "survivor$i" "${NODE_IP[$i]}"
done

# 4. Node 1 comes back (same config) and rejoins.
say "4. node 1 restarts"
node_start 1
node_wait 1
in=0
for _ in $(seq 30); do
	grep -q "node 1 in" "$DIR/checker.log" && { in=1; break; }
	sleep 0.1
done
[ "$in" = 1 ] || fail "the checker did not put node 1 back within 3 s of its /health"
say "   checker: $(grep "node 1 in" "$DIR/checker.log" | tail -n 1)"
map_has "${NODE_IP[1]}" || fail "the checker said node 1 in, the map does not have it"
say "   map: $(in_ns "$L" nft list map ip lb bucket | tr -s ' \t\n' ' ' | sed 's/.*elements = //; s/ }.*/ }/')"
aors_wait 1
# Calls through the VIP from new source ports, 6 at a time, until some
# landed on node 1 (each port is hashed to a node: 2 buckets of 6 are
# node 1's, so a round of 6 misses it with p = (2/3)^6; at most 4
# rounds). Every call completes; node 1's INVITE count grows by exactly
# the calls of the ports L's conntrack sends to it.
on1=0
round=0
while [ "$on1" = 0 ] && [ "$round" -lt 4 ]; do
	before=$(metric 1 shard_invite_final_seconds_count)
	for k in $(seq 0 5); do
		p=$((7300 + round * 6 + k))
		sipp_c "back$round$k" "$VIP:5060" -sf "$HERE/lb_call.xml" \
			-inf "$DIR/sample.csv" -m 20 -r 20 -l 20 -p "$p" -t u1
		BACK[$k]=$SIPP
	done
	for k in $(seq 0 5); do sipp_wait "${BACK[$k]}" "back$round$k"; done
	want=0
	for k in $(seq 0 5); do
		[ "$(node_of $((7300 + round * 6 + k)))" = "${NODE_IP[1]}" ] &&
			want=$((want + 20))
	done
	got=$(($(metric 1 shard_invite_final_seconds_count) - before))
	say "   round $round: 120 calls through $VIP, all completed; node 1 answered $got INVITEs (its ports carried $want)"
	[ "$got" = "$want" ] || fail "node 1 answered $got INVITEs, its ports carried $want"
	on1=$want
	round=$((round + 1))
done
[ "$on1" -gt 0 ] || fail "no call through $VIP landed on node 1 after it rejoined"
say "   $NSAMPLE users called through node 1 (its table came back from Redis)"
calls_through "rejoin1" "${NODE_IP[1]}"

# 5. The Redis master dies under a REGISTER load (new users) and a call
# load through the VIP. Every REGISTER is answered 200 (a node answers
# from its own table and queues the write while Redis is away); none of
# them may be lost: the new master holds every AOR, and every node
# (two of which know a user only through Redis) holds every one.
if [ "$STORE" != single ]; then
	FO=20000
	say "5. 600 new users register through $VIP (6 ports, u$FO..u$((FO + 599))) and calls run; the Redis master is SIGKILLed"
	for k in $(seq 0 5); do
		{
			echo SEQUENTIAL
			for u in $(seq $((FO + k * 100)) $((FO + k * 100 + 99))); do
				echo "u$u;lb.test;10.77.0.2:6000"
			done
		} >"$DIR/fo$k.csv"
		# lb_reg.xml logs the user of each 200 (-trace_logs).
		sipp_c "fo$k" "$VIP:5060" -sf "$HERE/lb_reg.xml" -inf "$DIR/fo$k.csv" \
			-m 100 -r 20 -p $((7400 + k)) -t u1 -trace_logs \
			-log_file "$DIR/fo$k.acks"
		FOL[$k]=$SIPP
	done
	for k in 0 1 2; do
		sipp_c "focall$k" "$VIP:5060" -sf "$HERE/lb_call.xml" \
			-inf "$DIR/sample.csv" -m 90 -r 15 -l 30 -p $((7410 + k)) -t u1
		FOC[$k]=$SIPP
	done
	sleep 1.5
	# The victim: the master now (Sentinel's, or the cluster's first;
	# normally 6390, but a loaded machine may have failed over once
	# already), and its heir: the replica that follows it, in step.
	if [ "$STORE" = sentinel ]; then
		m=$(rcli -p 26390 sentinel get-master-addr-by-name lbm | tr '\n' ' ')
		victim=${m#"$RIP "}
		victim=${victim% }
		[ "$victim" = 6390 ] || [ "$victim" = 6391 ] ||
			fail "Sentinel's master is '$m'"
		heirs=$((6390 + 6391 - victim))
	else
		victim=
		for p in 6390 6391 6392 6393 6394 6395; do
			[ "$(role "$p")" = master ] && { victim=$p; break; }
		done
		[ -n "$victim" ] || fail "the cluster has no master"
		heirs="6390 6391 6392 6393 6394 6395"
	fi
	heir=
	for _ in $(seq 100); do
		for p in $heirs; do
			rcli -p "$p" role | tr '\n' ' ' | grep -q "^slave $RIP $victim connected " &&
				{ heir=$p; break 2; }
		done
		sleep 0.1
	done
	[ -n "$heir" ] || fail "no replica in step with master $victim"
	[ "$(role "$victim")" = master ] || fail "$victim is not a master"
	for k in $(seq 0 5); do
		kill -0 "${FOL[$k]}" 2>/dev/null ||
			fail "fo$k was over before the master died: nothing tested"
	done
	for i in 0 1 2; do
		RESYNC[$i]=$(grep -c 'wrote back' "$DIR/n$i.log")
	done
	kill -9 "${RPID[$victim]}"
	killed=$(date +%s%N)
	wait "${RPID[$victim]}" 2>/dev/null
	promoted=0
	for _ in $(seq 200); do
		if [ "$STORE" = sentinel ]; then
			m=$(rcli -p 26390 sentinel get-master-addr-by-name lbm | tr '\n' ' ')
			[ "$m" = "$RIP $heir " ] && [ "$(role "$heir")" = master ] &&
				{ promoted=1; break; }
		else
			[ "$(role "$heir")" = master ] && { promoted=1; break; }
		fi
		sleep 0.1
	done
	[ "$promoted" = 1 ] || fail "replica $heir was not promoted within 20 s"
	say "   master $victim SIGKILLed; replica $heir is master $((($(date +%s%N) - killed) / 1000000)) ms later"
	for k in $(seq 0 5); do sipp_wait "${FOL[$k]}" "fo$k"; done
	for k in 0 1 2; do sipp_wait "${FOC[$k]}" "focall$k"; done
	sort -u "$DIR"/fo?.acks | grep -x 'u[0-9]*' >"$DIR/acked"
	acked=$(wc -l <"$DIR/acked")
	say "   600 REGISTERs: $acked answered 200; 270 calls through $VIP meanwhile: all completed"
	[ "$acked" = 600 ] || fail "$acked of 600 REGISTERs answered 200"
	# Each node followed the new master and wrote its table back to it.
	for i in 0 1 2; do
		for _ in $(seq 200); do
			[ "$(grep -c 'wrote back' "$DIR/n$i.log")" -gt "${RESYNC[$i]}" ] && break
			sleep 0.1
		done
		line=$(grep 'wrote back' "$DIR/n$i.log" | tail -n 1)
		[ "$(grep -c 'wrote back' "$DIR/n$i.log")" -gt "${RESYNC[$i]}" ] ||
			fail "node $i never resynchronised with the new master"
		say "   node $i: ${line#*redis: }"
	done
	USERS=$((USERS + 600))
	# 0 acknowledged registrations lost: in Redis...
	for _ in $(seq 100); do
		keys=$(redis_keys)
		[ "$keys" = $((2 * USERS)) ] && break
		sleep 0.1
	done
	say "   Redis holds $keys keys (2 per AOR: $USERS AORs)"
	[ "$keys" = $((2 * USERS)) ] || fail "Redis holds $keys keys, not $((2 * USERS))"
	if [ "$STORE" = cluster ]; then
		# Spread over the three masters (the promoted replica too).
		per=""
		for p in 6390 6391 6392 6393 6394 6395; do
			kill -0 "${RPID[$p]}" 2>/dev/null || continue
			[ "$(role "$p")" = master ] || continue
			n=$(rcli -p "$p" dbsize)
			per="$per $p:$n"
			[ "$n" -gt 0 ] || fail "master $p holds no key"
		done
		say "   keys per master:$per"
		[ "$(echo "$per" | wc -w)" = 3 ] || fail "masters:$per (not 3)"
	fi
	# ...and on every node (management API, location.dump via sipctl).
	for i in 0 1 2; do
		aors_wait "$i"
		for _ in $(seq 50); do
			in_ns "${N[$i]}" "$SIPCTL" ul show | awk '{ sub(/@lb\.test$/, "", $1); print $1 }' |
				grep -x -F -f "$DIR/acked" | sort -u >"$DIR/has$i"
			[ "$(wc -l <"$DIR/has$i")" = 600 ] && break
			sleep 0.2
		done
		has=$(wc -l <"$DIR/has$i")
		say "   node $i: $has of the 600 acknowledged registrations in its location.dump"
		[ "$has" = 600 ] || fail "node $i lost $((600 - has)) acknowledged registrations"
	done
	# New registrations and calls after the fail-over.
	{
		echo SEQUENTIAL
		for u in $(seq $((FO + 1000)) $((FO + 1059))); do
			echo "u$u;lb.test;10.77.0.2:6000"
		done
	} >"$DIR/new.csv"
	for k in 0 1 2; do
		sipp_c "new$k" "$VIP:5060" -sf "$HERE/lb_reg.xml" -inf "$DIR/new.csv" \
			-m 60 -r 100 -p $((7420 + k)) -t u1
		sipp_wait "$SIPP" "new$k"
	done
	USERS=$((USERS + 60))
	for i in 0 1 2; do aors_wait "$i"; done
	for k in 0 1 2; do
		sipp_c "newcall$k" "$VIP:5060" -sf "$HERE/lb_call.xml" -inf "$DIR/new.csv" \
			-m 60 -r 60 -l 30 -p $((7430 + k)) -t u1
		NC[$k]=$SIPP
	done
	for k in 0 1 2; do sipp_wait "${NC[$k]}" "newcall$k"; done
	say "   60 new users registered after the fail-over: every node holds $USERS AORs; 180 calls to them through $VIP completed"
fi

kill "$UAS" 2>/dev/null
# The nodes stop cleanly (exit 0, and no sanitizer report in a SAN=1
# build).
kill "$CHECKER"
for i in 0 1 2; do
	kill -TERM "${NODE_PID[$i]}"
	wait "${NODE_PID[$i]}"
	rc=$?
	NODE_PID[$i]=0
	[ "$rc" = 0 ] || fail "node $i exited $rc on SIGTERM"
	grep -q 'Sanitizer' "$DIR/n$i.log" && fail "node $i: sanitizer report"
done
say "PASS"
exit 0
