#!/usr/bin/env bash
# -threads 1 and 2 of one or more libevatok builds, idle and beside a busy
# core (docs/benchmarks.md, issue 22): whole ffmpeg runs over 96 frames of
# testsrc2 at 128x128 and 320x240, and the exact search over 16 frames of
# 64x64. Each LIB is copied over BUILD_DIR's libevatok.so.0.1.0 in turn (the
# built ffmpeg loads it from there); the original is put back at the end.
#
#   scripts/bench_threads.sh BUILD_DIR LIB [LIB ...]
set -euo pipefail
build=${1:?usage: bench_threads.sh BUILD_DIR LIB [LIB ...]}
shift
[ $# -ge 1 ] || { echo "usage: bench_threads.sh BUILD_DIR LIB [LIB ...]" >&2; exit 2; }
ff=$build/ffmpeg_build/ffmpeg
so=$build/model_runtime/libevatok.so.0.1.0
tmp=$(mktemp -d)
cp "$so" "$tmp/original.so"
busy=
cleanup() { [ -n "$busy" ] && kill "$busy" 2> /dev/null; cp "$tmp/original.so" "$so"; rm -rf "$tmp"; }
trap cleanup EXIT
for s in 128x128 320x240; do
  "$ff" -nostdin -loglevel error -y -f lavfi -i "testsrc2=size=$s:rate=25" -frames:v 96 -pix_fmt rgb24 -c:v ffv1 "$tmp/src-$s.nut"
done
"$ff" -nostdin -loglevel error -y -f lavfi -i testsrc2=size=64x64:rate=25 -frames:v 16 -pix_fmt rgb24 -c:v ffv1 "$tmp/src-64.nut"
secs() {  # wall seconds of a command
  local t0; t0=$(date +%s.%N)
  "$@" > /dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
  echo "$(date +%s.%N) - $t0" | bc | xargs printf '%.2f'
}
for lib in "$@"; do
  cp "$lib" "$so"
  for th in 1 2; do
    for s in 128x128 320x240; do
      e=$(secs "$ff" -nostdin -y -i "$tmp/src-$s.nut" -c:v evatok -threads $th "$tmp/o-$s.mkv")
      d=$(secs "$ff" -nostdin -threads $th -i "$tmp/o-$s.mkv" -f null -)
      echo "$lib -threads $th, idle: $s encode $e s, decode $d s"
    done
    x=$(secs "$ff" -nostdin -y -i "$tmp/src-64.nut" -c:v evatok -assign exact -threads $th -f null -)
    echo "$lib -threads $th, idle: exact search 64x64 $x s"
    ( while :; do :; done ) & busy=$!
    x=$(secs "$ff" -nostdin -y -i "$tmp/src-64.nut" -c:v evatok -assign exact -threads $th -f null -)
    d=$(secs "$ff" -nostdin -threads $th -i "$tmp/o-320x240.mkv" -f null -)
    kill "$busy"; busy=
    echo "$lib -threads $th, one core busy: exact search 64x64 $x s, 320x240 decode $d s"
  done
done
