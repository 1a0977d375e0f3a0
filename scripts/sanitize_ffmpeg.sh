#!/usr/bin/env bash
# The ffmpeg end-to-end tests with the patched FFmpeg built under
# AddressSanitizer and UndefinedBehaviorSanitizer (docs/hardening.md):
#   scripts/sanitize_ffmpeg.sh [BUILD_DIR] [CASE...]
# BUILD_DIR is a normal build (default build/, made by scripts/setup.sh): its
# libevatok and FFmpeg source are used as they are. FFmpeg, with our glue
# (the codec wrappers and the evatok_predict filter), is built again with
# FFmpeg's own --toolchain=gcc-asan plus UBSan, without its assembly (the
# stripped x86 objects and inline asm naming instrumented globals do not link
# in that setup; ASan does not see asm anyway), into BUILD_DIR-ffmpeg-asan/, and
# the e2e.sh and e2e_predict.sh cases run against it (default: every case
# but the timing benchmark, ffplay, and the filter's memory case, which ASan's
# quarantine of freed memory makes meaningless). libevatok and LibTorch are not
# instrumented (scripts/sanitize.sh covers libevatok); ASan still sees every allocation
# they make through malloc. Suppressions: tests/sanitize/*.supp.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
shift || true
out=$build-ffmpeg-asan
model=$root/samples/models/evatok-default.safetensors
[ -f "$build/ffmpeg-src/configure" ] || { echo "sanitize_ffmpeg.sh: no FFmpeg source in $build/ffmpeg-src (run scripts/setup.sh)" >&2; exit 1; }
[ -f "$build/tests/ffmpeg/untrained-ar-default-tok.safetensors" ] || ninja -C "$build" tests/ffmpeg/untrained-ar-default-tok.safetensors || exit 1
EVATOK_FFMPEG_JOBS=${EVATOK_FFMPEG_JOBS:-2} \
EVATOK_FFMPEG_EXTRA_FLAGS="--toolchain=gcc-asan --disable-asm --extra-cflags=-fsanitize=undefined --extra-cflags=-fno-sanitize-recover=undefined --extra-ldflags=-fsanitize=undefined" \
  "$root/ffmpeg_build/build.sh" "$build/ffmpeg-src" "$out" "$build/meson-uninstalled" "$root" || exit 1
supp=$root/tests/sanitize
# Reports go to files (log_path): a case that expects ffmpeg to fail on bad
# input would otherwise count a sanitizer's abort as the failure it wanted.
reports=$out/reports
rm -rf "$reports"; mkdir -p "$reports"
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:allocator_may_return_null=1:log_path=$reports/asan:suppressions=$supp/asan.supp"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan:suppressions=$supp/ubsan.supp"
export EVATOK_TEST_TIMEOUT=1200 EVATOK_PSNR_FLOOR=18
cases=("$@")
if [ ${#cases[@]} -eq 0 ]; then
  cases=(roundtrip-mkv roundtrip-nut pixfmt-rgb24 pixfmt-yuv420p adaptive options corrupt extradata model edge
         mp4-audio inputs static colour reference versions inter
         predict:count predict:seed predict:options predict:models predict:short predict:sizes predict:chain)
fi
fails=0
for c in "${cases[@]}"; do
  t0=$(date +%s)
  if [ "${c#predict:}" != "$c" ]; then
    cmd=("$root/tests/ffmpeg/e2e_predict.sh" "${c#predict:}" "$out/ffmpeg" "$out/ffprobe" "$model"
         "$build/tests/ffmpeg/untrained-ar-default-tok.safetensors" "$build/tools/evatok")
  else
    cmd=("$root/tests/ffmpeg/e2e.sh" "$c" "$out/ffmpeg" "$out/ffprobe" "$model" "$build/tools/evatok")
  fi
  "${cmd[@]}" > "$out/$c.log" 2>&1
  rc=$?
  found=$(ls "$reports" | wc -l)
  if [ $rc -eq 0 ] && [ "$found" -eq 0 ]; then
    echo "ok:   $c ($(( $(date +%s) - t0 )) s)"
  else
    echo "FAIL: $c (exit $rc, $found sanitizer report(s); log: $out/$c.log)"; fails=$((fails + 1))
    mkdir -p "$out/reports-$c"; mv "$reports"/* "$out/reports-$c"/ 2> /dev/null || true
  fi
done
echo "$fails case(s) failed"
[ "$fails" -eq 0 ]
