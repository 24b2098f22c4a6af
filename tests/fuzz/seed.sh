#!/bin/sh
# tests/fuzz/seed.sh - copy the seed inputs of fuzz target NAME into DIR.
# Usage: seed.sh NAME CORPUS_ROOT DIR
# fuzz_msg: every message of CORPUS_ROOT, tests/corpus (copied into the run
# directory, never into the repository). fuzz_conf: tests/fuzz/seeds/conf.
set -eu
name=$1
corpus=$2
dir=$3
here=$(dirname "$0")

case "$name" in
fuzz_msg)
	[ -d "$corpus" ] || { echo "seed.sh: no corpus at $corpus" >&2; exit 1; }
	n=0
	for f in "$corpus"/rfc4475/valid/*.dat "$corpus"/rfc4475/invalid/*.dat \
		"$corpus"/protos/*.sip "$corpus"/pjsip-seed/*.sip; do
		[ -f "$f" ] || continue
		cp "$f" "$dir/$(basename "$f")"
		n=$((n + 1))
	done
	;;
*)
	n=0
	if [ -d "$here/seeds/${name#fuzz_}" ]; then
		for f in "$here/seeds/${name#fuzz_}"/*; do
			[ -f "$f" ] || continue
			cp "$f" "$dir/"
			n=$((n + 1))
		done
	fi
	;;
esac
[ "$n" -gt 0 ] || { echo "seed.sh: no seeds for $name" >&2; exit 1; }
echo "seed.sh: $n seeds for $name"
