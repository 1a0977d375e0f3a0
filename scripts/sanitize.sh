#!/usr/bin/env bash
# libevatok, the evatok tool and the unit tests built with AddressSanitizer
# and UndefinedBehaviorSanitizer (docs/hardening.md); CI runs it:
#   scripts/sanitize.sh [BUILD_DIR] [meson test arguments, default: --suite unit]
#   scripts/sanitize.sh --build-only [BUILD_DIR]      (scripts/fuzz.sh uses this)
# Configures BUILD_DIR (default build-sanitize) with clang, ASan + UBSan and
# -Dlibfuzzer=true (so the same build holds the libFuzzer targets; their unit
# tests are short libFuzzer runs from the seed corpus), without the patched
# FFmpeg (scripts/sanitize_ffmpeg.sh covers the ffmpeg path). A unity build:
# LibTorch's headers are parsed once per few sources, which makes the build
# several times faster. Debian's LibTorch is not instrumented; reports inside
# it that are not ours would be suppressed by name in tests/sanitize/*.supp.
# Installs clang and its sanitizer runtimes from Debian when run as root.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_only=0
[ "${1:-}" = --build-only ] && { build_only=1; shift; }
build=${1:-$root/build-sanitize}
shift || true
[ $# -gt 0 ] || set -- --suite unit

need=()
command -v clang++ > /dev/null || need+=(clang)
compgen -G "/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a" > /dev/null || need+=(libclang-rt-14-dev)
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "sanitize.sh: needs ${need[*]} (apt-get install ${need[*]})" >&2; exit 1; }
  apt-get update -q > /dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" > /dev/null
fi

if [ ! -f "$build/build.ninja" ]; then
  CC=clang CXX=clang++ meson setup "$build" "$root" -Db_sanitize=address,undefined -Db_lundef=false \
    -Dffmpeg=disabled -Dlibav=disabled -Dlibfuzzer=true -Dunity=on -Dbuildtype=debugoptimized > "$build.setup.log" \
    || { cat "$build.setup.log" >&2; exit 1; }
  mv "$build.setup.log" "$build/meson-logs/setup-output.txt"  # not left beside the build folder
fi
ninja -C "$build"
[ $build_only = 1 ] && exit 0
supp=$root/tests/sanitize
# allocator_may_return_null: a failed huge allocation reaches our bad_alloc path
# (test cpu_runtime asks for 2^62 bytes on purpose) instead of ending the run.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1:allocator_may_return_null=1:suppressions=$supp/asan.supp"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$supp/ubsan.supp"
meson test -C "$build" --print-errorlogs --timeout-multiplier 4 "$@"
