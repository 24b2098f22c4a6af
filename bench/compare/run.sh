#!/bin/bash
# bench/compare/run.sh - side by side, in one run: the generators (sipload
# against SIPp, caller and callee each, no proxy) and the proxies (sipedge
# against Kamailio, both driven by sipload). Prints markdown tables and
# writes them into docs/benchmarks.md between marker comments, so that a
# rerun replaces them.
#
#   bench/compare/run.sh BUILD_DIR_ABS          (what make bench-compare runs)
#
# Knobs (environment, defaults in brackets):
#   GEN_RATES ["1000 2000 4000"]  equal offered rates for the generators
#   GEN_SECONDS [4]               seconds of calls per measurement
#   HOLD_MS [1000]                call hold time (ACK to BYE)
#   SEARCH_SECONDS [3] SEARCH_STEPS [6] SEARCH_START [16000]
#                                 highest clean rate: steps of that length,
#                                 doubling from the start until a step
#                                 fails, then halving the interval
#   WORKERS_LIST ["1 2"]          sipedge threads = Kamailio children; the
#                                 proxy part runs once per entry (its own
#                                 rounds and searches) and the tables get
#                                 a workers column. WORKERS=N alone still
#                                 means WORKERS_LIST=N.
#   PROXY_SCENARIOS ["register call call-tcp call-digest"]  the proxy
#                                 rows: register (no authentication),
#                                 call (UDP), call-tcp (caller and callee
#                                 over TCP), call-digest (UDP, every new
#                                 INVITE challenged with a 407 and sent
#                                 again with Proxy-Authorization)
#   PROXY_CALL_RATES ["500 1000 2000 4000"]  PROXY_REG_RATES ["2000 5000"]
#   PROXY_TCP_RATES ["1000 4000"] PROXY_DIGEST_RATES ["1000 4000"]
#   PROXY_SECONDS [3] PROXY_ROUNDS [2]  rounds of A,B (sipedge, Kamailio)
#   PROXY_SEARCH [1]              0: no highest-clean-rate search (it
#                                 runs for register and call only)
#   SEARCH_P99_MS [100]           the proxies' highest clean rate also
#                                 wants p99 to the final response within
#                                 this (a step queued in socket buffers
#                                 and answered late is not clean)
#   COMPARE_SKIP_PROXY [0]        1: the generator part only
#   COMPARE_SKIP_GEN [0]          1: the proxy part only (the generator
#                                 table in the doc is left as it is)
#   COMPARE_DOC [docs/benchmarks.md]  where the tables go (the plot beside:
#                                 compare-latency.png, p99 of each round,
#                                 one panel per worker count, axes from 0)
#
# CPU is utime + stime (+ reaped children) of each process from
# /proc/PID/stat, summed over every process of a program (Kamailio forks
# its workers), as ../shared/BENCHMARKING.md says. Every loop is bounded
# and every process is stopped by its PID. Loopback only.
set -u

BUILD=${1:?usage: bench/compare/run.sh BUILD_DIR_ABS}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SIPLOAD=$BUILD/sipload
SIPEDGE=$BUILD/sipedge
DOC=${COMPARE_DOC:-$ROOT/docs/benchmarks.md}
SIPP_DIR=$ROOT/bench/sipp
KAM_CFG=$ROOT/bench/compare/kamailio.cfg

GEN_RATES=${GEN_RATES:-"1000 2000 4000"}
GEN_SECONDS=${GEN_SECONDS:-4}
HOLD_MS=${HOLD_MS:-1000}
SEARCH_SECONDS=${SEARCH_SECONDS:-3}
SEARCH_STEPS=${SEARCH_STEPS:-6}
SEARCH_START=${SEARCH_START:-16000}
WORKERS_LIST=${WORKERS_LIST:-${WORKERS:-"1 2"}}
WORKERS=""
PROXY_CALL_RATES=${PROXY_CALL_RATES:-"500 1000 2000 4000"}
PROXY_REG_RATES=${PROXY_REG_RATES:-"2000 5000"}
PROXY_TCP_RATES=${PROXY_TCP_RATES:-"1000 4000"}
PROXY_DIGEST_RATES=${PROXY_DIGEST_RATES:-"1000 4000"}
PROXY_SCENARIOS=${PROXY_SCENARIOS:-"register call call-tcp call-digest"}
PROXY_SECONDS=${PROXY_SECONDS:-3}
PROXY_ROUNDS=${PROXY_ROUNDS:-2}
PROXY_SEARCH=${PROXY_SEARCH:-1}
SEARCH_P99_MS=${SEARCH_P99_MS:-100}
COMPARE_SKIP_PROXY=${COMPARE_SKIP_PROXY:-0}
COMPARE_SKIP_GEN=${COMPARE_SKIP_GEN:-0}

HZ=$(getconf CLK_TCK)
HOLD_S=$(((HOLD_MS + 999) / 1000))
WORK=$(mktemp -d /tmp/sipedge-compare.XXXXXX)
PIDS=""
T_START=$(date +%s)

log() {
	echo "compare: $*" >&2
}

. "$ROOT/bench/lib.sh"

track() {
	PIDS="$PIDS $1"
}

untrack() {
	local p out=""

	for p in $PIDS; do
		[ "$p" = "$1" ] || out="$out $p"
	done
	PIDS=$out
}

# Wait at most $2 seconds for process $1, then kill it; its exit status.
wait_pid() {
	local pid=$1 limit=$(($2 * 10)) i=0 rc

	while kill -0 "$pid" 2>/dev/null && [ $i -lt $limit ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "process $pid still running after $2 s: killed"
		kill -9 "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	rc=$?
	untrack "$pid"
	return $rc
}

# Stop process $1 with SIGTERM (then SIGKILL after 10 s).
stop_pid() {
	kill "$1" 2>/dev/null
	wait_pid "$1" 10
}

# ---- CPU from /proc ----

# Ticks (utime + stime + cutime + cstime) of PID and its direct children
# (Kamailio's workers are children of its main process). The command
# name may hold spaces: fields are counted after its ") ".
tree_ticks() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v pid="$1" '{
		i = index($0, ") ")
		if (!i)
			next
		split(substr($0, i + 2), a, " ")
		if ($1 == pid || a[2] == pid)
			t += a[12] + a[13] + a[14] + a[15]
	} END { printf "%d\n", t }'
}

# Ticks of one process (all its threads, reaped children).
pid_ticks() {
	sed 's/^[0-9]* (.*) //' "/proc/$1/stat" 2>/dev/null |
		awk '{ printf "%d\n", $12 + $13 + $14 + $15 }'
}

# Sample PID's ticks into FILE every 50 ms until it is gone.
cpu_watch() {
	local pid=$1 f=$2 v

	echo 0 > "$f"
	while [ -r "/proc/$pid/stat" ]; do
		v=$(pid_ticks "$pid")
		[ -n "$v" ] && echo "$v" > "$f"
		sleep 0.05
	done
}

# Microseconds per operation: ticks, operations.
us_per() {
	awk -v t="$1" -v n="$2" -v hz="$HZ" \
		'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / hz / n; else print "-" }'
}

json_num() {
	sed -n "s/.*\"$1\":\([-0-9.e]*\).*/\1/p" "$2" | head -1
}

# The last row's value of column $1 in SIPp's ';' statistics file $2.
sipp_stat() {
	awk -F';' -v col="$1" '
		NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i }
		NF > 1 { last = $c }
		END { print last + 0 }' "$2" 2>/dev/null
}

now() {
	date +%s.%N
}

elapsed() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'
}

# ---- set-up ----

install_deps() {
	local missing=""

	command -v kamailio >/dev/null 2>&1 || missing="$missing kamailio"
	command -v gnuplot >/dev/null 2>&1 || missing="$missing gnuplot-nox"
	command -v sipp >/dev/null 2>&1 || missing="$missing sip-tester"
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		log "missing:$missing (run as root to install them)"
		return 0
	fi
	log "installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends $missing >"$WORK/apt.log" 2>&1 ||
		{ apt-get update >>"$WORK/apt.log" 2>&1 &&
		  apt-get install -y --no-install-recommends $missing \
			>>"$WORK/apt.log" 2>&1; } ||
		log "apt-get failed: $(tail -3 "$WORK/apt.log")"
}

machine() {
	local cpu

	cpu=$(sed -n 's/^model name[^:]*: *//p' /proc/cpuinfo | head -1)
	echo "$(nproc) CPUs ($cpu), $(uname -sr), $(awk '/MemTotal/ {
		printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
}

# ---- generators: one measurement ----
# Sets R_OK R_FAIL R_UAC R_UAS (ticks) R_ELAPSED R_CLEAN.

# $3: seconds to wait for the callee after the caller (its CPU counts).
gen_sipload() {
	local rate=$1 secs=$2 n=$(($1 * $2)) pu pid_uas pid_uac t0 t1 rc
	local conc=$(($1 * (HOLD_S + 2) + 1000))

	pu=$(free_port) || return 1
	"$SIPLOAD" --role uas -l "127.0.0.1:$pu" -n "$n" \
		-d $((secs + HOLD_S + 30)) -c "$conc" --json --no-progress \
		>"$WORK/uas.json" 2>"$WORK/uas.err" &
	pid_uas=$!
	track $pid_uas
	cpu_watch $pid_uas "$WORK/uas.cpu" &
	sleep 0.3
	t0=$(now)
	"$SIPLOAD" -s call -t "127.0.0.1:$pu" -r "$rate" -n "$n" \
		--hold "$HOLD_MS" -c "$conc" --drain $((HOLD_S + 5)) \
		--json --no-progress \
		>"$WORK/uac.json" 2>"$WORK/uac.err" &
	pid_uac=$!
	track $pid_uac
	cpu_watch $pid_uac "$WORK/uac.cpu" &
	wait_pid $pid_uac $((secs + HOLD_S + 60))
	rc=$?
	t1=$(now)
	wait_pid $pid_uas "${3:-10}"
	wait
	R_ELAPSED=$(elapsed "$t0" "$t1")
	R_OK=$(json_num succeeded "$WORK/uac.json")
	R_FAIL=$(json_num failed "$WORK/uac.json")
	R_OK=${R_OK:-0}
	R_FAIL=${R_FAIL:-$n}
	R_UAC=$(cat "$WORK/uac.cpu")
	R_UAS=$(cat "$WORK/uas.cpu")
	R_CLEAN=0
	if [ "$rc" = 0 ] && [ "$R_OK" = "$n" ] && [ "$R_FAIL" = 0 ] &&
	   awk -v e="$R_ELAPSED" -v s="$secs" -v h="$HOLD_S" \
		'BEGIN { exit !(e <= s * 1.05 + h + 1.5) }'; then
		R_CLEAN=1
	fi
}

gen_sipp() {
	local rate=$1 secs=$2 n=$(($1 * $2)) pu pc pid_uas pid_uac t0 t1 rc
	local limit=$((secs + HOLD_S + ${4:-10}))

	pu=$(free_port) || return 1
	pc=$(free_port) || return 1
	rm -f "$WORK/sipp.csv"
	(cd "$WORK" && exec sipp -sf "$SIPP_DIR/uas_call.xml" -i 127.0.0.1 \
		-p "$pu" -m "$n" -buff_size 4194304 -nostdin \
		-timeout "${limit}s" >"$WORK/sipp-uas.log" 2>&1) &
	pid_uas=$!
	track $pid_uas
	cpu_watch $pid_uas "$WORK/uas.cpu" &
	sleep 0.3
	t0=$(now)
	(cd "$WORK" && exec sipp -sf "$SIPP_DIR/uac_call.xml" -s uas \
		"127.0.0.1:$pu" -i 127.0.0.1 -p "$pc" -r "$rate" -m "$n" \
		-d "$HOLD_MS" -buff_size 4194304 -nostdin -timeout "${limit}s" \
		-trace_stat -stf sipp.csv >"$WORK/sipp-uac.log" 2>&1) &
	pid_uac=$!
	track $pid_uac
	cpu_watch $pid_uac "$WORK/uac.cpu" &
	wait_pid $pid_uac $((limit + 5))
	rc=$?
	t1=$(now)
	wait_pid $pid_uas "${3:-10}"
	wait
	R_ELAPSED=$(elapsed "$t0" "$t1")
	R_OK=$(sipp_stat 'SuccessfulCall(C)' "$WORK/sipp.csv")
	R_FAIL=$(sipp_stat 'FailedCall(C)' "$WORK/sipp.csv")
	R_OK=${R_OK:-0}
	R_FAIL=${R_FAIL:-$n}
	R_UAC=$(cat "$WORK/uac.cpu")
	R_UAS=$(cat "$WORK/uas.cpu")
	R_CLEAN=0
	if [ "$rc" = 0 ] && [ "$R_OK" = "$n" ] && [ "$R_FAIL" = 0 ] &&
	   awk -v e="$R_ELAPSED" -v s="$secs" -v h="$HOLD_S" \
		'BEGIN { exit !(e <= s * 1.05 + h + 1.5) }'; then
		R_CLEAN=1
	fi
}

# Highest clean rate of generator $1 (sipload|sipp): bounded steps.
gen_search() {
	local gen=$1 rate=$SEARCH_START best=0 bad=0 i next

	for i in $(seq 1 "$SEARCH_STEPS"); do
		# A step that fails is cut short: 3 s to spare after the
		# calls and their hold.
		"gen_$gen" "$rate" "$SEARCH_SECONDS" 3 3
		log "$gen search step $i: $rate calls/s clean=$R_CLEAN" \
			"ok=$R_OK failed=$R_FAIL ${R_ELAPSED}s"
		if [ "$R_CLEAN" = 1 ]; then
			[ "$rate" -gt "$best" ] && best=$rate
			if [ "$bad" = 0 ]; then
				next=$((rate * 2))
			else
				next=$(((best + bad) / 2))
			fi
		else
			{ [ "$bad" = 0 ] || [ "$rate" -lt "$bad" ]; } && bad=$rate
			if [ "$best" -gt 0 ]; then
				next=$(((best + bad) / 2))
			else
				next=$((rate / 2))
			fi
		fi
		if [ "$best" -gt 0 ] && [ "$bad" -gt 0 ] &&
		   [ $(((bad - best) * 20)) -le "$best" ]; then
			break
		fi
		[ "$next" -lt 100 ] && break
		rate=$next
		sleep 0.5
	done
	SEARCH_BEST=$best
	SEARCH_BAD=$bad
}

gen_part() {
	local i=0 rate gen row su sp ratio g1 g2 sl_best sl_bad sp_best sp_bad

	GEN_TABLE="| offered calls/s | sipload µs/call (UAC + UAS) | SIPp µs/call (UAC + UAS) | sipload / SIPp | sipload ok / failed | SIPp ok / failed |
|---|---|---|---|---|---|"
	for rate in $GEN_RATES; do
		# Alternate which generator goes first (A,B then B,A).
		if [ $((i % 2)) = 0 ]; then g1=sipload g2=sipp; else g1=sipp g2=sipload; fi
		for gen in $g1 $g2; do
			"gen_$gen" "$rate" "$GEN_SECONDS"
			eval "${gen}_uac=$R_UAC ${gen}_uas=$R_UAS" \
				"${gen}_ok=$R_OK ${gen}_fail=$R_FAIL"
			log "$gen $rate calls/s: ok=$R_OK failed=$R_FAIL" \
				"cpu uac=$R_UAC uas=$R_UAS ticks ${R_ELAPSED}s"
			sleep 0.5
		done
		su=$(us_per $((sipload_uac + sipload_uas)) "$sipload_ok")
		sp=$(us_per $((sipp_uac + sipp_uas)) "$sipp_ok")
		ratio=$(awk -v a="$su" -v b="$sp" \
			'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "-" }')
		row="| $rate | $su ($(us_per "$sipload_uac" "$sipload_ok") + $(us_per "$sipload_uas" "$sipload_ok")) | $sp ($(us_per "$sipp_uac" "$sipp_ok") + $(us_per "$sipp_uas" "$sipp_ok")) | $ratio | $sipload_ok / $sipload_fail | $sipp_ok / $sipp_fail |"
		GEN_TABLE="$GEN_TABLE
$row"
		i=$((i + 1))
	done
	gen_search sipload
	sl_best=$SEARCH_BEST sl_bad=$SEARCH_BAD
	gen_search sipp
	sp_best=$SEARCH_BEST sp_bad=$SEARCH_BAD
	GEN_BEST="Highest rate with every call successful (steps of ${SEARCH_SECONDS} s from ${SEARCH_START} calls/s, at most ${SEARCH_STEPS} steps): sipload **${sl_best} calls/s**$( [ "$sl_bad" -gt 0 ] && echo " (${sl_bad}/s failed)" || echo " (no step failed: at least this)"), SIPp **${sp_best} calls/s**$( [ "$sp_bad" -gt 0 ] && echo " (${sp_bad}/s failed)" || echo " (no step failed: at least this)")."
}

# ---- proxies ----

PROXY_PID=""
PROXY_PORT=""
UAS_PORT=""

# The users file of call-digest: callers 1000-1099 and callees
# 2000-2099 of realm localhost, password = user name (sipload's default
# --password %u), MD5 HA1 only (sipedge's default algorithms: [md5]).
make_users() {
	local u

	[ -s "$WORK/users" ] && return 0
	for u in $(seq 1000 1099) $(seq 2000 2099); do
		printf '%s@localhost md5:%s\n' "$u" \
			"$(printf '%s:localhost:%s' "$u" "$u" | md5sum |
				cut -d' ' -f1)"
	done >"$WORK/users"
}

# sipedge in mode $1: plain (register, call, call-tcp; loopback is
# trusted, so nothing is challenged) or digest (call-digest: no source
# trusted, a users file, every new INVITE challenged; the default
# auth_methods, which leave BYE and in-dialog requests alone).
start_sipedge() {
	local mode=${1:-plain}

	PROXY_PORT=$(free_port) || return 1
	cat >"$WORK/sipedge.yaml" <<YAML
workers: $WORKERS
log_level: warn
listen:
  - address: 127.0.0.1
    port: $PROXY_PORT
domains: [localhost]
# no management API: nothing here needs it, and 5080 may be taken
management:
  listen: []
YAML
	if [ "$mode" = digest ]; then
		make_users
		cat >>"$WORK/sipedge.yaml" <<YAML
registrar:
  trusted: []
  users_file: $WORK/users
YAML
	fi
	"$SIPEDGE" -c "$WORK/sipedge.yaml" >"$WORK/sipedge.log" 2>&1 &
	PROXY_PID=$!
	track $PROXY_PID
	wait_ready && proxy_prepare "$mode"
}

# Kamailio with the fast allocator and as many children as sipedge has
# workers, on its own port, in the foreground so that $! is its PID.
# Mode $1 as start_sipedge's: digest defines WITH_AUTH in kamailio.cfg.
start_kamailio() {
	local mode=${1:-plain} def=""

	[ "$mode" = digest ] && def="-A WITH_AUTH"
	mkdir -p "$WORK/kam"
	PROXY_PORT=$(free_port) || return 1
	kamailio -f "$KAM_CFG" $def -DD -E -x fm -X fm -m 512 -M 32 \
		-n "$WORKERS" -l "udp:127.0.0.1:$PROXY_PORT" \
		-l "tcp:127.0.0.1:$PROXY_PORT" -Y "$WORK/kam" -w "$WORK/kam" \
		>"$WORK/kamailio.log" 2>&1 &
	PROXY_PID=$!
	track $PROXY_PID
	wait_ready && proxy_prepare "$mode"
}

# One callee port per proxy instance, its users registered once: a new
# contact each run would make the proxy fork to the dead ones. Callees
# 2000-2099 answer over UDP; 3000-3099 (call-tcp) over TCP on the same
# port number: registered over UDP with ";transport=tcp" in the Contact,
# so that both proxies open a TCP connection to the callee (a contact
# registered over TCP would be reached over the registering connection,
# which is gone when that sipload exits). Mode $1: the TCP callees
# only in plain mode (digest mode's users file has 2000-2099 only).
proxy_prepare() {
	UAS_PORT=$(free_port) || return 1
	register_callees "$UAS_PORT" 2000 "" || return 1
	if [ "$1" = plain ] && in_list call-tcp "$PROXY_SCENARIOS"; then
		register_callees "$UAS_PORT" 3000 ";transport=tcp"
	fi
}

# Is word $1 in the list $2?
in_list() {
	case " $2 " in
	*" $1 "*) return 0 ;;
	esac
	return 1
}

stop_proxy() {
	[ -n "$PROXY_PID" ] && stop_pid "$PROXY_PID"
	PROXY_PID=""
}

# Bounded: OPTIONS until the proxy answers (about 10 s).
wait_ready() {
	local i

	for i in $(seq 1 50); do
		if ! kill -0 "$PROXY_PID" 2>/dev/null; then
			return 1
		fi
		if "$SIPLOAD" -s options -t "127.0.0.1:$PROXY_PORT" -n 1 \
			--t1 50 --no-progress >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

# Register callees $2..$2+99 at the proxy, contact the UAS port $1 with
# the URI parameters $3. Over UDP; sipload answers a 401 (digest mode).
register_callees() {
	"$SIPLOAD" -s register -t "127.0.0.1:$PROXY_PORT" --domain localhost \
		-u "$2-$(($2 + 99))" --contact "127.0.0.1:$1$3" \
		--expires 3600 -n 100 -r 1000 --no-progress --json \
		>"$WORK/callees.json" 2>&1
}

# Can the proxy route a call? sets CAN_CALL and CAN_CALL_WHY.
probe_calls() {
	local ok

	"$SIPLOAD" -s call --role both -l "127.0.0.1:$UAS_PORT" \
		-t "127.0.0.1:$PROXY_PORT" --domain localhost --callee 2000 \
		-n 1 --t1 100 --json --no-progress >"$WORK/probe.json" 2>&1
	ok=$(json_num succeeded "$WORK/probe.json")
	CAN_CALL_WHY=$(sed -n 's/.*"failures":{\([^}]*\)}.*/\1/p' \
		"$WORK/probe.json")
	[ "${ok:-0}" = 1 ] && CAN_CALL=1 || CAN_CALL=0
}

# One proxied run: scenario $1 at rate $2 through the running proxy.
# Sets P_OK P_FAIL P_TICKS P_P50 P_P99 (µs), P_CHAL (407s answered) and
# P_TCP (established TCP connections at the proxy's port, half-way).
proxy_run() {
	local scen=$1 rate=$2 n=$(($2 * PROXY_SECONDS)) before after pid
	local conc=$(($2 * (HOLD_S + 2) + 1000))
	local -a extra=()

	before=$(tree_ticks "$PROXY_PID")
	if [ "$scen" = register ]; then
		# New users every run: each REGISTER creates a binding.
		REG_BASE=$((REG_BASE + 100000))
		"$SIPLOAD" -s register -t "127.0.0.1:$PROXY_PORT" \
			--domain localhost -u "$REG_BASE-$((REG_BASE + n - 1))" \
			-r "$rate" -n "$n" -c "$conc" --json --no-progress \
			>"$WORK/p.json" 2>"$WORK/p.err" &
	else
		# call: UDP, callees 2000-2099 (from "sipload"); call-tcp:
		# TCP both ways, callees 3000-3099; call-digest: callers
		# 1000-1099, password = user name.
		case $scen in
		call-tcp) extra=(--transport tcp --callee 3000-3099) ;;
		call-digest) extra=(-u 1000-1099 --callee 2000-2099) ;;
		*) extra=(--callee 2000-2099) ;;
		esac
		"$SIPLOAD" -s call --role both -l "127.0.0.1:$UAS_PORT" \
			-t "127.0.0.1:$PROXY_PORT" --domain localhost \
			"${extra[@]}" -r "$rate" -n "$n" --hold "$HOLD_MS" \
			-c "$conc" --json --no-progress \
			>"$WORK/p.json" 2>"$WORK/p.err" &
	fi
	pid=$!
	track $pid
	P_TCP=-
	if [ "$scen" = call-tcp ] && command -v ss >/dev/null 2>&1; then
		sleep $(((PROXY_SECONDS + 1) / 2))
		P_TCP=$(ss -Htn state established \
			"( sport = :$PROXY_PORT or dport = :$UAS_PORT )" |
			wc -l)
	fi
	wait_pid $pid $((PROXY_SECONDS + HOLD_S + 60))
	after=$(tree_ticks "$PROXY_PID")
	P_TICKS=$((after - before))
	P_OK=$(json_num succeeded "$WORK/p.json")
	P_FAIL=$(json_num failed "$WORK/p.json")
	P_OK=${P_OK:-0}
	P_FAIL=${P_FAIL:-$n}
	P_P50=$(sed -n 's/.*"final":{[^}]*"p50":\([0-9]*\).*/\1/p' "$WORK/p.json")
	P_P99=$(sed -n 's/.*"final":{[^}]*"p99":\([0-9]*\).*/\1/p' "$WORK/p.json")
	P_CHAL=$(json_num challenges "$WORK/p.json")
}

# The rates of scenario $1.
scen_rates() {
	case $1 in
	register) echo "$PROXY_REG_RATES" ;;
	call-tcp) echo "$PROXY_TCP_RATES" ;;
	call-digest) echo "$PROXY_DIGEST_RATES" ;;
	*) echo "$PROXY_CALL_RATES" ;;
	esac
}

# The proxy mode scenario $1 needs (start_sipedge, start_kamailio).
scen_mode() {
	[ "$1" = call-digest ] && echo digest || echo plain
}

# Highest clean rate of the running proxy for scenario $1 (sipload
# --search, bounded steps).
proxy_search() {
	local scen=$1 extra

	if [ "$scen" = register ]; then
		REG_BASE=$((REG_BASE + 1000000))
		extra="-u $REG_BASE-$((REG_BASE + 899999))"
		"$SIPLOAD" -s register -t "127.0.0.1:$PROXY_PORT" \
			--domain localhost $extra --search -r 4000 \
			--search-step 2 --search-steps 6 --search-max 200000 \
			--search-p99 "$SEARCH_P99_MS" \
			-c 100000 --json --no-progress >"$WORK/s.json" 2>&1 &
	else
		"$SIPLOAD" -s call --role both -l "127.0.0.1:$UAS_PORT" \
			-t "127.0.0.1:$PROXY_PORT" --domain localhost \
			--callee 2000-2099 --hold "$HOLD_MS" --search -r 2000 \
			--search-step 2 --search-steps 6 --search-max 100000 \
			--search-p99 "$SEARCH_P99_MS" \
			-c 300000 --json --no-progress >"$WORK/s.json" 2>&1 &
	fi
	track $!
	wait_pid $! 120
	S_BEST=$(json_num best_rate "$WORK/s.json")
	S_BEST=$(awk -v b="${S_BEST:-0}" 'BEGIN { printf "%.0f", b }')
}

proxy_part() {
	local round proxy scen rate key v i w mode
	local -A tick ok fail lat p99r best chal tcpc

	REG_BASE=1000000
	PROXY_TABLE=""
	PROXY_NOTE=""
	# Kamailio starts with our configuration and answers OPTIONS.
	if ! command -v kamailio >/dev/null 2>&1; then
		PROXY_NOTE="Kamailio is not installed: proxy comparison skipped."
		return 0
	fi
	WORKERS=${WORKERS_LIST%% *}
	if start_kamailio; then
		KAM_OK="Kamailio $(kamailio -v 2>/dev/null | sed -n 's/^version: kamailio \([^ ]*\).*/\1/p') starts with bench/compare/kamailio.cfg and answers OPTIONS."
	else
		KAM_OK="Kamailio did not start with bench/compare/kamailio.cfg: $(tail -3 "$WORK/kamailio.log" | tr '\n' ' ')"
		stop_proxy
		PROXY_NOTE="$KAM_OK Proxy comparison skipped."
		return 0
	fi
	stop_proxy
	# sipedge: only once it proxies calls (a test INVITE gets its 200).
	if ! start_sipedge; then
		PROXY_NOTE="$KAM_OK sipedge did not start: proxy comparison skipped."
		stop_proxy
		return 0
	fi
	probe_calls
	stop_proxy
	if [ "$CAN_CALL" != 1 ]; then
		PROXY_NOTE="$KAM_OK sipedge cannot proxy calls yet: skipped (test INVITE: ${CAN_CALL_WHY:-no answer})."
		return 0
	fi
	# Per worker count: A,B,A,B, each round starts each proxy afresh.
	for w in $WORKERS_LIST; do
		WORKERS=$w
		for round in $(seq 1 "$PROXY_ROUNDS"); do
			for proxy in sipedge kamailio; do
				# A proxy instance per mode: plain, then
				# digest (authentication on).
				for mode in plain digest; do
					local todo=""
					for scen in $PROXY_SCENARIOS; do
						[ "$(scen_mode "$scen")" = $mode ] &&
							todo="$todo $scen"
					done
					[ -n "$todo" ] || continue
					"start_$proxy" $mode || {
						log "$proxy ($mode) did not start"
						stop_proxy
						continue
					}
					for scen in $todo; do
						proxy_cells "$w" "$round" \
							"$proxy" "$scen"
					done
					stop_proxy
					sleep 0.5
				done
			done
		done
		# Highest clean rates: a fresh proxy for each search (a
		# table of hundreds of thousands of bindings would weigh on
		# the next one).
		[ "$PROXY_SEARCH" = 1 ] || continue
		for scen in call register; do
			in_list $scen "$PROXY_SCENARIOS" || continue
			for proxy in sipedge kamailio; do
				"start_$proxy" || continue
				proxy_search $scen
				best["$w $proxy $scen"]=$S_BEST
				log "workers $w: $proxy $scen: highest clean" \
					"rate $S_BEST/s"
				stop_proxy
			done
		done
	done
	PROXY_TABLE="| workers | scenario | offered /s | sipedge µs/op | Kamailio µs/op | sipedge / Kamailio | sipedge ok / failed | Kamailio ok / failed | sipedge p50 / p99 ms, each round | Kamailio p50 / p99 ms, each round |
|---|---|---|---|---|---|---|---|---|---|"
	PROXY_CHECKS=""
	PROXY_BEST="Highest rate with 0 failures and p99 to the final response at most $SEARCH_P99_MS ms (sipload --search --search-p99 $SEARCH_P99_MS, 2 s steps, at most 6):"
	for w in $WORKERS_LIST; do
		rm -f "$WORK"/plot.w"$w".r*.dat
		for scen in $PROXY_SCENARIOS; do
			rates=$(scen_rates $scen)
			for rate in $rates; do
				local se="$w sipedge $scen $rate"
				local ka="$w kamailio $scen $rate"
				local us_se us_ka ratio
				us_se=$(us_per "${tick[$se]:-0}" "${ok[$se]:-0}")
				us_ka=$(us_per "${tick[$ka]:-0}" "${ok[$ka]:-0}")
				ratio=$(awk -v a="$us_se" -v b="$us_ka" \
					'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "-" }')
				PROXY_TABLE="$PROXY_TABLE
| $w | $scen | $rate | $us_se | $us_ka | $ratio | ${ok[$se]:-0} / ${fail[$se]:-0} | ${ok[$ka]:-0} / ${fail[$ka]:-0} | ${lat[$se]:-} | ${lat[$ka]:-} |"
				# What shows that the scenario did what it
				# says: 407s answered, TCP connections.
				case $scen in
				call-digest)
					PROXY_CHECKS="$PROXY_CHECKS $w worker(s) $rate/s: 407s answered, sipedge ${chal[$se]:-0}, Kamailio ${chal[$ka]:-0} (calls started: $(( ${ok[$se]:-0} + ${fail[$se]:-0} )), $(( ${ok[$ka]:-0} + ${fail[$ka]:-0} )));"
					;;
				call-tcp)
					PROXY_CHECKS="$PROXY_CHECKS $w worker(s) $rate/s: established TCP connections at the proxy and callee ports half-way through each round, sipedge ${tcpc[$se]:--}, Kamailio ${tcpc[$ka]:--};"
					;;
				esac
				[ $scen = call ] || continue
				# The plot: each round's p99, in ms, no mean.
				for round in $(seq 1 "$PROXY_ROUNDS"); do
					awk -v r="$rate" \
						-v a="${p99r[$se $round]:-}" \
						-v b="${p99r[$ka $round]:-}" \
						'BEGIN { printf "%s %s %s\n", r,
						  a == "" ? "NaN" : a / 1000,
						  b == "" ? "NaN" : b / 1000 }' \
						>>"$WORK/plot.w$w.r$round.dat"
				done
			done
		done
		PROXY_BEST="$PROXY_BEST $w worker(s): register sipedge **${best[$w sipedge register]:-?}/s**, Kamailio **${best[$w kamailio register]:-?}/s**; call sipedge **${best[$w sipedge call]:-?}/s**, Kamailio **${best[$w kamailio call]:-?}/s**."
	done
	[ "$PROXY_SEARCH" = 1 ] || PROXY_BEST="Highest clean rates not searched (PROXY_SEARCH=0)."
	plot
}

# The cells of scenario $4 for proxy $3 (running), worker count $1,
# round $2, into proxy_part's tables.
proxy_cells() {
	local w=$1 round=$2 proxy=$3 scen=$4 rate key

	for rate in $(scen_rates "$scen"); do
		proxy_run "$scen" "$rate"
		key="$w $proxy $scen $rate"
		tick[$key]=$((${tick[$key]:-0} + P_TICKS))
		ok[$key]=$((${ok[$key]:-0} + P_OK))
		fail[$key]=$((${fail[$key]:-0} + P_FAIL))
		lat[$key]="${lat[$key]:-}${lat[$key]:+; }$(awk -v a="${P_P50:-0}" -v b="${P_P99:-0}" 'BEGIN { printf "%.2f / %.2f", a / 1000, b / 1000 }')"
		p99r[$key $round]=${P_P99:-}
		chal[$key]=$((${chal[$key]:-0} + ${P_CHAL:-0}))
		tcpc[$key]="${tcpc[$key]:-}${tcpc[$key]:+, }$P_TCP"
		log "workers $w round $round $proxy $scen $rate/s:" \
			"ok=$P_OK failed=$P_FAIL" \
			"cpu=$P_TICKS ticks p99=${P_P99}us" \
			"407s=${P_CHAL:-?} tcp_conns=$P_TCP"
	done
}

# The latency plot: one panel per worker count, one line per proxy and
# round (each round's own p99, not a mean), both axes from zero.
plot() {
	local w round n=0 gp="$WORK/plot.gp" sep
	local SE_COLOURS=("#08519c" "#6baed6" "#3182bd")
	local KA_COLOURS=("#d94801" "#fdae6b" "#a63603")

	PLOT_LINE=""
	command -v gnuplot >/dev/null 2>&1 || return 0
	for w in $WORKERS_LIST; do
		n=$((n + 1))
	done
	[ -s "$WORK/plot.w${WORKERS_LIST%% *}.r1.dat" ] || return 0
	{
		echo "set terminal png size $((520 * n)),450"
		echo "set output \"$(dirname "$DOC")/compare-latency.png\""
		echo "set multiplot layout 1,$n title \"Call setup latency (INVITE to 200, p99 of each round), record-routed\""
		echo "set xlabel \"offered calls/s\""
		echo "set ylabel \"p99 latency (ms)\""
		echo "set xrange [0:*]"
		echo "set yrange [0:*]"
		echo "set key below"
		echo "set grid"
		for w in $WORKERS_LIST; do
			echo "set title \"$w worker(s) each\""
			printf 'plot'
			sep=" "
			for round in $(seq 1 "$PROXY_ROUNDS"); do
				# Blues for sipedge, oranges for Kamailio; the
				# point type tells the round.
				printf '%s"%s" using 1:2 with linespoints lw 2 lc rgb "%s" pt %d title "sipedge, round %d"' \
					"$sep" "$WORK/plot.w$w.r$round.dat" \
					"${SE_COLOURS[(round - 1) % 3]}" \
					"$round" "$round"
				sep=", "
				printf '%s"%s" using 1:3 with linespoints lw 2 lc rgb "%s" pt %d title "Kamailio -x fm, round %d"' \
					"$sep" "$WORK/plot.w$w.r$round.dat" \
					"${KA_COLOURS[(round - 1) % 3]}" \
					"$round" "$round"
			done
			echo
		done
		echo "unset multiplot"
	} >"$gp"
	gnuplot "$gp" 2>"$WORK/gnuplot.err" &&
		PLOT_LINE="![p99 latency of a call against offered load, each round](compare-latency.png)"
}

# ---- the report ----

# Replace the text between "<!-- $1:begin -->" and "<!-- $1:end -->" in
# docs/benchmarks.md by the file $2, or append a section titled $3.
doc_replace() {
	local tag=$1 body=$2 title=$3 tmp="$WORK/doc.tmp"

	[ -f "$DOC" ] || printf '# Benchmarks\n' >"$DOC"
	if grep -q "<!-- $tag:begin -->" "$DOC"; then
		awk -v tag="$tag" -v body="$body" '
			$0 == "<!-- " tag ":begin -->" {
				print; while ((getline l < body) > 0) print l
				skip = 1; next }
			$0 == "<!-- " tag ":end -->" { skip = 0 }
			!skip' "$DOC" >"$tmp" && cat "$tmp" >"$DOC"
	else
		{ printf '\n## %s\n\n<!-- %s:begin -->\n' "$title" "$tag"
		  cat "$body"
		  printf '<!-- %s:end -->\n' "$tag"; } >>"$DOC"
	fi
}

# The generator part, its table printed and written into the doc.
gen_report() {
	local gen_md="$WORK/gen.md" t_gen

	log "generators: sipload against SIPp, no proxy"
	gen_part
	t_gen=$(($(date +%s) - T_START))
	cat >"$gen_md" <<MD
Run $when, \`$cmd\` (bench/compare/run.sh, ${t_gen} s), on $m.
Call scenario over UDP on loopback, no proxy: INVITE (SDP) → 100 → 180 →
200 (SDP) → ACK → ${HOLD_MS} ms hold → BYE → 200. Caller and callee are
separate processes for both generators (sipload \`--role uac\` and
\`--role uas\`, one thread each, default settings; SIPp 3.6.1 with
bench/sipp/uac_call.xml and uas_call.xml and \`-buff_size 4194304\`).
${GEN_SECONDS} s of calls per cell, the two generators alternating.
CPU: utime + stime of each process from /proc/PID/stat, divided by the
successful calls.

$GEN_TABLE

$GEN_BEST
MD
	echo
	cat "$gen_md"
	doc_replace compare-generators "$gen_md" \
		"Generator against generator: sipload and SIPp (bench/compare)"
}

main() {
	local when cmd m proxy_md

	[ -x "$SIPLOAD" ] || { log "$SIPLOAD missing (run make)"; exit 1; }
	[ -x "$SIPEDGE" ] || { log "$SIPEDGE missing (run make)"; exit 1; }
	install_deps
	command -v sipp >/dev/null 2>&1 || { log "sipp missing"; exit 1; }
	when=$(date -u '+%Y-%m-%d %H:%M UTC')
	cmd="make bench-compare"
	m=$(machine)
	if [ "$COMPARE_SKIP_GEN" = 1 ]; then
		log "generator part skipped (COMPARE_SKIP_GEN=1)"
	else
		gen_report
	fi
	if [ "$COMPARE_SKIP_PROXY" = 1 ]; then
		PROXY_NOTE="Proxy comparison not run (COMPARE_SKIP_PROXY=1)."
		PROXY_TABLE="" PROXY_BEST="" PLOT_LINE="" PROXY_CHECKS=""
	else
		log "proxies: sipedge against Kamailio"
		PROXY_TABLE="" PROXY_BEST="" PLOT_LINE="" PROXY_CHECKS=""
		proxy_part
	fi
	proxy_md="$WORK/proxy.md"
	{
		echo "Run $when, \`$cmd\`, on $m. Workers: $WORKERS_LIST, the same"
		echo "for both (sipedge \`workers: N\`, Kamailio \`-n N -x fm -X fm\`"
		echo "with bench/compare/kamailio.cfg: registrar in memory, stateful"
		echo "record-routing proxy), each on its own loopback port, started"
		echo "afresh for each round, rounds alternating A,B,A,B. Load: sipload"
		echo "(register: a new user per REGISTER, no authentication; call:"
		echo "caller and callee in one sipload process, UDP, ${HOLD_MS} ms"
		echo "hold; call-tcp: the same over TCP, caller to proxy and proxy"
		echo "to callee, the callee's contact registered with"
		echo "\`;transport=tcp\`; call-digest: the call over UDP with every"
		echo "new INVITE challenged (407, MD5, qop=auth) and sent again with"
		echo "Proxy-Authorization, password = user name: sipedge"
		echo "\`registrar.trusted: []\` and a users file of HA1 values,"
		echo "Kamailio \`-A WITH_AUTH\`: auth module, pv_auth_check with the"
		echo "password taken from the From user, no database),"
		echo "${PROXY_SECONDS} s per cell and round. CPU: every process of the"
		echo "proxy (/proc/PID/stat) over the run, per successful operation,"
		echo "summed over the rounds. Latency: INVITE (REGISTER) to final"
		echo "response as sipload measures it (call-digest: from the first"
		echo "INVITE, so the 407 round trip included), p50 / p99 of each"
		echo "round."
		echo
		[ -n "$PROXY_NOTE" ] && echo "$PROXY_NOTE" && echo
		if [ -n "$PROXY_TABLE" ]; then
			echo "$PROXY_TABLE"
			echo
			echo "$PROXY_BEST"
			echo
			[ -n "$PROXY_CHECKS" ] &&
				echo "Checks:$PROXY_CHECKS" | sed 's/;$/./' && echo
			[ -n "$PLOT_LINE" ] && echo "$PLOT_LINE" && echo
			echo "$KAM_OK"
		fi
	} >"$proxy_md"
	echo
	cat "$proxy_md"
	doc_replace compare-proxies "$proxy_md" \
		"Proxy against proxy: sipedge and Kamailio (bench/compare)"
	log "done in $(($(date +%s) - T_START)) s; tables in $DOC"
}

main
