#!/usr/bin/env bash
# Builds the training/held-out corpus reproducibly from Debian-packaged
# photographs (plasma-workspace-wallpapers) and FFmpeg's synthetic sources.
# Every clip is a 128x128, 25 fps, 48-frame Y4M file. Photos whose index is a
# multiple of 5, and the synthetic sources with the "val" seeds, form the
# held-out split (OUT/val); no training stage reads it.
#
# --more adds the photographs of data/more_photos.sh (four more packages,
# fetched with apt-get download, or from DEB_DIR) with the same seven motions:
# their training clips go to OUT/train-more, every fifth photo's to
# OUT/val-more. OUT/train and OUT/val stay exactly what they are without it, so
# figures on OUT/val stay comparable.
#
# usage: data/make_corpus.sh FFMPEG OUTDIR [--more [DEB_DIR]]
set -euo pipefail
ff=${1:?path to ffmpeg}
out=${2:?output folder}
more=${3:-}
debs=${4:-}
[ -z "$more" ] || [ "$more" = --more ] || { echo "unknown option: $more (only --more)" >&2; exit 1; }
mkdir -p "$out/train" "$out/val"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/photo_motion.sh"

# One picture per wallpaper folder: its largest image (data/wallpapers.sh).
. "$(dirname "$0")/wallpapers.sh"
list=$(list_wallpapers) || exit 1
mapfile -t photos <<< "$list"
shrink_all p "${photos[@]}"
photo_set "$out/train" "$out/val" photo "${small[@]}"

if [ -n "$more" ]; then
  . "$(dirname "$0")/debian_debs.sh"
  . "$(dirname "$0")/more_photos.sh"
  unpack_debs "$tmp" "$debs" "${MORE_PHOTO_PKGS[@]}"
  mapfile -t extra < <(list_more_photos "$tmp/x")
  [ ${#extra[@]} -ge 10 ] || { echo "only ${#extra[@]} photos in ${MORE_PHOTO_PKGS[*]}" >&2; exit 1; }
  mkdir -p "$out/train-more" "$out/val-more"
  shrink_all m "${extra[@]}"
  photo_set "$out/train-more" "$out/val-more" more "${small[@]}"
fi

# Synthetic motion of known complexity; seeds differ between the splits.
for split in train val; do
  s=1; [ $split = val ] && s=7
  o="$out/$split/synth"
  enc -f lavfi -i "testsrc2=s=${S}x$S:r=25" "$o-testsrc2.y4m"
  enc -f lavfi -i "mandelbrot=s=${S}x$S:r=25:start_scale=$((2 + s)):end_scale=0.01" "$o-mandelbrot.y4m"
  enc -f lavfi -i "life=s=${S}x$S:r=25:seed=$s:mold=10:ratio=0.$((1 + s))" "$o-life.y4m"
  enc -f lavfi -i "cellauto=s=${S}x$S:r=25:rule=$((18 + 12 * s)):seed=$s" "$o-cellauto.y4m"
  enc -f lavfi -i "gradients=s=${S}x$S:r=25:speed=0.0$s:seed=$s" "$o-gradients.y4m"
  enc -f lavfi -i "smptebars=s=${S}x$S:r=25" "$o-smptebars.y4m"
done
echo "corpus: $(ls "$out/train" | wc -l) training and $(ls "$out/val" | wc -l) held-out clips in $out"
[ -z "$more" ] || echo "more photos: $(ls "$out/train-more" | wc -l) training and $(ls "$out/val-more" | wc -l) held-out clips in $out"
