#!/usr/bin/env bash
# libFuzzer runs of every parser (docs/hardening.md):
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]    (default 60 s, every target)
# Targets: bitstream token_dataset (plain code, built here with clang) and
# model_file ar_model_file decode (through LibTorch: the clang ASan + UBSan
# build of scripts/sanitize.sh in build-sanitize/, with -Dlibfuzzer=true).
# Each run seeds a working corpus from tests/fuzz/corpus/TARGET, runs on one
# core for the given time and prints the executions reached. A crash, leak,
# timeout or out-of-memory stops the run with libFuzzer's report and a
# reproducer file in build-fuzz/. The meson tests
# `fuzz_*` run deterministic drivers of the same targets on every test run
# (and short libFuzzer runs in scripts/sanitize.sh's build).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(bitstream token_dataset model_file ar_model_file decode)
out=$root/build-fuzz
mkdir -p "$out"
command -v clang > /dev/null || { echo "fuzz.sh: needs clang (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }
san="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -DEVATOK_LIBFUZZER"
bs=("$root"/model_runtime/bitstream/{bitstream,range_coder,token_model}.c)
for t in "${targets[@]}"; do
  case $t in
    bitstream) clang $san -I"$root/model_runtime" "$root/tests/fuzz/fuzz_bitstream.c" "${bs[@]}" -o "$out/fuzz_$t" ;;
    token_dataset) clang++ -std=c++17 $san -I"$root/model_runtime" "$root/tests/fuzz/fuzz_token_dataset.cpp" \
                     "$root/model_runtime/data/token_dataset.cpp" -o "$out/fuzz_$t" ;;
    model_file|ar_model_file|decode)
      "$root/scripts/sanitize.sh" --build-only "$root/build-sanitize" > "$out/build-sanitize.log" \
        || { tail -n 30 "$out/build-sanitize.log"; exit 1; }
      ln -sf "$root/build-sanitize/tests/fuzz_$t" "$out/fuzz_$t" ;;
    *) echo "fuzz.sh: unknown target $t (bitstream, token_dataset, model_file, ar_model_file, decode)" >&2; exit 2 ;;
  esac
  corpus=$out/corpus-$t
  mkdir -p "$corpus"
  cp -n "$root/tests/fuzz/corpus/$t"/* "$corpus"/
  log=$out/fuzz_$t.log
  (cd "$out" && ./fuzz_$t -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 "$corpus" \
     > "$log" 2>&1) || { tail -n 40 "$log"; echo "fuzz.sh: $t FAILED (log: $log)" >&2; exit 1; }
  runs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
  cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -o 'cov: [0-9]*' || true)
  echo "$t: $runs executions in $secs s, no crash, leak, timeout or OOM ($cov; corpus $(ls "$corpus" | wc -l) inputs)"
done
