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
measure() {  # name, input (file or folder): frames and seconds come from the dataset
  local name=$1 in=$2 ds=$tmp/ds-$1
  local tt te bytes stats
  tt=$(secs "$cli" tokenize "$in" --out "$ds" --quiet ${EVATOK_MODEL:+--model "$EVATOK_MODEL"})
  stats=$(/usr/bin/python3 -c "
import json, glob
sh = [json.load(open(f)) for f in glob.glob('$ds/shard-*.json')]
print(sum(s['records'] for s in sh), sum(x['frames'] for s in sh for x in s['sources']),
      sum(x['frames'] / x['fps'] for s in sh for x in s['sources']))")
  bytes=$(du -cb "$ds"/shard-* | tail -1 | cut -f1)
  if [ -d "$in" ]; then  # one ffmpeg per file, as a user would run it (each loads the model)
    te=0
    for f in "$in"/*.y4m; do
      te=$(echo "$te + $(secs "$ff" -nostdin -v error -y -i "$f" -c:v evatok ${EVATOK_MODEL:+-model "$EVATOK_MODEL"} "$tmp/o.mkv")" | bc -l)
    done
  else
    te=$(secs "$ff" -nostdin -v error -y -i "$in" -c:v evatok ${EVATOK_MODEL:+-model "$EVATOK_MODEL"} "$tmp/o.mkv")
  fi
  read -r recs frames vs <<< "$stats"
  awk -v n="$name" -v tt="$tt" -v te="$te" -v c="$recs" -v vs="$vs" -v f="$frames" -v b="$bytes" 'BEGIN {
    printf "%-20s %5d frames: tokenize %6.2f s = %6.1f records/s, %5.2f video-s/s (%6.1f fps) | ffmpeg -c:v evatok %6.2f s (%6.1f fps) | dataset %.1f MB per hour\n",
      n, f, tt, c / tt, vs / tt, f / tt, te, f / te, b / vs * 3600 / 1e6 }'
}
for size in 128x128 320x240; do
  "$ff" -nostdin -v error -y -f lavfi -i "testsrc2=s=$size:r=25" -frames:v 250 -pix_fmt yuv420p "$tmp/in-$size.y4m"
  measure "testsrc2-$size" "$tmp/in-$size.y4m"
done
if [ -n "$real" ]; then
  measure "real-clips-128x128" "$real"
fi
