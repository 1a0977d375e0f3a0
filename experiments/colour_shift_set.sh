#!/usr/bin/env bash
# colour_shift.sh over every video of a folder: one line per clip (its largest
# channel's mean-colour shift in levels, and its RGB PSNR), then the mean shift over
# all clips and over the clips whose source is not saturated (every channel's mean
# under 200: saturated colours are a known weakness, and a green screen's 40-level
# shift would hide what the other clips do).
#
#   experiments/colour_shift_set.sh MODEL DIR [encoder options]
#
# Encoder options as for colour_shift.sh (default -assign uniform -tokens 32).
set -euo pipefail
usage="usage: colour_shift_set.sh MODEL DIR [encoder options]"
here=$(cd "$(dirname "$0")" && pwd)
model=${1:?$usage}; dir=${2:?$usage}; shift 2
[ -d "$dir" ] || { echo "no such folder: $dir" >&2; exit 1; }
for v in "$dir"/*.y4m "$dir"/*.mkv "$dir"/*.nut "$dir"/*.mp4; do
  [ -f "$v" ] || continue
  out=$("$here/colour_shift.sh" "$model" "$v" "$@")
  src=$(echo "$out" | sed -n 's/^source *mean RGB //p')
  shift_=$(echo "$out" | sed -n 's/^shift *\([0-9.]*\) levels.*/\1/p')
  psnr=$(echo "$out" | sed -n 's/^PSNR *\([0-9.inf]*\) dB/\1/p')
  sat=$(echo "$src" | awk -F', ' '{ print ($1 >= 200 || $2 >= 200 || $3 >= 200) ? 1 : 0 }')
  printf '%s shift %s psnr %s%s\n' "$(basename "$v")" "$shift_" "$psnr" "$( [ "$sat" = 1 ] && echo ' saturated')"
done | awk '{ print } $3 != "" { s += $3; k++; if ($6 != "saturated") { u += $3; m++ } }
  END { if (!k) { print "no videos" > "/dev/stderr"; exit 1 }
        printf "mean shift %.2f levels over %d clips; %.2f over the %d unsaturated\n", s / k, k, m ? u / m : 0, m }'
