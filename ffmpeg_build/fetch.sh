#!/bin/sh
# Fetch Debian's FFmpeg 5.1.9 source package (Debian patches applied) into DEST.
#
#   ffmpeg_build/fetch.sh DEST
#
# Run as root (it may add deb-src entries and run apt-get update). Idempotent:
# when DEST already holds an unpacked 5.1.9 tree nothing is done. The tree is
# never modified afterwards; build.sh copies it before patching.
set -eu

VERSION_PREFIX='7:5.1.9'   # Debian bookworm's 5.1.9 (any Debian revision)
dest=${1:?usage: fetch.sh DEST}

if [ -f "$dest/configure" ] && [ -f "$dest/libavcodec/codec_desc.c" ] && \
   grep -q '^5\.1\.9' "$dest/RELEASE" 2>/dev/null; then
    echo "fetch.sh: FFmpeg 5.1.9 source already at $dest"
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "fetch.sh: run as root (needs apt-get); or unpack ffmpeg 5.1.9 into $dest yourself" >&2
    exit 1
fi

# deb-src entries for the suites the binary entries already use.
if ! grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "fetch.sh: adding deb-src entries (/etc/apt/sources.list.d/evatok-src.sources)"
    {
        echo "Types: deb-src"
        echo "URIs: http://deb.debian.org/debian"
        echo "Suites: bookworm bookworm-updates"
        echo "Components: main"
        echo "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
        echo
        echo "Types: deb-src"
        echo "URIs: http://deb.debian.org/debian-security"
        echo "Suites: bookworm-security"
        echo "Components: main"
        echo "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
    } > /etc/apt/sources.list.d/evatok-src.sources
    apt-get update
fi
command -v dpkg-source >/dev/null || apt-get install -y --no-install-recommends dpkg-dev

parent=$(dirname "$dest")
mkdir -p "$parent"
work=$(mktemp -d "$parent/.ffmpeg-fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
# apt-get source wants an exact version: pick the newest 5.1.9 revision known.
find_version() {
    apt-cache showsrc ffmpeg 2>/dev/null | sed -n "s/^Version: \($VERSION_PREFIX[-+~.0-9a-z]*\)\$/\1/p" |
        sort -u | tail -n 1
}
version=$(find_version)
if [ -z "$version" ]; then
    apt-get update   # the package index may be stale
    version=$(find_version)
fi
[ -n "$version" ] || { echo "fetch.sh: no ffmpeg $VERSION_PREFIX source package in the apt sources" >&2; exit 1; }
echo "fetch.sh: fetching ffmpeg $version source"
(cd "$work" && apt-get source --only-source "ffmpeg=$version")
tree=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'ffmpeg-5.1.9*' | head -n 1)
[ -n "$tree" ] && [ -f "$tree/configure" ] || { echo "fetch.sh: unpacking failed" >&2; exit 1; }
rm -rf "$dest"
mv "$tree" "$dest"
echo "fetch.sh: FFmpeg source ready at $dest"
