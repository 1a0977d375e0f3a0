#!/usr/bin/env bash
# Bitstream v2 against v1 at identical tokens: every clip of CLIP_DIR is
# encoded twice with the same encoder options, -bitstream 1 and -bitstream 2;
# both streams are decoded and must give identical frames (framemd5).
# Prints per clip the bytes of each (the sum of the packet sizes that ffprobe
# reports, per 48 frames) and v2's saving; then the totals, and the encode and
# decode wall time of each version over the whole folder.
#
#   experiments/bitstream_v2.sh [BUILD_DIR] CLIP_DIR [encoder options, e.g. -wq 2.5]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
if [ $# -ge 2 ] && [ -x "$1/ffmpeg_build/ffmpeg" ]; then build=$1; shift; fi
dir=${1:?usage: bitstream_v2.sh [BUILD_DIR] CLIP_DIR [encoder options]}
shift
ff=$build/ffmpeg_build/ffmpeg
fp=$build/ffmpeg_build/ffprobe
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
dec=(); prev=
for a in "$@"; do [ "$prev" = -model ] && dec=(-model "$a"); prev=$a; done
now() { date +%s.%N; }
declare -A enc_s dec_s bytes
for v in 1 2; do enc_s[$v]=0; dec_s[$v]=0; bytes[$v]=0; done
frames_all=0
printf '%-34s %7s %9s %9s %7s\n' file frames v1_bytes v2_bytes saving
for f in "$dir"/*; do
  [ -f "$f" ] || continue
  b=$(basename "$f")
  declare -A size
  for v in 1 2; do
    t0=$(now)
    "$ff" -nostdin -v error -y -threads 1 -i "$f" -an -c:v evatok -bitstream $v "$@" "$tmp/$v.mkv"
    t1=$(now)
    "$ff" -nostdin -v error -y "${dec[@]}" -i "$tmp/$v.mkv" -f framemd5 "$tmp/$v.md5"
    t2=$(now)
    enc_s[$v]=$(echo "${enc_s[$v]} + $t1 - $t0" | bc)
    dec_s[$v]=$(echo "${dec_s[$v]} + $t2 - $t1" | bc)
    size[$v]=$("$fp" -v error -select_streams v:0 -show_entries packet=size -of csv=p=0 "$tmp/$v.mkv" |
               awk '{ s += $1 } END { print s }')
    bytes[$v]=$(( ${bytes[$v]} + ${size[$v]} ))
  done
  cmp -s <(grep -v '^#' "$tmp/1.md5") <(grep -v '^#' "$tmp/2.md5") ||
    { echo "$b: v1 and v2 decode to different frames" >&2; exit 1; }
  n=$(grep -vc '^#' "$tmp/1.md5")
  frames_all=$((frames_all + n))
  printf '%-34s %7d %9d %9d %6.1f%%\n' "$b" "$n" "${size[1]}" "${size[2]}" \
    "$(echo "100 * (${size[1]} - ${size[2]}) / ${size[1]}" | bc -l)"
done
echo "total: $frames_all frames; bytes per 48 frames: v1 $(echo "${bytes[1]} * 48 / $frames_all" | bc)," \
     "v2 $(echo "${bytes[2]} * 48 / $frames_all" | bc); v2 is" \
     "$(printf %.1f "$(echo "100 * (${bytes[1]} - ${bytes[2]}) / ${bytes[1]}" | bc -l)")% smaller"
printf 'wall time (s): encode v1 %.1f, v2 %.1f; decode v1 %.1f, v2 %.1f\n' \
  "${enc_s[1]}" "${enc_s[2]}" "${dec_s[1]}" "${dec_s[2]}"
