#!/usr/bin/env bash
# One command from a fresh clone to a working patched FFmpeg with the evatok
# codec, then the main job on the shipped sample (scripts/demo.sh).
#
#   scripts/setup.sh            (as root on Debian bookworm; re-runs rebuild only what changed)
#
# Steps: Debian packages (skipped when present), FFmpeg 5.1.9 source from
# Debian's source package into build/ffmpeg-src, meson setup + ninja (libevatok,
# tools, tests, patched ffmpeg/ffprobe/ffplay in build/ffmpeg_build/), demo.
# Environment: EVATOK_BUILD (build folder, default build), EVATOK_SKIP_DEMO=1.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${EVATOK_BUILD:-$root/build}
t0=$(date +%s)
step() { echo "== setup [$(( $(date +%s) - t0 ))s] $*"; }

packages=(
  build-essential pkg-config meson ninja-build nasm python3 xz-utils dpkg-dev
  libtorch-dev libopenblas0-pthread nlohmann-json3-dev libcmocka-dev libcli11-dev
  zlib1g-dev libsdl2-dev libdav1d-dev
  plasma-workspace-wallpapers   # photographs for the training corpus (data/make_corpus.sh)
  libavformat-dev libavcodec-dev libswscale-dev libavutil-dev  # training/eval video input (system FFmpeg)
  gnuplot-nox                   # quality-cost curves of evatok eval
  python3-numpy                 # the Python package (python/evatok) and its test
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "setup: run as root to install: ${missing[*]}" >&2; exit 1; }
  step "installing Debian packages: ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# LibTorch must use OpenBLAS, not reference BLAS (~20x slower matrix products).
if update-alternatives --query libblas.so.3-x86_64-linux-gnu 2>/dev/null | grep -q '^Value:.*netlib'; then
  update-alternatives --set libblas.so.3-x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3
fi

step "FFmpeg source"
"$root/ffmpeg_build/fetch.sh" "$build/ffmpeg-src"

if [ ! -f "$build/build.ninja" ]; then
  step "meson setup $build"
  meson setup "$build" "$root"
fi
step "building libevatok, tools, tests and the patched FFmpeg"
ninja -C "$build"
step "build done"

if [ "${EVATOK_SKIP_DEMO:-0}" != 1 ]; then
  step "main job"
  "$root/scripts/demo.sh" "$build"
fi
step "finished"
