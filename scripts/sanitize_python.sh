#!/usr/bin/env bash
# The Python tests (tests/python) with the evatok package on the libevatok of
# scripts/sanitize.sh, built with AddressSanitizer and UBSan (docs/hardening.md):
#   scripts/sanitize_python.sh [BUILD_DIR] [SANITIZE_DIR]
# BUILD_DIR is a normal build (default build/, made by scripts/setup.sh): the
# tests' ffmpeg and evatok tool come from it. SANITIZE_DIR (default
# build-sanitize/, built when missing) gives the library that Python loads.
# Debian's python3 is not instrumented, so the ASan runtime is preloaded into
# it (and so into every process the tests start). Leak detection is off here:
# the interpreter keeps objects until it exits by design, and LeakSanitizer
# cannot tell those from ours when our calls come through it; the C tests of
# scripts/sanitize.sh check our leaks. Reports go to files (log_path), and any
# report fails the run, as does a failing test.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
san=${2:-$root/build-sanitize}
lib=$san/model_runtime/libevatok.so
[ -f "$lib" ] || "$root/scripts/sanitize.sh" --build-only "$san" || exit 1
rt=$(clang -print-file-name=libclang_rt.asan-x86_64.so)
[ -f "$rt" ] || { echo "sanitize_python.sh: no ASan runtime ($rt); apt-get install libclang-rt-14-dev" >&2; exit 1; }
ff=$build/ffmpeg_build/ffmpeg
cli=$build/tools/evatok
[ -x "$ff" ] && [ -x "$cli" ] || { echo "sanitize_python.sh: no ffmpeg or evatok tool in $build (run scripts/setup.sh)" >&2; exit 1; }
models=$root/samples/models
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/reports"
supp=$root/tests/sanitize
export PYTHONPATH=$root/python EVATOK_LIB=$lib
# allocator_may_return_null: as in scripts/sanitize.sh.
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:allocator_may_return_null=1:log_path=$work/reports/asan:suppressions=$supp/asan.supp"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$work/reports/ubsan:suppressions=$supp/ubsan.supp"
# First, that the interpreter runs the sanitized library under the runtime.
LD_PRELOAD=$rt /usr/bin/python3 - "$models/evatok-default.safetensors" "$(realpath "$lib")" <<'PY' || exit 1
import sys
import evatok
with evatok.Tokenizer(sys.argv[1], threads=1):
    maps = open("/proc/self/maps").read()
if sys.argv[2] not in maps or "libclang_rt.asan" not in maps:
    sys.exit("sanitize_python.sh: python did not load %s under the ASan runtime" % sys.argv[2])
print("python3 runs %s under the ASan runtime" % sys.argv[2])
PY
failed=0
check() {  # check NAME SCRIPT ARGS...: one test under the preloaded runtime (77: skipped)
  local name=$1 t0=$SECONDS rc=0
  shift
  LD_PRELOAD=$rt /usr/bin/python3 "$root/tests/python/$@" > "$work/$name.log" 2>&1 || rc=$?
  if [ $rc = 0 ]; then
    echo "ok:   $name ($((SECONDS - t0)) s)"
  elif [ $rc = 77 ]; then
    echo "skip: $name ($(tail -n 1 "$work/$name.log"))"
  else
    echo "FAIL: $name ($((SECONDS - t0)) s)"; tail -n 20 "$work/$name.log"; failed=1
  fi
}
check python-tokenizer test_tokenizer.py "$ff" "$models/evatok-default.safetensors" "$work/tokenizer"
check determinism test_determinism.py "$ff" "$models/evatok-default.safetensors" "$work/determinism"
check token-dataset test_token_dataset.py "$cli" "$ff" "$models/evatok-default.safetensors" \
  "$models/evatok-gpu-small.safetensors" "$work/token-dataset"
check toy-ar test_toy_ar.py "$cli" "$ff" "$models/evatok-default.safetensors" "$work/toy-ar"
if compgen -G "$work/reports/*" > /dev/null; then
  echo "FAIL: sanitizer reports:"; cat "$work"/reports/*; failed=1
else
  echo "no sanitizer report"
fi
exit $failed
