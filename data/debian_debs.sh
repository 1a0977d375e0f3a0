# Sourced by the scripts that cut clips from sample videos in Debian packages.
#
# unpack_debs TMP DEB_DIR PKG...: extracts every PKG's .deb into TMP/x. The
# .deb files come from DEB_DIR, or when DEB_DIR is empty from
# `apt-get download` into TMP/debs. Exits with a reason when one is missing.
unpack_debs() {
  local tmp=$1 debs=$2 p deb; shift 2
  if [ -z "$debs" ]; then
    debs=$tmp/debs; mkdir -p "$debs"
    (cd "$debs" && apt-get download "$@" >/dev/null) ||
      { echo "could not download $* (run apt-get update first, or pass a folder of .debs)" >&2; exit 1; }
  fi
  for p in "$@"; do
    deb=$(ls "$debs"/${p}_*.deb 2>/dev/null | head -n 1 || true)
    [ -n "$deb" ] || { echo "no ${p}_*.deb in $debs" >&2; exit 1; }
    dpkg-deb -x "$deb" "$tmp/x"
  done
}
