#!/usr/bin/env bash
# More training pictures for issue 23: photographic surfaces (stone, bark,
# grass, sand, wood, water, brick, snow) and a few more photographs, from Debian
# packages other than those of data/make_corpus.sh, turned into clips with the
# same seven motions (still, slow and fast pan, zoom, shake, moving object,
# cut). Real camera footage is full of such texture; the wallpaper photographs
# of the corpus are mostly smooth skies and bokeh.
#
#   package                 pictures
#   supertuxkart-data       the game's photographic textures: every .jpg under
#                           data/textures and data/tracks (JPEG is what its
#                           artists used for photos; drawings are PNG), less
#                           normal, specular and mask maps, skies and karts
#   extremetuxracer-data    terrains/: snow, ice, rock, grass, mud photographs
#   palapeli-data           the jigsaw puzzles: five photographs
#   python3-sklearn         datasets/images: china.jpg, flower.jpg
# Left out: the two packages reserved for acceptance (never in training), and
# images under 100 KB (icons, small sprites).
#
# In a fixed order; the picture of index k goes to OUT/val (held out: no
# training stage reads it) when k is a multiple of 5, the rest to OUT/train.
# An interrupted run resumes: pictures whose clips exist are skipped.
#
# usage: data/make_texture_clips.sh FFMPEG OUT [DEB_DIR]
#   FFMPEG: this project's build/ffmpeg_build/ffmpeg or Debian's. The packages
#   come from `apt-get download` unless DEB_DIR holds their .deb files.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ff=${1:?usage: make_texture_clips.sh FFMPEG OUT [DEB_DIR]}
out=${2:?missing OUT}
debs=${3:-}
pkgs=(supertuxkart-data extremetuxracer-data palapeli-data python3-sklearn)
mkdir -p "$out/train" "$out/val"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$here/debian_debs.sh"
. "$here/photo_motion.sh"
unpack_debs "$tmp" "$debs" "${pkgs[@]}"
x=$tmp/x/usr

# File names that mark a texture as something other than a photograph of a surface.
not_photo='_nm|normal|mask|_n[.]|spec|gloss|height|bump|displace|caust|alpha|eye|cloth|body|logo|font|icon|gui|sky|light|shadow|particle|flare'
mapfile -t pics < <(
  {
    find "$x/share/games/supertuxkart/data/textures" "$x/share/games/supertuxkart/data/tracks" \
      -path '*/deprecated' -prune -o -type f -iname '*.jpg' -size +100k -print
    find "$x/share/games/etr/terrains" -type f -iname '*.png' -size +100k
    find "$x/share/palapeli/collection" -type f -iname '*.jpg'
    find "$x/lib/python3/dist-packages/sklearn/datasets/images" -type f -iname '*.jpg'
  } | awk -F/ -v re="$not_photo" 'tolower($NF) !~ re' | LC_ALL=C sort)
[ ${#pics[@]} -ge 100 ] || { echo "only ${#pics[@]} pictures in ${pkgs[*]}" >&2; exit 1; }
printf '%s\n' "${pics[@]#$tmp/x}" > "$out/pictures.txt"
# Textures come in strips too (2048x256): the centre at most 3:2 either way,
# so that every motion's crop window fits.
k=0 cropped=()
for f in "${pics[@]}"; do
  "$ff" -nostdin -hide_banner -loglevel error -y -i "$f" -vf "crop='min(iw,ih*3/2)':'min(ih,iw*3/2)'" "$tmp/c$k.png"
  cropped+=("$tmp/c$k.png"); k=$((k + 1))
done
shrink_all t "${cropped[@]}"
photo_set "$out/train" "$out/val" tex "${small[@]}"
echo "texture clips: ${#pics[@]} pictures (list in $out/pictures.txt), $(ls "$out/train" | wc -l) training and $(ls "$out/val" | wc -l) held-out clips in $out"
