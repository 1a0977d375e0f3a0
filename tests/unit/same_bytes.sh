#!/usr/bin/env bash
# Version-2 packets are the same bytes whatever the compiler and its
# optimisation: compares bitstream_bytes built at -O0 and -O2 (by meson) and,
# when clang is installed, built by clang -O2 here.
# usage: same_bytes.sh BYTES_O0 BYTES_O2 SOURCE_ROOT
set -euo pipefail
a=$("$1" | md5sum); b=$("$2" | md5sum)
[ "$("$1" | wc -l)" -eq 40 ] || { echo "FAIL: expected 40 packets"; exit 1; }
[ "$a" = "$b" ] || { echo "FAIL: -O0 and -O2 code different bytes"; exit 1; }
echo "ok: -O0 and -O2 give identical packets ($a)"
if command -v clang > /dev/null; then
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  root=$3
  clang -std=c99 -O2 -I"$root/model_runtime" "$root/tests/unit/bitstream_bytes.c" \
    "$root"/model_runtime/bitstream/{bitstream,range_coder,token_model}.c -o "$tmp/bytes"
  c=$("$tmp/bytes" | md5sum)
  [ "$a" = "$c" ] || { echo "FAIL: clang -O2 codes different bytes"; exit 1; }
  echo "ok: clang -O2 gives the same packets"
else
  echo "clang not installed: compared gcc -O0 and -O2 only"
fi
