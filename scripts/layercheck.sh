#!/bin/sh
# scripts/layercheck.sh - the layer rule of STYLE.md ("Layout"), checked on
# the project's own includes.
#
#   scripts/layercheck.sh [DIR]     check the tree at DIR (default: .)
#   scripts/layercheck.sh --self-test
#                                   plant an upward include and a cycle in
#                                   copies of the tree; both must fail
#
# Layers, bottom up (a layer includes only itself and layers below it):
#   0 proxy/base   1 proxy/sip   2 store   3 proxy/core
#   4 proxy (the proxy role), features/b2b (the B2BUA role)
#   5 registrar, features   6 proxy/mgmt   7 proxy/main.c
# bench/ includes only proxy/base, proxy/sip and bench/. Folders of one
# layer may include each other, but no two folders may include each other
# (directly or round a longer loop): tsort finds such cycles.
# tests/ may include anything and is not checked.
set -eu

self_test() {
	src=$(cd "$(dirname "$0")/.." && pwd)
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	for d in proxy store registrar features bench scripts; do
		cp -r "$src/$d" "$tmp/"
	done
	sh "$tmp/scripts/layercheck.sh" "$tmp" >/dev/null ||
		{ echo "layercheck self-test: the tree itself fails"; exit 1; }

	# An upward include: the base layer reaching the runtime.
	cp "$tmp/proxy/base/slice.h" "$tmp/slice.h.orig"
	echo '#include "proxy/core/shard.h"' >>"$tmp/proxy/base/slice.h"
	if out=$(sh "$tmp/scripts/layercheck.sh" "$tmp" 2>&1); then
		echo "layercheck self-test: an upward include passed"
		exit 1
	fi
	echo "$out" | grep -q 'proxy/base/slice.h:.*upward' ||
		{ echo "layercheck self-test: upward include not named:";
		  echo "$out"; exit 1; }
	cp "$tmp/slice.h.orig" "$tmp/proxy/base/slice.h"

	# A cycle between two folders of one layer.
	mkdir -p "$tmp/features" "$tmp/registrar"
	printf '#pragma once\n#include "registrar/cyc_b.h"\n' \
		>"$tmp/features/cyc_a.h"
	printf '#pragma once\n#include "features/cyc_a.h"\n' \
		>"$tmp/registrar/cyc_b.h"
	if out=$(sh "$tmp/scripts/layercheck.sh" "$tmp" 2>&1); then
		echo "layercheck self-test: a cycle between folders passed"
		exit 1
	fi
	echo "$out" | grep -q 'cycle' ||
		{ echo "layercheck self-test: cycle not named:";
		  echo "$out"; exit 1; }
	echo "layercheck self-test: ok (upward include and cycle both fail)"
}

if [ "${1:-}" = "--self-test" ]; then
	self_test
	exit 0
fi

root=${1:-.}
cd "$root"

files=$(find proxy store registrar features bench -name '*.[ch]' \
	2>/dev/null | sort)
[ -n "$files" ] || { echo "layercheck: no sources under $root"; exit 1; }

edges=$(mktemp)
trap 'rm -f "$edges"' EXIT

# One line per project include: FILE:LINE FROM-FOLDER TO-FOLDER VERDICT.
# shellcheck disable=SC2086
awk -v edges="$edges" '
function folder(p) {
	if (p ~ /^proxy\/base\//) return "proxy/base"
	if (p ~ /^proxy\/sip\//) return "proxy/sip"
	if (p ~ /^proxy\/core\//) return "proxy/core"
	if (p ~ /^proxy\/mgmt\//) return "proxy/mgmt"
	if (p == "proxy/main.c") return "proxy/main.c"
	if (p ~ /^proxy\//) return "proxy"
	if (p ~ /^store\//) return "store"
	if (p ~ /^features\/b2b\//) return "features/b2b"
	if (p ~ /^features\//) return "features"
	if (p ~ /^registrar\//) return "registrar"
	if (p ~ /^bench\//) return "bench"
	return ""
}
BEGIN {
	layer["proxy/base"] = 0; layer["proxy/sip"] = 1; layer["store"] = 2
	layer["proxy/core"] = 3; layer["proxy"] = 4; layer["features/b2b"] = 4
	layer["registrar"] = 5; layer["features"] = 5
	layer["proxy/mgmt"] = 6; layer["proxy/main.c"] = 7
	bad = 0; n = 0
}
/^[ \t]*#[ \t]*include[ \t]*"/ {
	inc = $0
	sub(/^[^"]*"/, "", inc); sub(/".*$/, "", inc)
	from = folder(FILENAME); to = folder(inc)
	if (from == "" || to == "") next
	n++
	if (from == "bench") {
		if (to != "bench" && to != "proxy/base" && to != "proxy/sip") {
			printf "%s:%d: includes %s: bench/ may use only " \
			    "proxy/base and proxy/sip (upward)\n", \
			    FILENAME, FNR, inc
			bad++
		}
		next
	}
	if (to == "bench") {
		printf "%s:%d: includes %s: nothing includes bench/ " \
		    "(upward)\n", FILENAME, FNR, inc
		bad++
		next
	}
	if (layer[to] > layer[from]) {
		printf "%s:%d: includes %s: layer %d (%s) above layer %d " \
		    "(%s) (upward)\n", FILENAME, FNR, inc, layer[to], to, \
		    layer[from], from
		bad++
		next
	}
	if (from != to)
		print from, to >> edges
}
END {
	printf "layercheck: %d project includes, %d upward\n", n, bad
	if (bad) exit 1
}' $files || exit 1

# Folder cycles: tsort names the members of each loop on stderr.
sort -u "$edges" | awk '{print $1, $2}' >"$edges.s"
mv "$edges.s" "$edges"
if ! cycles=$(tsort "$edges" 2>&1 >/dev/null) || [ -n "$cycles" ]; then
	echo "layercheck: cycle between folders:"
	echo "$cycles" | sed 's/^tsort: /  /'
	exit 1
fi
echo "layercheck: ok ($(wc -l <"$edges") folder arrows, no cycle)"
