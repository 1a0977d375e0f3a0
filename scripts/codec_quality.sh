#!/usr/bin/env bash
# Quality and cost of the evatok codec on a folder of videos, through the
# built ffmpeg as a user runs it: each file is encoded with -c:v evatok (plus
# any options given), decoded, and compared with its source in RGB.
#
#   scripts/codec_quality.sh [BUILD_DIR] CLIP_DIR [encoder options, e.g. -wq 2.5]
# Prints per file: tokens per 16-frame group of one 64x64 tile (the packet's
# total over its tiles and groups, divided by both) and RGB PSNR; then the means.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
if [ $# -ge 2 ] && [ -x "$1/ffmpeg_build/ffmpeg" ]; then build=$1; shift; fi
dir=${1:?usage: codec_quality.sh [BUILD_DIR] CLIP_DIR [encoder options]}
shift
ff=$build/ffmpeg_build/ffmpeg
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
n=0
printf '%-28s %8s %8s\n' file tokens psnr_rgb
for f in "$dir"/*; do
  [ -f "$f" ] || continue
  # The encoder logs each packet's tokens per tile at -v verbose.
  "$ff" -nostdin -v verbose -y -i "$f" -an -c:v evatok "$@" "$tmp/out.mkv" 2> "$tmp/enc.log"
  tok=$(grep -o 'tile [0-9]*: [0-9,]* tokens' "$tmp/enc.log" |
        awk -F'[:,]' '{ s = 0; for (i = 2; i <= NF; i++) s += $i; t += s; n++ } END { if (n) printf "%.1f", t / n }')
  [ -n "$tok" ] || { echo "$f: the encoder logged no packets" >&2; exit 1; }
  psnr=$("$ff" -nostdin -v info -i "$tmp/out.mkv" -i "$f" \
         -lavfi '[0:v]format=rgb24[a];[1:v]format=rgb24[b];[a][b]psnr' -f null - 2>&1 |
         grep -o 'average:[0-9.inf]*' | tail -n 1 | cut -d: -f2)
  printf '%-28s %8s %8s\n' "$(basename "$f")" "$tok" "$psnr"
  echo "$tok $psnr" >> "$tmp/all"
  n=$((n + 1))
done
[ $n -gt 0 ] || { echo "no files in $dir" >&2; exit 1; }
awk -v n=$n '{ t += $1; p += $2 } END { printf "%-28s %8.1f %8.2f   (%d files)\n", "mean", t / n, p / n, n }' "$tmp/all"
