#!/usr/bin/env bash
# The rate-distortion figure of experiments/rd_points.sh's CSV with gnuplot:
# bytes per 48 frames (log scale) against RGB PSNR, one line per codec and mode.
#   experiments/rd_plot.sh POINTS.csv OUT.png [TITLE]
set -euo pipefail
csv=${1:?usage: rd_plot.sh POINTS.csv OUT.png [TITLE]}
png=${2:?missing OUT.png}
title=${3:-rate and distortion}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# one data file per series, points sorted by bytes
declare -A label=(
  [evatok-v1-router]="evatok v1 (12 bits/token), router at several -wq"
  [evatok-v2-router]="evatok v2 (range-coded), router at several -wq"
  [evatok-v1-uniform]="evatok v1, uniform tokens per block"
  [evatok-v2-uniform]="evatok v2, uniform tokens per block"
  [x264]="x264 -preset medium, crf 40 to 51"
  [x265]="x265 -preset medium, crf 40 to 51")
plot=()
for s in evatok-v1-router evatok-v2-router evatok-v1-uniform evatok-v2-uniform x264 x265; do
  grep "^$s" "$csv" | cut -d, -f2,3 | tr , ' ' | sort -n > "$tmp/$s.dat" || true
  [ -s "$tmp/$s.dat" ] || continue
  dash=1; [[ $s == *v1* ]] && dash=2
  plot+=("'$tmp/$s.dat' using 1:2 with linespoints dashtype $dash lw 2 pt 7 title '${label[$s]}'")
done
[ ${#plot[@]} -gt 0 ] || { echo "no points in $csv" >&2; exit 1; }
{
  echo "set terminal pngcairo size 900,600 noenhanced font 'sans,11'"
  echo "set output '$png'"
  printf 'set title "%s"\n' "${title//\"/}"
  echo "set logscale x"
  echo "set xlabel 'bytes per 48 frames (128x128)'"
  echo "set ylabel 'PSNR, RGB (dB)'"
  echo "set grid"
  echo "set key top left"
  (IFS=,; echo "plot ${plot[*]}")
} > "$tmp/plot.gp"
gnuplot "$tmp/plot.gp"
