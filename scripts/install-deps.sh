#!/bin/sh
# scripts/install-deps.sh - install what building, running and testing need.
# Idempotent: when every package is present it only checks and returns.
set -eu

PKGS="build-essential pkg-config clang clang-format libclang-rt-14-dev
liburcu-dev libuv1-dev libjemalloc-dev libhiredis-dev libcriterion-dev
libcyaml-dev libjansson-dev libmicrohttpd-dev libsystemd-dev nettle-dev
espeak-ng sox libsndfile1-dev libspandsp-dev
libssl-dev openssl
libwslay-dev
libc-ares-dev dnsmasq-base
redis-server redis-tools sip-tester prometheus systemd groff-base man-db
iproute2 util-linux mount python3
sipvicious
rtpengine-daemon
baresip
nftables conntrack
curl
libbpf-dev bpftool
chromium nodejs"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

# npm: Debian's package, unless the nodejs installed brings its own.
command -v npm >/dev/null 2>&1 || missing="$missing npm"

# The browser test's node modules (puppeteer-core, jssip, esbuild) from
# the committed lock file into tests/integration/ws/node_modules; no
# browser download (puppeteer-core drives Debian's chromium).
ws_modules() {
	dir=$(dirname "$0")/../tests/integration/ws
	[ -d "$dir/node_modules/jssip" ] &&
		[ -d "$dir/node_modules/puppeteer-core" ] &&
		[ -d "$dir/node_modules/esbuild" ] && return 0
	echo "install-deps: npm ci in $dir" >&2
	(cd "$dir" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund \
		--loglevel=error >/dev/null)
}

if [ -z "$missing" ]; then
	ws_modules
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing" >&2
	echo "install-deps: run as root, or: sudo apt-get install$missing" >&2
	exit 1
fi

echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
ws_modules
