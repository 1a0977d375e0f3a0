#!/usr/bin/env bash
# Builds a small set of held-out clips of REAL camera footage from the sample
# videos that Debian's opencv-doc package ships (no training stage reads them):
#   vtest.avi  static surveillance camera, people walking   (768x576, 10 fps, 80 s)
#   box.mp4    hand-held camera, a box moved by hand        (640x480, 30 fps, 15 s)
#   cup.mp4    fixed camera, a cup moved by hand            (640x480, 27 fps, 8 s)
# Left out: Megamind.avi (animation) and tree.avi (68 frames in 30 s, so not
# continuous motion).
# Each clip is 48 frames at the video's own frame rate, short side scaled to
# 128 and centre-cropped to 128x128, as Y4M, like data/make_corpus.sh's clips.
#
# usage: data/make_real_clips.sh FFMPEG OUTDIR [opencv-doc.deb]
#   FFMPEG must decode msmpeg4v3 and h264: Debian's ffmpeg (apt-get install
#   ffmpeg), not this project's minimal build. Without the .deb, it is fetched
#   with `apt-get download opencv-doc` (Debian's package registry).
set -euo pipefail
ff=${1:?path to an ffmpeg that decodes msmpeg4v3 and h264}
out=${2:?output folder}
deb=${3:-}
mkdir -p "$out"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
if [ -z "$deb" ]; then
  (cd "$tmp" && apt-get download opencv-doc >/dev/null) ||
    { echo "could not download opencv-doc (run apt-get update first, or pass the .deb)" >&2; exit 1; }
  deb=$(ls "$tmp"/opencv-doc_*.deb)
fi
dpkg-deb -x "$deb" "$tmp/x"
doc="$tmp/x/usr/share/doc/opencv-doc"
gunzip -c "$doc/opencv4/html/box.mp4.gz" > "$tmp/box.mp4"
gunzip -c "$doc/opencv4/html/cup.mp4.gz" > "$tmp/cup.mp4"

# clip NAME INPUT START_SECONDS
clip() {
  "$ff" -nostdin -hide_banner -loglevel error -y -ss "$3" -i "$2" -an \
    -vf "scale=-2:128,crop=128:128" -frames:v 48 -pix_fmt yuv420p -f yuv4mpegpipe \
    "$out/real-$1-$(printf %02d "$3")s.y4m"
}
for s in 0 10 20 30 40 50 60 70; do clip vtest "$doc/examples/data/vtest.avi" $s; done
for s in 0 4 8 12; do clip box "$tmp/box.mp4" $s; done
for s in 0 3 6; do clip cup "$tmp/cup.mp4" $s; done
echo "real footage: $(ls "$out" | wc -l) clips in $out"
