#!/usr/bin/env bash
# Speed of the AR model and the evatok_predict filter on this machine.
#
#   scripts/bench_ar.sh [BUILD_DIR] [AR_MODEL] [TOKENIZER]
#
# 1. `evatok bench-ar`: sampled tokens per second with the KV cache (the
#    sampler's half-float step, and LibTorch's float step for comparison) and
#    without it (lengths as sampled, and every block forced to the largest and
#    a middle budget), the half step's logit error against the float forward
#    pass, and seconds per predicted clip end to end, 2 threads.
# 2. The filter through ffmpeg: wall time of `-vf evatok_predict` on 20 frames
#    of testsrc2 at 64x64 and 320x240 (11 frames predicted), including the
#    loading of both models.
# Defaults: the shipped models (samples/models/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
ar=${2:-$root/samples/models/evatok-ar-default.safetensors}
tok=${3:-$root/samples/models/evatok-default.safetensors}
ff=$build/ffmpeg_build/ffmpeg
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB"
echo "AR model: $ar"
echo "tokenizer: $tok"
data=()
[ -d "$root/corpus/val" ] && data=(--data "$root/corpus/val")
"$build/tools/evatok" bench-ar --tokenizer "$tok" --ar "$ar" --threads 2 --runs 5 "${data[@]}"
echo "ffmpeg -vf evatok_predict (20 input frames, 11 predicted; wall time includes loading the models):"
for size in 64x64 320x240; do
  "$ff" -nostdin -v error -y -f lavfi -i "testsrc2=s=$size:r=25:d=0.8" -pix_fmt yuv420p -c:v rawvideo "$tmp/in.nut"
  t0=$(date +%s.%N)
  "$ff" -nostdin -v error -y -threads 2 -i "$tmp/in.nut" \
    -vf "evatok_predict=model=$tok:ar_model=$ar:threads=2" -f null -
  t1=$(date +%s.%N)
  "$ff" -nostdin -v error -y -threads 2 -i "$tmp/in.nut" -f null -
  t2=$(date +%s.%N)
  awk -v s=$size -v a="$t0" -v b="$t1" -v c="$t2" \
    'BEGIN { printf "  %-8s %.2f s (plain decode of the input: %.2f s)\n", s, b - a, c - b }'
done
