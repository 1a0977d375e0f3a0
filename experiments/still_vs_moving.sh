#!/usr/bin/env bash
# Does a model give still content fewer tokens than moving content? For every
# video in DIR, its first 16 frames (centre crop SIZE x SIZE) and the same
# crop's first frame held for 16 frames go through the codec at each wq; the
# router's assignments come back from ffprobe. Writes one CSV row per clip,
# kind (moving/frozen) and wq, and prints per wq and kind the mean tokens per
# tile of block 1, of blocks 2 to 4 and in all, and how often the frozen
# clip's later blocks get fewer, as many or more tokens than the moving one's.
#
#   experiments/still_vs_moving.sh MODEL DIR OUT.csv [--size 128] [--wq 1.2,4]
#
# Uses build/ffmpeg_build/ffmpeg and ffprobe (or $FFMPEG and $FFPROBE).
set -euo pipefail
usage="usage: still_vs_moving.sh MODEL DIR OUT.csv [--size 128] [--wq 1.2,4]"
[ $# -ge 3 ] || { echo "$usage" >&2; exit 2; }
model=$1 dir=$2 csv=$3
shift 3
size=128 wqs=1.2,4
while [ $# -gt 0 ]; do
  case $1 in
    --size) size=${2:?--size needs a value}; shift 2 ;;
    --wq) wqs=${2:?--wq needs a value}; shift 2 ;;
    *) echo "unknown option $1; $usage" >&2; exit 2 ;;
  esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
ff=${FFMPEG:-$root/build/ffmpeg_build/ffmpeg} fp=${FFPROBE:-$root/build/ffmpeg_build/ffprobe}
[ -x "$ff" ] && [ -x "$fp" ] || { echo "no patched ffmpeg/ffprobe at $ff (build first, or set FFMPEG and FFPROBE)" >&2; exit 1; }
[ -f "$model" ] || { echo "no such model: $model" >&2; exit 1; }
[ -d "$dir" ] || { echo "no such folder: $dir" >&2; exit 1; }
[[ $size =~ ^[0-9]+$ ]] && [ "$size" -ge 16 ] || { echo "--size must be a whole number of at least 16" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
q() { "$ff" -nostdin -hide_banner -loglevel error -y "$@"; }
echo "wq,clip,kind,assignment" > "$csv"
n=0
for v in "$dir"/*; do
  [ -f "$v" ] || continue
  name=$(basename "${v%.*}")
  crop="crop=w='min(iw,$size)':h='min(ih,$size)'"
  if ! q -i "$v" -vf "$crop,setpts=N/25/TB" -frames:v 16 -pix_fmt rgb24 -c:v rawvideo "$tmp/moving.nut" ||
     ! q -i "$v" -vf "$crop,trim=end_frame=1,loop=loop=15:size=1,setpts=N/25/TB" -frames:v 16 \
         -pix_fmt rgb24 -c:v rawvideo "$tmp/frozen.nut"; then
    echo "skipped $v: ffmpeg cannot read it" >&2
    continue
  fi
  for w in ${wqs//,/ }; do
    for k in moving frozen; do
      q -i "$tmp/$k.nut" -c:v evatok -model "$model" -wq "$w" "$tmp/$k.mkv" ||
        { echo "encoding $v ($k, wq $w) failed" >&2; exit 1; }
      a=$("$fp" -v error -model "$model" -show_entries frame_tags=lavc.evatok.assignment -of csv=p=0 "$tmp/$k.mkv" |
          sed -n 1p | tr -d '"')
      echo "$w,$name,$k,\"$a\"" >> "$csv"
    done
  done
  n=$((n + 1))
done
[ $n -gt 0 ] || { echo "no readable videos in $dir" >&2; exit 1; }
# assignment: tiles separated by ';', blocks by ','
awk -F'"' 'NR > 1 {
    split($1, f, ","); w = f[1]; clip = f[2]; k = f[3]
    nt = split($2, tiles, ";"); b1 = 0; later = 0
    for (t = 1; t <= nt; t++) { nb = split(tiles[t], b, ","); b1 += b[1]; for (i = 2; i <= nb; i++) later += b[i] }
    key = w " " k; c[key]++; B[key] += b1 / nt; L[key] += later / nt
    per[w "," clip "," k] = later / nt; ws[w] = 1; clips[clip] = 1
  }
  END {
    printf "%-5s %-7s %5s %8s %7s %7s   frozen later blocks vs moving\n", "wq", "kind", "clips", "block-1", "later", "total"
    for (w in ws) {
      fewer = same = more = 0
      for (cl in clips) {
        a = per[w "," cl ",frozen"]; m = per[w "," cl ",moving"]
        if (a < m) fewer++; else if (a == m) same++; else more++
      }
      for (kk = 1; kk <= 2; kk++) {
        k = kk == 1 ? "moving" : "frozen"; key = w " " k
        printf "%-5s %-7s %5d %8.1f %7.1f %7.1f", w, k, c[key], B[key] / c[key], L[key] / c[key], (B[key] + L[key]) / c[key]
        if (k == "frozen") printf "   fewer %d, as many %d, more %d", fewer, same, more
        printf "\n"
      }
    }
  }' "$csv" | { read -r header; echo "$header"; sort -k1,1n -k2,2r; }
echo "(tokens per tile; rows per clip in $csv)"
