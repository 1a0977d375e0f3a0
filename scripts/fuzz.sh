#!/usr/bin/env bash
# libFuzzer runs of the parsers that need no LibTorch (docs/hardening.md):
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]    (default 60 s; targets: bitstream token_dataset)
# Builds each target with clang -fsanitize=fuzzer,address,undefined into
# build-fuzz/, seeds a working corpus from tests/fuzz/corpus/TARGET, runs it for
# the given time on one core and prints the executions reached. A crash, leak,
# timeout or out-of-memory stops the run with libFuzzer's report and a
# reproducer file in build-fuzz/. The meson tests `fuzz_*` run deterministic
# drivers of the same targets on every test run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(bitstream token_dataset)
out=$root/build-fuzz
mkdir -p "$out"
command -v clang > /dev/null || { echo "fuzz.sh: needs clang (apt-get install clang)" >&2; exit 1; }
san="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -DEVATOK_LIBFUZZER"
bs=("$root"/model_runtime/bitstream/{bitstream,range_coder,token_model}.c)
for t in "${targets[@]}"; do
  case $t in
    bitstream) clang $san -I"$root/model_runtime" "$root/tests/fuzz/fuzz_bitstream.c" "${bs[@]}" -o "$out/fuzz_$t" ;;
    token_dataset) clang++ -std=c++17 $san -I"$root/model_runtime" "$root/tests/fuzz/fuzz_token_dataset.cpp" \
                     "$root/model_runtime/data/token_dataset.cpp" -o "$out/fuzz_$t" ;;
    *) echo "fuzz.sh: unknown target $t (bitstream, token_dataset)" >&2; exit 2 ;;
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
