#!/bin/sh
# scripts/sounds.sh - make the media engine's built-in sounds (features/b2b/media.h)
# in DIR as 8 kHz mono 16-bit WAV: the prompts spoken by espeak-ng, the
# hold music a chord sequence synthesized by sox. Usage: sounds.sh DIR
set -eu

dir=$1
tmp=$dir/.tmp
mkdir -p "$dir" "$tmp"

say() { # NAME TEXT
	espeak-ng -v en-us -s 150 -w "$tmp/$1.raw.wav" "$2"
	sox -q "$tmp/$1.raw.wav" -r 8000 -c 1 -b 16 -e signed-integer \
		"$tmp/$1.wav" norm -3
	mv -f "$tmp/$1.wav" "$dir/$1.wav"
}

set -- zero one two three four five six seven eight nine
for w; do say "$w" "$w"; done
say parked-at "your call is parked at"
say lot-full "the parking lot is full"
say slot-empty "that slot is empty"

# Hold music: I-vi-IV-V in C, two bars of each chord as plucked
# three-note chords with a bass note: 16 s.
n=0
for chord in "C3 C4 E4 G4" "A2 A3 C4 E4" "F2 F3 A3 C4" "G2 G3 B3 D4"; do
	set -- $chord
	for half in 1 2; do
		n=$((n + 1))
		sox -q -n -r 8000 -c 4 -b 16 "$tmp/m$n.wav" \
			synth 2 pluck "$1" pluck "$2" pluck "$3" pluck "$4" \
			remix - fade 0 2 0.3
	done
done
sox -q "$tmp"/m1.wav "$tmp"/m2.wav "$tmp"/m3.wav "$tmp"/m4.wav \
	"$tmp"/m5.wav "$tmp"/m6.wav "$tmp"/m7.wav "$tmp"/m8.wav \
	-r 8000 -c 1 -b 16 -e signed-integer "$tmp/music.wav" \
	norm -6
mv -f "$tmp/music.wav" "$dir/music.wav"
rm -rf "$tmp"
