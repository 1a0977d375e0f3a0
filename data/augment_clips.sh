#!/usr/bin/env bash
# Camera-like copies of clips: data/make_corpus.sh's photographs are clean,
# sharp and saturated, real cameras are not. Every other clip of IN (in name
# order) gets one degraded copy in OUT, the kind chosen in turn:
#   noise  temporal sensor noise
#   lowres detail lost to a half-resolution sensor, then upscaled, light noise
#   dim    low light: darker, flatter, less colour, noise
#   blur   slight defocus
# Deterministic: the same IN gives the same OUT.
#
# usage: data/augment_clips.sh FFMPEG IN OUT
#   FFMPEG needs the noise, scale, hue, colorlevels and gblur filters: this
#   project's build/ffmpeg_build/ffmpeg or Debian's ffmpeg.
set -euo pipefail
ff=${1:?path to ffmpeg}
in=${2:?folder of .y4m clips}
out=${3:?output folder}
mkdir -p "$out"
kinds=(noise lowres dim blur)
filters=(
  "noise=alls=12:allf=t+u"
  "scale=iw/2:ih/2:flags=area,scale=iw*2:ih*2:flags=bicubic,noise=alls=6:allf=t"
  # RGB levels 0..1 -> 0.045..0.795 (contrast 0.75, 0.08 darker); hue's
  # saturation makes up for the chroma that the levels scale already
  "hue=s=0.933,colorlevels=romin=0.045:gomin=0.045:bomin=0.045:romax=0.795:gomax=0.795:bomax=0.795,noise=alls=10:allf=t"
  "gblur=sigma=0.9"
)
mapfile -t clips < <(find "$in" -maxdepth 1 -name '*.y4m' | sort)
[ ${#clips[@]} -gt 0 ] || { echo "no .y4m clips in $in" >&2; exit 1; }
for f in noise scale hue colorlevels gblur; do
  help=$("$ff" -hide_banner -h filter=$f 2>/dev/null || true)
  [[ $help == "Filter $f"* ]] ||
    { echo "$ff lacks the $f filter" >&2; exit 1; }
done
n=0
for k in "${!clips[@]}"; do
  [ $((k % 2)) -eq 1 ] || continue
  v=$(( (k / 2) % 4 ))
  "$ff" -nostdin -hide_banner -loglevel error -y -i "${clips[$k]}" -vf "${filters[$v]}" \
    -pix_fmt yuv420p -f yuv4mpegpipe "$out/aug-${kinds[$v]}-$(basename "${clips[$k]}")"
  n=$((n + 1))
done
echo "augmented: $n clips in $out"
