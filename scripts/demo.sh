#!/usr/bin/env bash
# The main job on the shipped defaults: encode the sample clip with the evatok
# codec (router assignment, default model), print the tokens each 16-frame
# block received, decode it back and print the PSNR against the source.
#
#   scripts/demo.sh [BUILD_DIR] [INPUT]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
in=${2:-$root/samples/clips/pan-192x144.mkv}
ff=$build/ffmpeg_build/ffmpeg
probe=$build/ffmpeg_build/ffprobe
out=$build/demo
mkdir -p "$out"

echo "input: $in ($("$probe" -v error -select_streams v:0 -count_frames -show_entries stream=width,height,nb_read_frames -of csv=p=0 "$in"))"
t0=$(date +%s.%N)
"$ff" -nostdin -nostats -y -hide_banner -loglevel verbose -i "$in" -c:v evatok "$out/tokens.mkv" 2>&1 |
  grep -E 'evatok: (model|packet)' | sed 's/^\[[^]]*\] //'
t1=$(date +%s.%N)
"$ff" -nostdin -y -hide_banner -loglevel error -i "$out/tokens.mkv" -pix_fmt yuv420p "$out/decoded.y4m"
t2=$(date +%s.%N)
echo "packets (bytes each): $("$probe" -v error -show_entries packet=size -of csv=p=0 "$out/tokens.mkv" | tr '\n' ' ')"
psnr=$("$ff" -nostdin -hide_banner -i "$out/decoded.y4m" -i "$in" -lavfi "[0][1]psnr" -f null - 2>&1 | grep -o 'average:[0-9.inf]*' | cut -d: -f2)
awk -v a="$t0" -v b="$t1" -v c="$t2" -v p="$psnr" \
  'BEGIN { printf "encode %.1fs, decode %.1fs; PSNR (average over Y,U,V) %s dB\n", b - a, c - b, p }'
echo "outputs: $out/tokens.mkv (evatok tokens), $out/decoded.y4m"
