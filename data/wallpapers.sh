# Sourced by make_corpus.sh and make_motion_set.sh: the Debian wallpaper
# photographs (plasma-workspace-wallpapers), one per folder, its largest
# image, in a fixed order. Index k is held out when k is a multiple of 5.
#
# list_wallpapers: prints the paths, one per line; fails with a message when
# the package is missing.
list_wallpapers() {
  local d list
  list=$(for d in /usr/share/wallpapers/*/contents/images; do
    [ -d "$d" ] || continue
    find "$d" -maxdepth 1 \( -name '*.jpg' -o -name '*.png' \) -printf '%s %p\n' | sort -n | tail -n 1 | cut -d' ' -f2
  done | sort)
  [ -n "$list" ] || { echo "no wallpapers found: apt-get install plasma-workspace-wallpapers" >&2; return 1; }
  printf '%s\n' "$list"
}
