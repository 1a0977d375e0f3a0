#!/usr/bin/env bash
# Quality and cost of the evatok codec on a folder of videos, through the
# built ffmpeg as a user runs it: each file is encoded with -c:v evatok (plus
# any options given), decoded, and compared with its source in RGB.
#
#   scripts/codec_quality.sh [BUILD_DIR] CLIP_DIR [encoder options, e.g. -wq 2.5]
# Prints per file: tokens per 16-frame group of one 64x64 tile (each packet's
# total divided by its tiles, averaged over packets) and RGB PSNR; then the
# means. A -model given to the encoder is given to the decoder too.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
if [ $# -ge 2 ] && [ -x "$1/ffmpeg_build/ffmpeg" ]; then build=$1; shift; fi
dir=${1:?usage: codec_quality.sh [BUILD_DIR] CLIP_DIR [encoder options]}
shift
ff=$build/ffmpeg_build/ffmpeg
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# The decoder needs the encoder's -model too.
dec=(); prev=
for a in "$@"; do [ "$prev" = -model ] && dec=(-model "$a"); prev=$a; done
n=0
printf '%-28s %8s %8s\n' file tokens psnr_rgb
for f in "$dir"/*; do
  [ -f "$f" ] || continue
  # The encoder logs each packet's tokens per tile at -v verbose.
  if ! "$ff" -nostdin -v verbose -y -i "$f" -an -c:v evatok "$@" "$tmp/out.mkv" 2> "$tmp/enc.log"; then
    echo "$f: encoding failed:" >&2; grep -E 'evatok|rror' "$tmp/enc.log" | tail -n 3 >&2; exit 1
  fi
  # "evatok: packet N: 16 frames, tile 0: a,b,c,d, tile 1: ... tokens (T total)"
  tok=$(grep 'evatok: packet [0-9]*:' "$tmp/enc.log" |
        awk '{ tiles = gsub(/ tile [0-9]+:/, "&"); match($0, /\([0-9]+ total\)/);
               t += substr($0, RSTART + 1, RLENGTH - 8) / tiles; n++ } END { if (n) printf "%.1f", t / n }')
  [ -n "$tok" ] || { echo "$f: the encoder logged no packets" >&2; exit 1; }
  if ! "$ff" -nostdin -v info "${dec[@]}" -i "$tmp/out.mkv" -i "$f" \
       -lavfi '[0:v]format=rgb24[a];[1:v]format=rgb24[b];[a][b]psnr' -f null - 2> "$tmp/dec.log"; then
    echo "$f: decoding failed:" >&2; grep -E 'evatok|rror' "$tmp/dec.log" | tail -n 3 >&2; exit 1
  fi
  psnr=$(grep -o 'average:[0-9.inf]*' "$tmp/dec.log" | tail -n 1 | cut -d: -f2)
  printf '%-28s %8s %8s\n' "$(basename "$f")" "$tok" "$psnr"
  echo "$tok $psnr" >> "$tmp/all"
  n=$((n + 1))
done
[ $n -gt 0 ] || { echo "no files in $dir" >&2; exit 1; }
awk -v n=$n '{ t += $1; p += $2 } END { printf "%-28s %8.1f %8.2f   (%d files)\n", "mean", t / n, p / n, n }' "$tmp/all"
