#!/usr/bin/env bash
# Rate-distortion points on a folder of clips: evatok bitstream v1 and v2 at
# several router rates (-wq) and uniform token counts, and Debian's x264 and
# x265 at their lowest rates (crf 40 to 51). One CSV row per codec setting:
# mean bytes per 48 frames (sum of packet sizes) and mean RGB PSNR (dB).
#
#   [WQS="0.6 1.2 2.5 4 8"] [UNIFORM="8 16 32 64"] [CRFS="40 45 51"] \
#   experiments/rd_points.sh [BUILD_DIR] CLIP_DIR OUT.csv [-model M]
# Needs Debian's ffmpeg (apt-get install ffmpeg) for libx264/libx265; experiments/rd_plot.sh
# draws the figure.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
if [ $# -ge 3 ] && [ -x "$1/ffmpeg_build/ffmpeg" ]; then build=$1; shift; fi
dir=${1:?usage: rd_points.sh [BUILD_DIR] CLIP_DIR OUT.csv [-model M]}
out=${2:?missing OUT.csv}
shift 2
ff=$build/ffmpeg_build/ffmpeg
fp=$build/ffmpeg_build/ffprobe
sys=/usr/bin/ffmpeg
encoders=$([ -x $sys ] && "$sys" -hide_banner -encoders 2>/dev/null || true)
[[ $encoders == *libx264* && $encoders == *libx265* ]] ||
  { echo "needs Debian's ffmpeg with libx264 and libx265: apt-get install ffmpeg" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# point NAME ENCODER_FFMPEG DECODER_OPTS -- ENCODER_OPTS...: one CSV row
point() {
  local name=$1 enc=$2 bytes=0 frames=0 psnr_sum=0 n=0 f b p dec=$sys; shift 2
  [[ $name == evatok* ]] && dec=$ff
  for f in "$dir"/*; do
    [ -f "$f" ] || continue
    "$enc" -nostdin -v error -y -i "$f" -an "$@" "$tmp/o.mkv"
    b=$("$fp" -v error -select_streams v:0 -show_entries packet=size -of csv=p=0 "$tmp/o.mkv" | awk '{ s += $1 } END { print s }')
    p=$("$dec" -nostdin -v info "${model[@]}" -i "$tmp/o.mkv" -i "$f" \
        -lavfi '[0:v]format=rgb24[a];[1:v]format=rgb24[b];[a][b]psnr' -f null - 2>&1 |
        grep -o 'average:[0-9.inf]*' | tail -n 1 | cut -d: -f2)
    n=$((n + 1)); bytes=$((bytes + b))
    frames=$((frames + $("$sys" -nostdin -v error -i "$f" -f framecrc - | grep -vc '^#')))
    psnr_sum=$(echo "$psnr_sum + $p" | bc -l)
  done
  printf '%s,%.1f,%.3f\n' "$name" "$(echo "$bytes * 48 / $frames" | bc -l)" "$(echo "$psnr_sum / $n" | bc -l)" | tee -a "$out"
}
model=()
[ "${1:-}" = -model ] && model=(-model "$2")
echo "codec,bytes_per_48_frames,psnr_rgb" > "$out"
for wq in ${WQS:-0.6 1.2 2.5 4 8}; do
  for v in 1 2; do point "evatok-v$v-router-wq$wq" "$ff" -c:v evatok "${model[@]}" -bitstream $v -wq $wq; done
done
for k in ${UNIFORM:-8 16 32 64}; do
  for v in 1 2; do point "evatok-v$v-uniform$k" "$ff" -c:v evatok "${model[@]}" -bitstream $v -assign uniform -tokens $k; done
done
for crf in ${CRFS:-40 45 51}; do
  model=()
  point "x264-crf$crf" $sys -c:v libx264 -preset medium -crf $crf -pix_fmt yuv420p
  point "x265-crf$crf" $sys -c:v libx265 -preset medium -crf $crf -pix_fmt yuv420p -x265-params log-level=error
done
