#!/usr/bin/env bash
# Builds libevatok and the `evatok` training CLI against the LibTorch inside an
# installed PyTorch (for example a CUDA build on a GPU machine), without the
# patched FFmpeg or the tests:
#
#   scripts/build-with-pytorch.sh [BUILD_DIR]        (default build-pytorch)
#   BUILD_DIR/tools/evatok train-tokenizer ... --device cuda
#
# Needs python3 with torch, a C++17 compiler, meson, ninja and the
# nlohmann/json.hpp header (EVATOK_EXTRA_INCLUDE=DIR adds a folder holding
# nlohmann/ when the system has none).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-pytorch}
read -r tdir abi < <(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__), int(torch._C._GLIBCXX_USE_CXX11_ABI))')
echo "LibTorch from PyTorch at $tdir (C++11 ABI $abi), CUDA: $(python3 -c 'import torch; print(torch.version.cuda)')"
args=(-Dtorch_dir="$tdir" -Dcxx11_abi="$abi" -Dffmpeg=disabled -Dtests=false)
[ -n "${EVATOK_EXTRA_INCLUDE:-}" ] && args+=(-Dcpp_args="-I$EVATOK_EXTRA_INCLUDE")
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$root" "${args[@]}"
fi
# Newer LibTorch releases may need a newer C++ standard than ours.
if ! ninja -C "$build"; then
  echo "build failed with C++17; retrying with C++20"
  meson configure "$build" -Dcpp_std=c++20
  ninja -C "$build"
fi
