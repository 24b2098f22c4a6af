#!/bin/bash
# tests/integration/nat/nat.sh - a UA behind a real NAT (a network
# namespace this script creates, nftables masquerade inside it) registers
# through sipedge, is called at its public address, gets keep-alives, and
# loses its binding when the namespace is removed (issue #18). Run by
# tests/integration/test_nat.c; by hand, as root, from the repository root:
#   SIPEDGE_BIN=build/sipedge tests/integration/nat/nat.sh
# Exit 0 when every check passed; KEEP=1 keeps the run's directory.
#
# Layout (nothing outside what this script creates is touched):
#
#   root namespace                         namespace U ("behind NAT")
#   bridge b<ID>: 10.200.X.1/30            veth: 10.200.X.2/30 (public side)
#     sipedge on 10.200.X.1:5060 --veth--  dummy: 192.168.77.1 (the UA's
#     management on 127.Y.Z.1:5080           private address), SIPp UA on
#     SIPp caller on 10.200.X.1              192.168.77.1:5060
#                                          nftables: UDP leaving the veth
#                                          is masqueraded to 10.200.X.2,
#                                          ports 20000-29999
#
# The host side of the link is a bridge, so that removing the namespace
# (which takes the veth pair with it) leaves sipedge's address in place:
# its keep-alives then go unanswered, as to a UA that left.
#
# Checks, each bounded in count and time:
#  1. the UA's REGISTER (private Contact 192.168.77.1:5060) is answered
#     200; location.lookup shows the Contact as sent, nat: true, and the
#     source udp:10.200.X.2:PORT with PORT in 20000-29999 (the NAT's).
#  2. a call from the root namespace reaches the UA (its only way in is
#     the NAT mapping of its REGISTER) and completes: 200, ACK, BYE, 200
#     (ACK and BYE follow the UA's Contact, which sipedge rewrote to the
#     public address: nothing reaches 192.168.77.1 from outside).
#  3. keep-alive OPTIONS reach the UA: it answers at least 3.
#  4. the namespace is removed: the binding is gone within 15 s
#     (keepalive.failures 2 unanswered OPTIONS), sipedge logs it and
#     sipedge_nat_dropped_total is 1.
#  5. sipedge stops on SIGTERM with status 0 and no sanitizer report.
set -u

BIN=${SIPEDGE_BIN:?SIPEDGE_BIN must name the sipedge binary}
BIN=$(realpath "$BIN")
HERE=$(cd "$(dirname "$0")" && pwd)
ID=$$
NS=se${ID}nat
BR=b${ID}
VH=v${ID}h
VN=v${ID}n
X=$((ID % 250 + 1))
HOST=10.200.$X.1
PUB=10.200.$X.2
PRIV=192.168.77.1
MGMT=127.$((ID % 200 + 20)).$((ID / 200 % 250)).1:5080
DIR=$(mktemp -d /tmp/sipedge-nat-XXXXXX)
PIDS=()
SE=0
UA=0
WATCHDOG=0

say() { printf '%s nat: %s\n' "$(date +%T.%3N)" "$*"; }
fail() {
	say "FAIL: $*"
	[ -f "$DIR/sipedge.log" ] && { echo "--- sipedge log (tail)"; tail -n 30 "$DIR/sipedge.log"; }
	for f in "$DIR"/*.err; do
		[ -s "$f" ] && { echo "--- $f"; tail -n 15 "$f"; }
	done
	exit 1
}

cleanup() {
	kill "$WATCHDOG" 2>/dev/null
	for p in "${PIDS[@]}" "$SE"; do
		[ "$p" -gt 0 ] 2>/dev/null && kill "$p" 2>/dev/null
	done
	sleep 0.2
	for p in "${PIDS[@]}" "$SE"; do
		[ "$p" -gt 0 ] 2>/dev/null && kill -9 "$p" 2>/dev/null
	done
	# Whatever still runs in our namespace was started here.
	for p in $(ip netns pids "$NS" 2>/dev/null); do
		kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	ip link del "$VH" 2>/dev/null
	ip link del "$BR" 2>/dev/null
	if [ -z "${KEEP:-}" ]; then rm -rf "$DIR"; else say "kept $DIR"; fi
}
trap cleanup EXIT
trap 'say "FAIL: stopped by a signal"; exit 1' INT TERM
# Bounded as a whole: whatever happens, the run ends (and cleans up)
# within NAT_LIMIT_S seconds.
# Its sleep is killed with it and holds no output open (else whoever
# reads our output would wait for the sleep to end).
(
	trap 'kill "$s" 2>/dev/null; exit 0' TERM
	sleep "${NAT_LIMIT_S:-90}" &
	s=$!
	wait "$s" && kill -TERM $$
) >/dev/null 2>&1 &
WATCHDOG=$!

in_ns() { ip netns exec "$NS" "$@"; }

topology() {
	ip -4 addr show | grep -q "inet 10\.200\.$X\." &&
		fail "10.200.$X.0/30 is in use on this host"
	ip netns add "$NS" || fail "ip netns add $NS"
	in_ns ip link set lo up
	ip link add "$BR" type bridge || fail "bridge"
	ip addr add "$HOST/30" dev "$BR"
	ip link set "$BR" up
	ip link add "$VH" type veth peer name "$VN" || fail "veth"
	ip link set "$VH" master "$BR"
	ip link set "$VH" up
	ip link set "$VN" netns "$NS"
	in_ns ip addr add "$PUB/30" dev "$VN"
	in_ns ip link set "$VN" up
	in_ns ip route add default via "$HOST"
	# The private address on the namespace's loopback device (no dummy
	# module needed): the UA's packets leave by the veth all the same.
	in_ns ip addr add "$PRIV/32" dev lo
	in_ns nft -f - <<EOF || fail "nft"
table ip nat {
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "$VN" meta l4proto udp masquerade to :20000-29999
	}
}
EOF
}

conf() {
	cat >"$DIR/sipedge.yaml" <<EOF
workers: 2
log_level: info
listen:
  - address: "$HOST"
    port: 5060
    transports: [udp]
domains: [nat.test]
registrar:
  trusted: [10.200.$X.0/30]
management:
  listen: ["$MGMT"]
proxy:
  t1_ms: 50
nat:
  keepalive:
    method: options
    interval_s: 1
    failures: 2
EOF
}

rpc() { # method params-json -> the response
	curl -s --max-time 2 -H 'Content-Type: application/json' \
		-d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":$2}" \
		"http://$MGMT/rpc"
}

metric() { # name: the value of sipedge_NAME (0 when absent)
	curl -s --max-time 2 "http://$MGMT/metrics" |
		awk -v m="sipedge_$1" '$1 == m { v = $2 } END { print v + 0 }'
}

sipedge_start() {
	"$BIN" -c "$DIR/sipedge.yaml" >>"$DIR/sipedge.log" 2>&1 &
	SE=$!
	for _ in $(seq 100); do
		curl -s -o /dev/null --max-time 1 "http://$MGMT/health" && return 0
		kill -0 "$SE" 2>/dev/null || fail "sipedge exited"
		sleep 0.1
	done
	fail "sipedge never answered /health"
}

sipp_run() { # name ns-or-"" args... (background; pid in SIPP)
	local name=$1 ns=$2
	shift 2
	if [ -n "$ns" ]; then
		ip netns exec "$ns" sipp -nostdin -timeout 60s -timeout_error \
			-trace_err -error_file "$DIR/$name.err" \
			-trace_msg -message_file "$DIR/$name.msg" "$@" \
			>"$DIR/$name.out" 2>&1 &
	else
		sipp -nostdin -timeout 60s -timeout_error \
			-trace_err -error_file "$DIR/$name.err" \
			-trace_msg -message_file "$DIR/$name.msg" "$@" \
			>"$DIR/$name.out" 2>&1 &
	fi
	SIPP=$!
	PIDS+=($SIPP)
}

sipp_wait() { # pid name: exit status 0 or fail
	wait "$1"
	local rc=$?
	[ "$rc" = 0 ] || fail "sipp $2 exited $rc"
}

count() { # file pattern: the lines that match (0 when none)
	local n
	n=$(grep -c -- "$2" "$1" 2>/dev/null)
	echo "${n:-0}"
}

# --- the run ------------------------------------------------------------
command -v nft >/dev/null || fail "nft is not installed (scripts/install-deps.sh)"
command -v sipp >/dev/null || fail "sipp is not installed"
command -v curl >/dev/null || fail "curl is not installed"

say "topology in $DIR: sipedge $HOST, UA $PRIV behind $PUB"
topology
conf
sipedge_start

# 1. The REGISTER from behind the NAT (SIPp UAC, private Contact), then
#    the UA (SIPp UAS) on the same private address and port: the NAT
#    mapping the REGISTER made is its way in.
say "1. REGISTER natuser@nat.test from $PRIV:5060"
sipp_run reg "$NS" -sf "$HERE/nat_reg.xml" -i "$PRIV" -p 5060 -m 1 \
	-s natuser -key domain nat.test "$HOST:5060"
sipp_wait "$SIPP" reg
sipp_run ua "$NS" -sf "$HERE/nat_ua.xml" -i "$PRIV" -p 5060 \
	-s natuser -key domain nat.test "$HOST:5060"
UA=$SIPP
B=$(rpc location.lookup '["natuser@nat.test"]')
echo "$B" | grep -q "\"contact\": *\"sip:natuser@$PRIV:5060\"" ||
	fail "location.lookup: the Contact is not as sent: $B"
echo "$B" | grep -q '"nat": *true' || fail "location.lookup: not nat: $B"
SRC=$(echo "$B" | grep -o "\"source\": *\"udp:$PUB:[0-9]*\"" |
	grep -o '[0-9]*"$' | tr -d '"')
[ -n "$SRC" ] && [ "$SRC" -ge 20000 ] && [ "$SRC" -le 29999 ] ||
	fail "location.lookup: the source is not the NAT's $PUB:20000-29999: $B"
say "1. PASS: bound to $PRIV:5060, reached at $PUB:$SRC (nat)"

# 2. A call from outside: it can reach the UA only at $PUB:$SRC.
say "2. call natuser from $HOST"
sipp_run caller "" -sf "$HERE/../sipp/uac_call.xml" -i "$HOST" -m 1 \
	-s natuser -key domain nat.test "$HOST:5060"
sipp_wait "$SIPP" caller
[ "$(count "$DIR/ua.msg" '^INVITE sip:natuser@')" -ge 1 ] ||
	fail "the UA saw no INVITE"
[ "$(count "$DIR/ua.msg" '^BYE sip:natuser@')" -ge 1 ] ||
	fail "the UA saw no BYE"
# The caller's ACK and BYE went to the rewritten Contact.
grep -q "^Contact: <sip:natuser@$PUB:$SRC>" "$DIR/caller.msg" ||
	fail "the 200 the caller got names no public Contact"
say "2. PASS: the call reached the UA at its public address and ended"

# 3. Keep-alives: OPTIONS every second reach the UA.
say "3. keep-alives"
for _ in $(seq 60); do
	[ "$(count "$DIR/ua.msg" '^OPTIONS sip:natuser@')" -ge 3 ] && break
	sleep 0.1
done
N=$(count "$DIR/ua.msg" '^OPTIONS sip:natuser@')
[ "$N" -ge 3 ] || fail "the UA answered $N keep-alives, not 3"
[ "$(metric nat_keepalives_total)" -ge 3 ] ||
	fail "sipedge_nat_keepalives_total is $(metric nat_keepalives_total)"
say "3. PASS: $N keep-alive OPTIONS reached the UA"

# 4. The UA's network goes away.
say "4. remove the namespace"
kill "$UA" 2>/dev/null
wait "$UA" 2>/dev/null
ip netns del "$NS" || fail "ip netns del"
T0=$(date +%s%N)
GONE=0
for _ in $(seq 150); do
	if rpc location.lookup '["natuser@nat.test"]' | grep -q '"error"'; then
		GONE=1
		break
	fi
	sleep 0.1
done
T1=$(date +%s%N)
[ "$GONE" = 1 ] || fail "the binding is still there 15 s after the UA left"
grep -q "nat: natuser@nat.test: binding sip:natuser@$PRIV:5060 removed after 2 failed keep-alives" \
	"$DIR/sipedge.log" || fail "no log line for the removal"
[ "$(metric nat_dropped_total)" = 1 ] ||
	fail "sipedge_nat_dropped_total is $(metric nat_dropped_total)"
say "4. PASS: binding dropped $(((T1 - T0) / 1000000)) ms after the namespace went"
# 5. sipedge stops cleanly (under SAN=1: no sanitizer report, no leak).
kill -TERM "$SE"
RC=
for _ in $(seq 100); do
	kill -0 "$SE" 2>/dev/null || { wait "$SE"; RC=$?; break; }
	sleep 0.1
done
[ -n "$RC" ] || fail "sipedge did not stop within 10 s of SIGTERM"
SE=0
grep -qE "Sanitizer|runtime error" "$DIR/sipedge.log" &&
	fail "a sanitizer report in the log"
[ "$RC" = 0 ] || fail "sipedge exited $RC"
say "5. PASS: sipedge stopped cleanly"
say "PASS"
