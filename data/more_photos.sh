# Sourced by make_corpus.sh: photographs from Debian packages other than
# plasma-workspace-wallpapers, for the larger corpus (--more). In a fixed
# order; index k is held out when k is a multiple of 5. Left out on purpose:
# the two packages reserved for acceptance (never in training), gnome-backgrounds
# (abstract artwork, and WebP, which this project's ffmpeg does not decode),
# sway-backgrounds (logos), images under 150 KB (icons and thumbnails).
MORE_PHOTO_PKGS=(lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 ukui-wallpapers python3-skimage)
# photographs among python3-skimage's sample data (the rest are drawings,
# microscopy stains or tiny)
SKIMAGE_PHOTOS="astronaut brick camera chelsea coffee grass gravel hubble_deep_field motorcycle_left retina rocket"

# list_more_photos ROOT: prints the image paths under ROOT (where the packages
# were unpacked), one per line.
list_more_photos() {
  local root=$1 n
  {
    find "$root/usr/share/backgrounds" -maxdepth 1 -type f \( -name '*.jpg' -o -name '*.png' \) -size +150k
    for n in $SKIMAGE_PHOTOS; do
      find "$root/usr/lib/python3/dist-packages/skimage/data" -maxdepth 1 -type f -name "$n.*"
    done
  } | LC_ALL=C sort
}
