#!/usr/bin/env bash
# Does a model shift the mean colour? The first 16 frames of a video go through
# the codec at one fixed rate (-assign uniform -tokens 32 unless other encoder options
# are given); prints the mean R, G, B of the source and of the decoded frames,
# the largest channel's difference of the two and their RGB PSNR. A short CPU
# training run can get the mean colour of smooth content wrong (see
# docs/experiments/carry-stats-recipe.md); this shows it in one number.
#
#   experiments/colour_shift.sh MODEL [VIDEO] [encoder options]
#
# VIDEO defaults to the shipped sample pan. Uses build/ffmpeg_build/ffmpeg
# (or $FFMPEG) and python3.
set -euo pipefail
usage="usage: colour_shift.sh MODEL [VIDEO] [encoder options]"
root=$(cd "$(dirname "$0")/.." && pwd)
model=${1:?$usage}; shift
video=$root/samples/clips/pan-192x144.mkv
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then video=$1; shift; fi
opts=("$@"); [ ${#opts[@]} -gt 0 ] || opts=(-assign uniform -tokens 32)
ff=${FFMPEG:-$root/build/ffmpeg_build/ffmpeg}
[ -x "$ff" ] || { echo "no patched ffmpeg at $ff (build first, or set FFMPEG)" >&2; exit 1; }
[ -f "$model" ] || { echo "no such model: $model" >&2; exit 1; }
[ -f "$video" ] || { echo "no such video: $video" >&2; exit 1; }
w=$(mktemp -d); trap 'rm -rf "$w"' EXIT
"$ff" -nostdin -v error -i "$video" -frames:v 16 -pix_fmt rgb24 -f rawvideo "$w/src.rgb"
"$ff" -nostdin -v error -i "$video" -frames:v 16 -c:v evatok -model "$model" "${opts[@]}" "$w/out.mkv"
"$ff" -nostdin -v error -model "$model" -i "$w/out.mkv" -pix_fmt rgb24 -f rawvideo "$w/dec.rgb"
python3 - "$w/src.rgb" "$w/dec.rgb" <<'EOF'
import math, sys
src, dec = (open(p, "rb").read() for p in sys.argv[1:3])
if not src or len(src) != len(dec):
    sys.exit("decoded size %d differs from the source's %d" % (len(dec), len(src)))
pixels = len(src) // 3
means = {}
for name, data in (("source", src), ("decoded", dec)):
    means[name] = [sum(data[c::3]) / pixels for c in range(3)]
    print("%-8s mean RGB %s" % (name, ", ".join("%.1f" % m for m in means[name])))
print("shift    %.1f levels (largest channel)" % max(abs(a - b) for a, b in zip(means["source"], means["decoded"])))
se = sum((a - b) * (a - b) for a, b in zip(src, dec))
print("PSNR     %.2f dB" % (10 * math.log10(255 * 255 * len(src) / se) if se else float("inf")))
EOF
