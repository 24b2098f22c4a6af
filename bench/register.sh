#!/bin/sh
# bench/register.sh - REGISTER throughput and sipedge CPU per
# registration, with SIPp as the UAs (docs/benchmarks.md, "Registrar").
#
#   bench/register.sh [WORKERS] [REGISTRATIONS] [RATE] [noauth|auth]
#                     [memory|redis]
#
# noauth: every REGISTER comes from a trusted source (one transaction).
# auth:   MD5 digest, so REGISTER, 401, REGISTER with credentials, 200.
# Each registration is a distinct user. CPU is sipedge's utime + stime
# from /proc/PID/stat over the SIPp run; the rate is what SIPp reached
# (it is the limit at high rates on a 2-CPU machine).
# redis: a redis-server of our own on PORT+10 is the location store;
# its CPU per registration is reported too (redis_cpu_per_registration).
set -eu
W=${1:-1}
N=${2:-50000}
R=${3:-10000}
MODE=${4:-noauth}
STORE=${5:-memory}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${SIPEDGE_BIN:-$ROOT/build/sipedge}
PORT=${PORT:-25080}
D=$(mktemp -d /tmp/sipedge-regbench.XXXXXX)
RPID=""
trap '[ -n "$RPID" ] && kill "$RPID" 2>/dev/null; rm -rf "$D"' EXIT

awk -v n="$N" -v mode="$MODE" 'BEGIN {
	print "SEQUENTIAL"
	for (i = 0; i < n; i++)
		if (mode == "auth")
			printf "u%d;localhost;[authentication username=u%d password=pw];\n", i, i
		else
			printf "u%d;localhost;\n", i
}' > "$D/users.csv"
REG=""
SCEN=$ROOT/tests/integration/sipp/reg_noauth_uac.xml
if [ "$MODE" = auth ]; then
	python3 - "$N" > "$D/users" <<'PY'
import hashlib, sys
for i in range(int(sys.argv[1])):
    a1 = "u%d:localhost:pw" % i
    print("u%d@localhost md5:%s" % (i, hashlib.md5(a1.encode()).hexdigest()))
PY
	REG="registrar:
  trusted: []
  users_file: $D/users"
	SCEN=$ROOT/tests/integration/sipp/reg_md5_uac.xml
fi
STORECONF=""
if [ "$STORE" = redis ]; then
	redis-server --port $((PORT + 10)) --bind 127.0.0.1 --save '' \
		--appendonly no --daemonize no > "$D/redis.log" 2>&1 &
	RPID=$!
	sleep 0.3
	STORECONF="store:
  backend: redis
  redis:
    address: \"127.0.0.1:$((PORT + 10))\""
fi
cat > "$D/sipedge.yaml" <<EOF2
workers: $W
log_level: warn
listen:
  - address: 127.0.0.1
    port: $PORT
domains: [localhost]
# no management API: nothing here needs it, and 5080 may be taken
management:
  listen: []
$REG
$STORECONF
EOF2
"$BIN" -c "$D/sipedge.yaml" 2> "$D/sipedge.log" &
PID=$!
sleep 0.5
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
C0=$(cpu $PID)
R0=0
[ -n "$RPID" ] && R0=$(cpu $RPID)
T0=$(date +%s.%N)
sipp "127.0.0.1:$PORT" -sf "$SCEN" -inf "$D/users.csv" -m "$N" -r "$R" \
	-rp 1000 -l 2000 -t u1 -i 127.0.0.1 -p $((PORT + 1)) -nostdin \
	-timeout 300s -trace_stat -stf "$D/stat.csv" -fd 100 \
	> "$D/sipp.out" 2>&1 || true
T1=$(date +%s.%N)
C1=$(cpu $PID)
R1=0
[ -n "$RPID" ] && R1=$(cpu $RPID)
kill "$PID"
wait "$PID" || true
awk -F';' -v c0="$C0" -v c1="$C1" -v t0="$T0" -v t1="$T1" \
	-v tck="$(getconf CLK_TCK)" -v w="$W" -v mode="$MODE" \
	-v store="$STORE" -v r0="$R0" -v r1="$R1" '
NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "SuccessfulCall(C)") s = i; if ($i == "FailedCall(C)") f = i } next }
NF > 1 { ok = $s; fail = $f }
END {
	cpu = (c1 - c0) / tck
	rcpu = (r1 - r0) / tck
	printf "workers=%s mode=%s store=%s ok=%d failed=%d wall=%.2fs rate=%.0f/s sipedge_cpu=%.2fs cpu_per_registration=%.1fus",
		w, mode, store, ok, fail, t1 - t0, ok / (t1 - t0), cpu, ok ? cpu / ok * 1e6 : 0
	if (store == "redis")
		printf " redis_cpu_per_registration=%.1fus", ok ? rcpu / ok * 1e6 : 0
	printf "\n"
}' "$D/stat.csv"
