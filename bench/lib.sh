# bench/lib.sh - what the bench scripts share (sourced by
# bench/compare/run.sh, bench/steering.sh and bench/txnmem.sh; bash).
#
#   cleanup          kills every process in $PIDS (each started by the
#                    script), waits for them and removes $WORK; the
#                    script sets WORK and PIDS before sourcing this file,
#                    which installs it as the EXIT trap (INT and TERM exit)
#   port_busy PORT   true when a UDP or TCP socket (IPv4 or IPv6) of this
#                    machine is bound to PORT (from /proc/net)
#   free_port        prints a port in 20000-49999 that is not busy (at
#                    most 200 tries; false, with a line on stderr, when
#                    none was found)

port_busy() {
	local hex

	hex=$(printf ':%04X' "$1")
	cat /proc/net/udp /proc/net/udp6 /proc/net/tcp /proc/net/tcp6 \
		2>/dev/null | awk -v h="$hex" '
		{ n = length($2); if (substr($2, n - 4) == h) found = 1 }
		END { exit !found }'
}

free_port() {
	local p i

	for i in $(seq 1 200); do
		p=$((20000 + RANDOM % 30000))
		if ! port_busy "$p"; then
			echo "$p"
			return 0
		fi
	done
	echo "bench: no free port found" >&2
	return 1
}

cleanup() {
	local p

	for p in $PIDS; do
		kill "$p" 2>/dev/null
	done
	for p in $PIDS; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
