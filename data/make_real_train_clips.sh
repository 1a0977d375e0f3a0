#!/usr/bin/env bash
# Builds TRAINING clips of real camera footage from sample videos in Debian
# packages. None of these videos is in data/make_real_clips.sh's held-out set
# (those stay unseen); they add camera noise, blur, compression and real motion
# to data/make_corpus.sh's moving photographs.
#
#   package              video                        what it shows
#   node-opencv          motion.mov                   fixed camera, a coin pushed over paper
#   python-nbsphinx-doc  Shepard_Calais_1906_...ogv   1906 film, black and white, a race track
#   kphotoalbum          movie.avi                    webcam, a man in a room
#   python3-mecavideo    Effet_force_magnetique.ogv   top view, pucks on a table, a hand
#                        g1.avi, g2.avi               outdoors, a cyclist
# Left out: animations (openboard's, retroMars2018), clips under 16 frames, and
# Principe_inertie.avi and Force_constante.avi (they start without a keyframe,
# so every frame is concealment garbage).
#
# Each clip is up to 64 frames, 128x128 Y4M. Wide frames give a left, centre
# and right crop; longer videos several windows. Frame rates stay as stored.
#
# usage: data/make_real_train_clips.sh FFMPEG OUTDIR [DEB_DIR]
#   FFMPEG must decode theora, mpeg4, mjpeg and h264: Debian's ffmpeg
#   (apt-get install ffmpeg). The packages come from `apt-get download` unless
#   DEB_DIR holds their .deb files.
set -euo pipefail
. "$(dirname "$0")/debian_debs.sh"
ff=${1:?path to an ffmpeg with the common decoders}
out=${2:?output folder}
debs=${3:-}
pkgs=(node-opencv python-nbsphinx-doc kphotoalbum python3-mecavideo)
mkdir -p "$out"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
unpack_debs "$tmp" "$debs" "${pkgs[@]}"
x=$tmp/x/usr

# clip NAME INPUT "CROPS" START_SECONDS...: for each start, one 128x128 clip per
# crop position (l, c, r: where the square sits in the scaled frame)
clip() {
  local name=$1 in=$2 crops=$3 s c cx; shift 3
  for s in "$@"; do
    for c in $crops; do
      case $c in l) cx=0 ;; c) cx='(iw-128)/2' ;; r) cx='iw-128' ;; esac
      "$ff" -nostdin -hide_banner -loglevel error -y -ss "$s" -i "$in" -an \
        -vf "scale=-2:128,crop=128:128:$cx:0,setsar=1" -frames:v 64 -pix_fmt yuv420p \
        -f yuv4mpegpipe "$out/train-real-$name-$(printf %02d "$s")s-$c.y4m"
    done
  done
}
mv=$x/share/pymecavideo/data/video
clip coin "$x/share/doc/node-opencv/examples/files/motion.mov" "l c r" 0 2 4 6
clip calais "$x/share/doc/python-nbsphinx/html/www/wikimediacommons/Shepard_Calais_1906_FrenchGP.ogv" "l r" 0 4 8 12 16
clip webcam "$x/share/kphotoalbum/demo/movie.avi" "l r" 0
clip magnet "$mv/Effet_force_magnetique.ogv" "l c r" 0
clip cyclist1 "$mv/g1.avi" "l c r" 0
clip cyclist2 "$mv/g2.avi" "l c r" 0
echo "real training footage: $(ls "$out" | wc -l) clips in $out"
