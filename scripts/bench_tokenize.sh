#!/usr/bin/env bash
# `evatok tokenize` throughput against the codec's own encode rate, and the
# size of a token dataset per hour of video (issue 25). Inputs: testsrc2 clips
# of 10 s at 128x128 and 320x240 (the whole frame, tiled), and, when a folder
# of Y4M clips is given (data/make_real_clips.sh's), those too.
#
#   scripts/bench_tokenize.sh [BUILD_DIR] [REAL_CLIPS_DIR]
# Prints, per input: clips/s and video-seconds/s of tokenize, ffmpeg -c:v
# evatok's encode fps on the same frames, and the dataset's bytes per hour.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
real=${2:-}
ff=$build/ffmpeg_build/ffmpeg
cli=$build/tools/evatok
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
secs() { local t0 t1; t0=$(date +%s.%N); "$@" > /dev/null 2>&1; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); model: ${EVATOK_MODEL:-default}"
measure() {  # name, input (file or folder), video seconds, frames
  local name=$1 in=$2 vs=$3 frames=$4 ds=$tmp/ds-$1
  local tt te bytes clips
  tt=$(secs "$cli" tokenize "$in" --out "$ds" --quiet ${EVATOK_MODEL:+--model "$EVATOK_MODEL"})
  clips=$(/usr/bin/python3 -c "import json,glob; print(sum(json.load(open(f))['records'] for f in glob.glob('$ds/shard-*.json')))")
  bytes=$(du -cb "$ds"/shard-* | tail -1 | cut -f1)
  if [ -d "$in" ]; then
    te=0
    for f in "$in"/*.y4m; do
      te=$(echo "$te + $(secs "$ff" -nostdin -v error -y -i "$f" -c:v evatok ${EVATOK_MODEL:+-model "$EVATOK_MODEL"} "$tmp/o.mkv")" | bc -l)
    done
  else
    te=$(secs "$ff" -nostdin -v error -y -i "$in" -c:v evatok ${EVATOK_MODEL:+-model "$EVATOK_MODEL"} "$tmp/o.mkv")
  fi
  awk -v n="$name" -v tt="$tt" -v te="$te" -v c="$clips" -v vs="$vs" -v f="$frames" -v b="$bytes" 'BEGIN {
    printf "%-22s tokenize %6.2f s: %7.1f records/s, %6.2f video-s/s (%6.1f fps) | ffmpeg -c:v evatok %6.2f s (%6.1f fps) | %.1f MB per hour\n",
      n, tt, c / tt, vs / tt, f / tt, te, f / te, b / vs * 3600 / 1e6 }'
}
for size in 128x128 320x240; do
  "$ff" -nostdin -v error -y -f lavfi -i "testsrc2=s=$size:r=25" -frames:v 250 -pix_fmt yuv420p "$tmp/in-$size.y4m"
  measure "testsrc2-$size" "$tmp/in-$size.y4m" 10 250
done
if [ -n "$real" ]; then
  n=0; vs=0
  for f in "$real"/*.y4m; do
    k=$(($(grep -c -a '^FRAME' "$f")))
    n=$((n + k))
  done
  measure "real-clips-128x128" "$real" "$(echo "$n / 25" | bc -l)" "$n"
fi
