#!/usr/bin/env bash
# Memcheck where AddressSanitizer cannot look: LibTorch and OpenBLAS are not
# instrumented, so scripts/sanitize.sh cannot see a bad read or write that our
# code makes inside them (a tensor view past its buffer, say). Valgrind sees
# every byte. Runs, against the normal build (after scripts/setup.sh):
#   - the C API unit tests (tokenizer and AR model: open, encode, decode,
#     bad packets, inter packets, prediction) with the untrained test models;
#   - the deterministic drivers of the LibTorch fuzz targets (model file, AR
#     model file, decoding through the C API), N inputs each.
#
#   scripts/valgrind.sh [BUILD_DIR] [N]      (N defaults to 50)
#
# A run fails on any memcheck error or definite leak. Reachable and "possibly
# lost" blocks are LibTorch's and OpenBLAS's thread pools and caches, which
# live until exit. tests/sanitize/valgrind.supp names the one report outside
# our code. Slow: valgrind runs one thread at a time, 50-100x slower. On this
# machine test_api took 30 minutes, test_ar_api more than 30 (both run at
# once), and each fuzz driver about 30 s at N = 50.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath "${1:-$root/build}")
n=${2:-50}
command -v valgrind > /dev/null || { echo "valgrind.sh: needs valgrind (apt-get install valgrind)" >&2; exit 2; }
t=$build/tests
for f in test_api test_ar_api fuzz_model_file fuzz_ar_model_file fuzz_decode untrained-a.safetensors \
         untrained-b.safetensors untrained-ar-a.safetensors; do
  [ -e "$t/$f" ] || { echo "valgrind.sh: $t/$f missing: run scripts/setup.sh (or ninja -C $build) first" >&2; exit 2; }
done
out=$build/valgrind
rm -rf "$out"; mkdir -p "$out"
vg() {  # NAME PROGRAM ARGS...
  local name=$1; shift
  mkdir -p "$out/$name.tmp"
  local start=$SECONDS rc=0
  valgrind --suppressions="$root/tests/sanitize/valgrind.supp" --error-exitcode=99 --leak-check=full \
    --show-leak-kinds=definite --errors-for-leak-kinds=definite --num-callers=40 "$@" > "$out/$name.log" 2>&1 || rc=$?
  local errors
  errors=$(grep -o 'ERROR SUMMARY: [0-9]* errors' "$out/$name.log" | tail -n 1)
  if [ $rc -eq 0 ]; then
    echo "ok   $name ($((SECONDS - start)) s, $errors)"
  else
    echo "FAIL $name (exit $rc, $errors): see $out/$name.log"
    return 1
  fi
}
cd "$root"
fail=0
vg c_api "$t/test_api" "$t/untrained-a.safetensors" "$t/untrained-b.safetensors" "$out/c_api.tmp" &
p1=$!
vg ar_api "$t/test_ar_api" "$t/untrained-a.safetensors" "$t/untrained-b.safetensors" \
  "$t/untrained-ar-a.safetensors" "$out/ar_api.tmp" || fail=1
wait $p1 || fail=1
vg fuzz_model_file "$t/fuzz_model_file" "$n" &
p1=$!
vg fuzz_ar_model_file "$t/fuzz_ar_model_file" "$n" || fail=1
wait $p1 || fail=1
vg fuzz_decode "$t/fuzz_decode" "$n" || fail=1
exit $fail
