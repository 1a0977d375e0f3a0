#!/usr/bin/env bash
# A small held-out set that shows whether a model gives static content fewer
# tokens than dynamic content. From each photo, three 128x128, 25 fps,
# 48-frame clips at the same scale (the photo 768 px wide, a 256x256 window
# shrunk to 128x128) that start on the same frame, so that only the motion
# differs:
#   NAME-still    the window does not move
#   NAME-panslow  the window moves 1.5 px per frame (0.75 px in the clip)
#   NAME-busy     the window moves 6 px per frame (3 px in the clip) and a cut-out of another
#                 photo crosses it
# The photos default to the held-out wallpapers of data/make_corpus.sh (every
# fifth), so no training stage has seen them; or give image files.
#
# usage: data/make_motion_set.sh FFMPEG OUTDIR [IMAGE...]
set -euo pipefail
ff=${1:?path to ffmpeg}
out=${2:?output folder}
shift 2
if [ $# -gt 0 ]; then
  photos=("$@"); names=()
  for p in "${photos[@]}"; do
    [ -f "$p" ] || { echo "no such image: $p" >&2; exit 1; }
    b=$(basename "$p"); names+=("${b%.*}")
  done
else
  . "$(dirname "$0")/wallpapers.sh"
  list=$(list_wallpapers) || exit 1
  mapfile -t all <<< "$list"
  photos=(); names=()
  for k in "${!all[@]}"; do
    [ $((k % 5)) -eq 0 ] || continue
    photos+=("${all[$k]}"); names+=("photo$(printf %02d "$k")")
  done
fi
[ ${#photos[@]} -ge 2 ] || { echo "need at least two images (the busy clip moves one over another)" >&2; exit 1; }
mkdir -p "$out"
S=128 N=48
enc() {
  local o=${*: -1}
  "$ff" -nostdin -hide_banner -loglevel error -y "${@:1:$#-1}" -frames:v $N -pix_fmt yuv420p -f yuv4mpegpipe "$o"
}
# Each photo once at 768x448 (scaled to cover, centre cut: one shape whatever
# its aspect); -loop 1 would decode the full-size file for every frame. Every
# window starts at (144, 96) and stays inside it: the busy one moves 282 px.
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for k in "${!photos[@]}"; do
  "$ff" -nostdin -hide_banner -loglevel error -y -i "${photos[$k]}" \
    -vf "scale=768:448:force_original_aspect_ratio=increase,crop=768:448" "$tmp/$k.png"
  photos[$k]=$tmp/$k.png
done
fit=null
for k in "${!photos[@]}"; do
  o="$out/${names[$k]}"
  q=${photos[$(( (k + 1) % ${#photos[@]} ))]}
  src=(-loop 1 -framerate 25 -i "${photos[$k]}")
  enc "${src[@]}" -vf "$fit,crop=256:256:144:96,scale=$S:$S" "$o-still.y4m"
  enc "${src[@]}" -vf "$fit,crop=256:256:'144+n*1.5':96,scale=$S:$S" "$o-panslow.y4m"
  enc "${src[@]}" -loop 1 -framerate 25 -i "$q" -filter_complex \
    "[0]$fit,crop=256:256:'144+n*6':96,scale=$S:$S[bg];[1]scale=80:80:force_original_aspect_ratio=increase,crop=40:40[fg];[bg][fg]overlay=x='mod(n*5,$S)-20':y='44+20*sin(n/6)'" "$o-busy.y4m"
done
echo "motion set: $(ls "$out" | wc -l) clips in $out"
