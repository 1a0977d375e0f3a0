#!/usr/bin/env bash
# libevatok, the evatok tool and the unit tests built with AddressSanitizer
# and UndefinedBehaviorSanitizer (docs/hardening.md):
#   scripts/sanitize.sh [BUILD_DIR] [meson test arguments, default: --suite unit]
# Configures BUILD_DIR (default build-sanitize) with -Db_sanitize=address,undefined
# and without the patched FFmpeg (the ffmpeg end-to-end tests need their own
# sanitized FFmpeg build, which this does not make), builds it and runs the
# tests. Debian's LibTorch is not instrumented; the reports inside it that are
# not ours are suppressed by name in tests/sanitize/*.supp.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-sanitize}
shift || true
[ $# -gt 0 ] || set -- --suite unit
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$root" -Db_sanitize=address,undefined -Db_lundef=false -Dffmpeg=disabled \
    -Dbuildtype=debugoptimized
fi
ninja -C "$build"
supp=$root/tests/sanitize
# allocator_may_return_null: a failed huge allocation reaches our bad_alloc path
# (test cpu_runtime asks for 2^62 bytes on purpose) instead of ending the run.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1:allocator_may_return_null=1:suppressions=$supp/asan.supp"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$supp/ubsan.supp"
meson test -C "$build" --print-errorlogs --timeout-multiplier 4 "$@"
