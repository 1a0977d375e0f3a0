#!/usr/bin/env bash
# Inter packets (bitstream 3, issue 23): the bytes of a 10-second still, slow
# pan and busy clip with every packet a keyframe (-g 12, FFmpeg's default,
# under one 16-frame packet) against a keyframe every 10 packets (-g 160), at
# the PSNR each gives; and the seams at packet joins (scripts/join_stats.py).
# The clips are 128x128 at 25 fps, 250 frames, cut like data/make_motion_set.sh's
# from two held-out wallpapers of data/make_corpus.sh.
#
#   scripts/bench_inter.sh [BUILD_DIR] [encoder options, e.g. -wq 4]
# Needs python3 with numpy ($PYTHON, default python3).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
if [ $# -ge 1 ] && [ -x "$1/ffmpeg_build/ffmpeg" ]; then build=$1; shift; fi
ff=$build/ffmpeg_build/ffmpeg
fp=$build/ffmpeg_build/ffprobe
py=${PYTHON:-python3}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$root/data/wallpapers.sh"
mapfile -t all <<< "$(list_wallpapers)"
for k in 0 5; do  # held out: every fifth wallpaper
  "$ff" -nostdin -loglevel error -y -i "${all[$k]}" \
    -vf "scale=768:448:force_original_aspect_ratio=increase,crop=768:448" "$tmp/p$k.png"
done
S=128 N=250
clip() {  # name, ffmpeg input and filter options
  local name=$1; shift
  "$ff" -nostdin -loglevel error -y "$@" -frames:v $N -pix_fmt yuv420p -f yuv4mpegpipe "$tmp/$name.y4m"
}
img=(-loop 1 -framerate 25 -i "$tmp/p0.png")
clip still "${img[@]}" -vf "crop=256:256:144:96,scale=$S:$S"
clip panslow "${img[@]}" -vf "crop=256:256:'144+n*0.75':96,scale=$S:$S"
clip busy "${img[@]}" -loop 1 -framerate 25 -i "$tmp/p5.png" -filter_complex \
  "[0]crop=256:256:'256+200*sin(n/8)':'96+60*sin(n/5)',scale=$S:$S[bg];[1]scale=80:80:force_original_aspect_ratio=increase,crop=40:40[fg];[bg][fg]overlay=x='mod(n*5,$S)-20':y='44+20*sin(n/6)'"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); options: ${*:-none}"
printf '%-8s %-6s %7s %6s %5s  %s\n' clip g bytes keys enc_s "decoded against the source"
for c in still panslow busy; do
  "$ff" -nostdin -loglevel error -y -i "$tmp/$c.y4m" -f rawvideo -pix_fmt rgb24 "$tmp/src.rgb"
  for g in 12 160; do
    t0=$(date +%s.%N)
    "$ff" -nostdin -loglevel error -y -i "$tmp/$c.y4m" -c:v evatok -g $g "$@" "$tmp/$c-$g.mkv"
    t1=$(date +%s.%N)
    bytes=$("$fp" -v error -show_entries packet=size -of csv=p=0 "$tmp/$c-$g.mkv" | awk '{ s += $1 } END { print s }')
    keys=$("$fp" -v error -show_entries packet=flags -of csv=p=0 "$tmp/$c-$g.mkv" | grep -c K)
    "$ff" -nostdin -loglevel error -y -i "$tmp/$c-$g.mkv" -f rawvideo -pix_fmt rgb24 "$tmp/out.rgb"
    printf '%-8s %-6s %7d %6d %5.1f  %s\n' "$c" "-g $g" "$bytes" "$keys" "$(echo "$t1 - $t0" | bc -l)" \
      "$("$py" "$root/scripts/join_stats.py" "$tmp/src.rgb" "$tmp/out.rgb" $S $S)"
  done
done
