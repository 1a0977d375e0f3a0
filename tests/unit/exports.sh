#!/bin/sh
# libevatok.so exports its C API and nothing else: every defined dynamic
# symbol starts with evatok_, and the API's entry points are there.
#   exports.sh LIBEVATOK_SO
set -u
lib=${1:?usage: exports.sh LIBEVATOK_SO}
syms=$(nm -D --defined-only "$lib" | awk '{print $NF}') || { echo "FAIL: nm cannot read $lib"; exit 1; }
other=$(printf '%s\n' "$syms" | grep -v '^evatok_')
if [ -n "$other" ]; then
    echo "FAIL: $(printf '%s\n' "$other" | wc -l) exported symbols outside the C API, e.g.:"
    printf '%s\n' "$other" | head -n 5
    exit 1
fi
for f in evatok_version evatok_model_open evatok_encode_block evatok_decode_block evatok_ar_predict \
         evatok_open_options_default evatok_encode_options_default evatok_sample_options_default \
         evatok_packet_tokens evatok_packet_build evatok_extradata_create_version \
         evatok_encode_packet evatok_decode_packet evatok_packet_is_keyframe evatok_reference_new \
         evatok_decode_begin evatok_decode_next; do
    printf '%s\n' "$syms" | grep -qx "$f" || { echo "FAIL: $f is not exported"; exit 1; }
done
echo "ok: $(printf '%s\n' "$syms" | wc -l) exported symbols, all evatok_*"
