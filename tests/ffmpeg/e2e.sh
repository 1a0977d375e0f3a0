#!/bin/bash
# End-to-end tests of the evatok codec in the patched FFmpeg.
#
#   e2e.sh CASE FFMPEG FFPROBE MODEL [EVATOK_TOOL]
#
# CASE: roundtrip-mkv roundtrip-nut pixfmt-rgb24 pixfmt-yuv420p adaptive
#       options corrupt extradata model edge mp4-audio inputs ffplay
#       static (needs a model with temporal carry, such as the shipped default)
#       colour (mean colour of the sample kept by the shipped default)
# MODEL is the model used for encoding and decoding; EVATOK_TOOL (optional,
# the `evatok` CLI) creates a second, untrained model for the fingerprint test.
# Environment: EVATOK_PSNR_FLOOR (dB, default 18; meson sets it, and
# EVATOK_TEST_PSNR_FLOOR overrides it from outside), EVATOK_TEST_TIMEOUT
# (seconds per command, default 300), EVATOK_TEST_KEEP=1 keeps the work dir,
# EVATOK_TEST_ENC_OPTS (extra encoder options for the round trips, e.g.
# "-assign uniform -tokens 32" with a model that has no router).
# Exit status: 0 pass, 1 fail, 77 skip (meson convention).
set -u

case_name=${1:?usage: e2e.sh CASE FFMPEG FFPROBE MODEL [EVATOK_TOOL]}
FFMPEG=${2:?missing FFMPEG}
FFPROBE=${3:?missing FFPROBE}
MODEL=${4:?missing MODEL}
TOOL=${5:-}
PSNR_FLOOR=${EVATOK_TEST_PSNR_FLOOR:-${EVATOK_PSNR_FLOOR:-18}}
TMO=${EVATOK_TEST_TIMEOUT:-300}
ENC_OPTS=${EVATOK_TEST_ENC_OPTS:-}
HERE="$(cd "$(dirname "$0")" && pwd)"
HELPER="$HERE/evatok_mkv.py"
. "$HERE/lib.sh"   # failures, fail, ok, die, run, ff, fp, nb_frames, pts_list, ge, abs

[ -x "$FFMPEG" ] && [ -x "$FFPROBE" ] || { echo "FAIL: ffmpeg/ffprobe not built: $FFMPEG $FFPROBE"; exit 1; }
[ -f "$MODEL" ] || { echo "FAIL: model file '$MODEL' missing"; exit 1; }
# the tests cd away: absolute paths
FFMPEG=$(abs "$FFMPEG"); FFPROBE=$(abs "$FFPROBE"); MODEL=$(abs "$MODEL")
[ -z "$TOOL" ] || TOOL=$(abs "$TOOL")
export EVATOK_MODEL=$MODEL  # default model for every ffmpeg/ffprobe below

W=$(mktemp -d "${TMPDIR:-/tmp}/evatok-e2e-$case_name.XXXXXX")
[ "${EVATOK_TEST_KEEP:-0}" = 1 ] || trap 'rm -rf "$W"' EXIT
cd "$W" || exit 1

# make_src NAME W H FRAMES PIXFMT [lavfi source]: lossless reference clip in NUT.
# Default source: the shipped held-out sample (a real photograph panned),
# scaled to W x H and looped; PSNR floors are meant for natural content.
SAMPLE="$HERE/../../samples/clips/pan-192x144.mkv"
make_src() {
    if [ -n "${6:-}" ]; then
        ff "make_$1.log" -f lavfi -i "$6" -frames:v "$4" -pix_fmt "$5" -c:v rawvideo "$1.nut"
    else
        ff "make_$1.log" -stream_loop -1 -i "$SAMPLE" -vf "scale=$2:$3,setsar=1" -frames:v "$4" \
            -pix_fmt "$5" -c:v rawvideo "$1.nut"
    fi || die "cannot make source clip $1 (see above)"
}
# psnr DECODED REFERENCE -> average PSNR (rgb24) on stdout
psnr() {
    "$FFMPEG" -nostdin -hide_banner -i "$1" -i "$2" \
        -lavfi "[0:v]format=rgb24[a];[1:v]format=rgb24[b];[a][b]psnr" -f null - 2>&1 |
        sed -n 's/.*PSNR.* average:\([0-9.inf]*\).*/\1/p' | tail -n 1
}
model_choices() {   # token counts the model allows, from the encoder's error message
    "$FFMPEG" -nostdin -hide_banner -f lavfi -i testsrc2=size=64x64 -frames:v 1 \
        -c:v evatok -assign uniform -tokens 0 -f null - 2>&1 |
        sed -n 's/.*token counts: \([0-9, ]*\).*/\1/p' | tr -d ' ' | tr ',' ' '
}

# check_roundtrip NAME ENCODED SOURCE FRAMES W H NPACKETS
check_roundtrip() {
    local name=$1 enc=$2 src=$3 frames=$4 w=$5 h=$6 npk=$7
    local codec dims n sizes pts_src pts_dec p
    codec=$(fp -select_streams v:0 -show_entries stream=codec_name -of csv=p=0 "$enc")
    [ "$codec" = evatok ] && ok "$name: ffprobe codec_name evatok" || fail "$name: codec_name '$codec'"
    sizes=$(fp -select_streams v:0 -show_entries packet=size -of csv=p=0 "$enc" | tr '\n' ' ')
    set -- $sizes
    [ $# -eq "$npk" ] && ok "$name: $npk packets (sizes $sizes)" || fail "$name: expected $npk packets, got $# ($sizes)"
    n=$(fp -select_streams v:0 -show_entries packet=flags -of csv=p=0 "$enc" | grep -c '^K')
    [ "$n" -eq "$npk" ] && ok "$name: all packets are keyframes" || fail "$name: $n of $npk packets keyframes"
    n=$(nb_frames "$enc")
    [ "$n" = "$frames" ] && ok "$name: $frames frames decoded" || fail "$name: decoded '$n' frames, expected $frames"
    dims=$(fp -select_streams v:0 -show_entries frame=width,height -of csv=p=0 "$enc" | sort -u | tr '\n' ' ')
    [ "$dims" = "$w,$h " ] && ok "$name: frames are ${w}x${h}" || fail "$name: frame sizes '$dims'"
    pts_src=$(pts_list "$src"); pts_dec=$(pts_list "$enc")
    [ -n "$pts_dec" ] && [ "$pts_src" = "$pts_dec" ] && ok "$name: frame timestamps equal the input's" ||
        { fail "$name: timestamps differ"; diff <(echo "$pts_src") <(echo "$pts_dec") | head -n 8; }
    n=$(fp -select_streams v:0 -show_entries frame_tags=lavc.evatok.tokens -of csv=p=0 "$enc" | grep -c '^[1-9][0-9]*$')
    [ "$n" = "$frames" ] && ok "$name: every frame carries lavc.evatok.tokens" || fail "$name: $n frames with token metadata"
    ff "dec_$name.log" -i "$enc" -c:v rawvideo -pix_fmt rgb24 "dec_$name.nut" || fail "$name: decoding to rawvideo failed"
    p=$(psnr "dec_$name.nut" "$src")
    if [ -n "$p" ] && ge "$p" "$PSNR_FLOOR"; then ok "$name: PSNR $p dB >= $PSNR_FLOOR"
    else fail "$name: PSNR '$p' dB below floor $PSNR_FLOOR"; fi
}

case $case_name in
roundtrip-mkv|roundtrip-nut)
    ext=${case_name#roundtrip-}
    make_src src 200 150 37 rgb24
    ff enc.log -v verbose -i src.nut -c:v evatok $ENC_OPTS "out.$ext" || die "encoding failed: $(tail -n 3 enc.log)"
    n=$(grep -c 'evatok: packet [0-9]*: [0-9]* frames' enc.log)
    [ "$n" = 3 ] && ok "verbose log shows the assignment of 3 packets" || fail "verbose log has $n assignment lines"
    grep -q 'evatok: packet 2: 5 frames' enc.log && ok "last packet holds the 5 remaining frames" ||
        fail "no 'packet 2: 5 frames' line in the log"
    # the encoder names the fingerprint the stream records: the codec one, as the decoder does
    efp=$(sed -n 's/.*evatok: model .*codec fingerprint \([0-9a-f]\{32\}\).*/\1/p' enc.log)
    ff dec_v.log -v verbose -i "out.$ext" -f null - &&
    [ -n "$efp" ] && grep -q "codec fingerprint $efp" dec_v.log && ok "encoder and decoder logs name the same codec fingerprint" ||
        fail "encoder log codec fingerprint '$efp' not in the decoder's log"
    check_roundtrip "$ext" "out.$ext" src.nut 37 200 150 3
    # explicit -model on the decoder side, model from the option, not from the environment
    EVATOK_MODEL=/nonexistent/evatok.safetensors run dec_opt.log "$FFMPEG" -nostdin -hide_banner \
        -model "$MODEL" -i "out.$ext" -f framecrc framecrc.txt ||
        fail "decoding with -model failed: $(tail -n 2 dec_opt.log)"
    n=$(grep -vc '^#' framecrc.txt)
    [ "$n" = 37 ] && ok "decoder -model option: 37 frames" || fail "decoder -model option: $n frames"
    ;;

pixfmt-rgb24|pixfmt-yuv420p)
    fmt=${case_name#pixfmt-}
    make_src src 200 150 20 "$fmt"
    ff enc.log -i src.nut -c:v evatok $ENC_OPTS out.mkv || die "encoding $fmt failed: $(tail -n 3 enc.log)"
    grep -q "Video: evatok.*, $fmt" enc.log && ok "encoder took $fmt without conversion" ||
        fail "encoder input was not $fmt: $(grep 'Video: evatok' enc.log)"
    check_roundtrip "$fmt" out.mkv src.nut 20 200 150 2
    ;;

adaptive)
    # A still block then a moving one (a router-chosen assignment per packet).
    ff still.log -f lavfi -i "testsrc2=size=128x128:rate=25" \
        -vf "trim=end_frame=1,loop=loop=15:size=1,setpts=N/25/TB" -frames:v 16 -pix_fmt rgb24 -c:v rawvideo still.nut ||
        die "cannot make still clip"
    ff move.log -f lavfi -i "mandelbrot=size=128x128:rate=25,rotate=a=t*4" -frames:v 16 \
        -pix_fmt rgb24 -c:v rawvideo move.nut || die "cannot make moving clip"
    ff cat.log -i still.nut -i move.nut -lavfi "[0:v][1:v]concat=n=2:v=1[v]" -map "[v]" \
        -c:v rawvideo src.nut || die "cannot concatenate"
    ff enc.log -i src.nut -c:v evatok -assign router out.mkv || die "router encode failed: $(tail -n 3 enc.log)"
    # Any model with a router: every router choice is a valid one and the
    # packet sizes follow the token counts. (Still against moving content in
    # blocks 2 to 4 is the 'static' case, for models with temporal carry.)
    t=$(fp -select_streams v:0 -show_entries frame_tags=lavc.evatok.tokens -of csv=p=0 out.mkv | uniq | tr '\n' ' ')
    set -- $t
    [ $# -eq 2 ] && ok "router: 2 packets with $t tokens" || fail "router: token counts per packet '$t'"
    choices=$(model_choices)
    [ -n "$choices" ] || die "cannot read the model's choices"
    set -- $choices
    hi=$1; lo=${!#}
    bad=$(fp -select_streams v:0 -show_entries frame_tags=lavc.evatok.assignment -of csv=p=0 out.mkv |
          tr -d '"' | tr ',;' '\n\n' | grep -vcxE "$(echo $choices | tr ' ' '|')")
    [ "$bad" = 0 ] && ok "router: every block got one of the model's token counts" || fail "router: $bad invalid blocks"
    for k in "$hi" "$lo"; do
        ff "u$k.log" -i src.nut -c:v evatok -assign uniform -tokens "$k" "u$k.mkv" || fail "uniform:$k failed"
        bad=$(fp -select_streams v:0 -show_entries frame_tags=lavc.evatok.assignment -of csv=p=0 "u$k.mkv" |
              tr -d '"' | tr ',;' '\n\n' | grep -vcx "$k")
        [ "$bad" = 0 ] && ok "uniform:$k: every block has $k tokens" || fail "uniform:$k: $bad blocks differ"
    done
    sh=$(fp -show_entries format=size -of csv=p=0 "u$hi.mkv"); sl=$(fp -show_entries format=size -of csv=p=0 "u$lo.mkv")
    [ "$sh" -gt "$sl" ] && ok "uniform:$hi file ($sh B) larger than uniform:$lo ($sl B)" ||
        fail "uniform:$hi ($sh B) not larger than uniform:$lo ($sl B)"
    ;;

static)
    # Temporal adaptivity of a model with temporal carry and a router that sees
    # patch statistics (meson runs it with the shipped default): the sample panned 3x
    # faster (every third frame, 16 frames) against its first frame held for 16
    # frames. At -wq 4 every tile of the frozen clip gets the fewest tokens the
    # model allows in blocks 2 to 4 (they carry block 1), and the moving clip
    # gets more there in all. (At its own slow speed the pan is smooth enough
    # that the default's router gives it the minimum there too.)
    ff still.log -i "$SAMPLE" -vf "trim=end_frame=1,loop=loop=15:size=1,setpts=N/25/TB" -frames:v 16 \
        -pix_fmt rgb24 -c:v rawvideo still.nut || die "cannot make the frozen clip"
    ff move.log -i "$SAMPLE" -vf "select='not(mod(n,3))',setpts=N/25/TB" -frames:v 16 -pix_fmt rgb24 -c:v rawvideo move.nut || die "cannot make the moving clip"
    choices=$(model_choices)
    [ -n "$choices" ] || die "cannot read the model's choices"
    lo=$(echo $choices | tr ' ' '\n' | sort -n | head -n 1)
    later() {  # tokens per block 2..4 of every tile of the first packet, one per line
        fp -select_streams v:0 -show_entries frame_tags=lavc.evatok.assignment -of csv=p=0 "$1" | head -n 1 |
            tr -d '"' | tr ';' '\n' | cut -d, -f2- | tr ',' '\n'
    }
    for c in still move; do
        ff "enc_$c.log" -i "$c.nut" -c:v evatok -wq 4 "$c.mkv" || die "encoding $c failed: $(tail -n 3 "enc_$c.log")"
    done
    n=$(later still.mkv | wc -l); above=$(later still.mkv | grep -vcx "$lo")
    [ "$n" -gt 0 ] && [ "$above" = 0 ] && ok "frozen clip: all $n later blocks at $lo tokens" ||
        fail "frozen clip: $above of $n later blocks above $lo tokens"
    ss=$(later still.mkv | awk '{s+=$1} END {print s+0}'); sm=$(later move.mkv | awk '{s+=$1} END {print s+0}')
    [ "$sm" -gt "$ss" ] && ok "moving clip: $sm tokens in later blocks, frozen $ss" ||
        fail "moving clip: $sm tokens in later blocks, not more than the frozen clip's $ss"
    # the same comparison over a folder, by experiments/still_vs_moving.sh (centre 128x128 crop)
    mkdir -p clips && cp move.nut clips/
    FFMPEG=$FFMPEG FFPROBE=$FFPROBE "$HERE/../../experiments/still_vs_moving.sh" "$MODEL" clips svm.csv --wq 4 > svm.log 2>&1 ||
        fail "still_vs_moving.sh failed: $(tail -n 3 svm.log)"
    [ "$(wc -l < svm.csv)" = 3 ] && grep -Eq '^4 +frozen +1 .*fewer 1, as many 0, more 0' svm.log &&
        ok "still_vs_moving.sh: frozen clip's later blocks fewer" || fail "still_vs_moving.sh: $(cat svm.log)"
    ;;

colour)
    # No mean colour shift (experiments/colour_shift.sh): on the sample pan at
    # -assign uniform -tokens 32 each channel's decoded mean is within 3 levels of the source's.
    # (Stage-4 runs without --mean-loss got it up to 10 levels off.)
    FFMPEG=$FFMPEG "$HERE/../../experiments/colour_shift.sh" "$MODEL" > shift.log 2>&1 || die "colour_shift.sh failed: $(tail -n 3 shift.log)"
    src=$(sed -n 's/^source *mean RGB //p' shift.log); dec=$(sed -n 's/^decoded *mean RGB //p' shift.log)
    off=$(sed -n 's/^shift *\([0-9.]*\) levels.*/\1/p' shift.log)
    [ -n "$off" ] || die "colour_shift.sh printed no shift: $(cat shift.log)"
    awk -v m="$off" 'BEGIN { exit !(m <= 3) }' && ok "mean colour within $off levels (source $src, decoded $dec)" ||
        fail "mean colour off by $off levels (source $src, decoded $dec)"
    # the folder version: one clip, so its mean is that clip's shift
    mkdir -p set && ln -s "$HERE/../../samples/clips/pan-192x144.mkv" set/pan.mkv
    FFMPEG=$FFMPEG "$HERE/../../experiments/colour_shift_set.sh" "$MODEL" set > set.log 2>&1 &&
        grep -q "^mean shift $(printf '%.2f' "$off") levels over 1 clips; $(printf '%.2f' "$off") over the 1 unsaturated" set.log &&
        ok "colour_shift_set.sh: mean of one clip is its shift" || fail "colour_shift_set.sh: $(cat set.log)"
    bad=$("$HERE/../../experiments/colour_shift.sh" /nonexistent.safetensors 2>&1) && fail "colour_shift.sh took a missing model" ||
        { echo "$bad" | grep -q "no such model" && ok "colour_shift.sh: missing model refused" || fail "colour_shift.sh: $bad"; }
    ;;

options)
    make_src src 64 64 16 rgb24
    ff search.log -v verbose -i src.nut -c:v evatok -assign search -wq 2.0 s.mkv &&
        grep -q 'evatok: packet 0: 16 frames' search.log && ok "assign=search works" ||
        fail "assign=search: $(tail -n 3 search.log)"
    # exact: all candidates decoded (one 64x64 tile-clip: a few seconds)
    ff exact.log -v verbose -i src.nut -c:v evatok -assign exact -wq 2.0 x.mkv && [ "$(nb_frames x.mkv)" = 16 ] &&
        grep -q 'evatok: packet 0: 16 frames' exact.log && ok "assign=exact works" ||
        fail "assign=exact: $(tail -n 3 exact.log)"
    ff threads.log -threads 1 -i src.nut -c:v evatok $ENC_OPTS -threads 1 t.mkv && [ "$(nb_frames t.mkv)" = 16 ] &&
        ok "-threads 1 works" || fail "-threads 1: $(tail -n 3 threads.log)"
    # -assign takes a name (or its number); -tokens must be one of the model's counts
    for a in foo uniform:32 7 ""; do
        ff "bad.log" -i src.nut -c:v evatok -assign "$a" bad.mkv
        rc=$?
        if [ $rc -ne 0 ] && [ $rc -lt 128 ] && grep -q "Error setting option assign to value" bad.log
        then ok "-assign '$a' rejected clearly"
        else fail "-assign '$a': rc=$rc $(grep -i "assign" bad.log | head -n 2)"; fi
    done
    for k in 0 7 -32 64x; do
        ff "bad.log" -i src.nut -c:v evatok -assign uniform -tokens "$k" bad.mkv
        rc=$?
        if [ $rc -ne 0 ] && [ $rc -lt 128 ] && grep -q 'evatok: -assign uniform needs -tokens K\|Error setting option tokens to value' bad.log
        then ok "-tokens '$k' rejected clearly"
        else fail "-tokens '$k': rc=$rc $(grep -i "evatok: \|tokens" bad.log | head -n 2)"; fi
    done
    ff named.log -i src.nut -c:v evatok -assign uniform -tokens "$(model_choices | cut -d' ' -f1)" -f framecrc named.crc &&
        ff number.log -i src.nut -c:v evatok -assign 1 -tokens "$(model_choices | cut -d' ' -f1)" -f framecrc number.crc &&
        cmp -s named.crc number.crc && ok "-assign uniform and -assign 1 are the same mode" ||
        fail "-assign by name and by number differ"
    ff wq.log -i src.nut -c:v evatok -wq -1 bad.mkv
    rc=$?; [ $rc -ne 0 ] && [ $rc -lt 128 ] && ok "-wq -1 rejected" || fail "-wq -1: rc=$rc"
    ff dev.log -i src.nut -c:v evatok $ENC_OPTS -device nosuchdevice bad.mkv
    rc=$?
    if [ $rc -ne 0 ] && [ $rc -lt 128 ] && grep -q 'evatok: cannot load model' dev.log; then ok "bad -device rejected clearly"
    else fail "bad -device: rc=$rc $(grep "evatok: " dev.log | head -n 2)"; fi
    run help.log "$FFMPEG" -hide_banner -h encoder=libevatok
    for o in model assign tokens wq bitstream device; do grep -q -- "-$o " help.log || fail "option -$o missing from help"; done
    for c in router uniform search exact; do grep -q "^ *$c " help.log || fail "-assign constant $c missing from help"; done
    ok "encoder help lists model, assign (router, uniform, search, exact), tokens, wq, bitstream, device"
    ;;

corrupt)
    make_src src 200 150 37 rgb24
    ff enc.log -i src.nut -c:v evatok $ENC_OPTS out.mkv || die "encoding failed: $(tail -n 3 enc.log)"
    python3 "$HELPER" info out.mkv > info.json || die "helper cannot read out.mkv"
    size1=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["packets"][1]["size"])' info.json)
    # damage -> expected decoded frames ("" = any count; no crash or hang either way)
    variants="truncate-half:--truncate 1:$((size1 / 2)):21
truncate-1:--truncate 1:1:21
truncate-last-byte:--truncate 1:$((size1 - 1)):21
header-bytes:--corrupt 1:0:8:1:
header-byte-4:--corrupt 1:4:1:2:
payload-bytes:--corrupt 1:$((size1 / 2)):16:3:
scramble:--scramble 1:4:
append-1MB:--append 1:1048576:
replace-16MB:--replace 1:16777216:5:
replace-tiny:--replace 1:3:6:21
all-scrambled:--scramble 0:7 --scramble 1:8 --scramble 2:9:"
    while IFS= read -r line; do
        name=${line%%:*}; rest=${line#*:}; want=${rest##*:}; args=${rest%:*}
        # shellcheck disable=SC2086
        python3 "$HELPER" mutate out.mkv "$name.mkv" $args || { fail "$name: helper failed"; continue; }
        ff "$name.log" -i "$name.mkv" -f framecrc "$name.crc"
        rc=$?
        [ $rc -ge 124 ] && continue   # run() already reported the hang/crash
        n=$(grep -vc '^#' "$name.crc" 2>/dev/null)
        msg=$(grep -m1 'evatok: ' "$name.log")
        if [ -n "$want" ] && [ "$n" != "$want" ]; then
            fail "$name: decoded $n frames, expected $want (rc=$rc) $msg"
        elif [ "$n" != 37 ] && [ -z "$msg" ]; then
            fail "$name: $n frames but no evatok error message (rc=$rc)"
        else
            ok "$name: rc=$rc, $n frames${msg:+, message: ${msg#*] }}"
        fi
    done <<< "$variants"
    ;;

extradata)
    make_src src 200 150 20 rgb24
    ff enc.log -i src.nut -c:v evatok $ENC_OPTS out.mkv || die "encoding failed"
    python3 "$HELPER" mutate out.mkv garbage.mkv --extradata garbage:64:1 || die "helper failed"
    python3 "$HELPER" mutate out.mkv short.mkv --extradata garbage:3:2 || die "helper failed"
    for v in garbage short; do
        ff "$v.log" -i "$v.mkv" -f framecrc "$v.crc"
        rc=$?; n=$(grep -vc '^#' "$v.crc" 2>/dev/null)
        if [ $rc -lt 124 ] && [ "$n" = 0 ] && grep -q 'evatok: invalid stream header' "$v.log"; then
            ok "$v extradata: rejected clearly (rc=$rc)"
        else fail "$v extradata: rc=$rc, $n frames, $(grep -m1 "evatok: " "$v.log")"; fi
    done
    python3 "$HELPER" mutate out.mkv none.mkv --extradata none || die "helper failed"
    ff none.log -i none.mkv -f framecrc none.crc
    rc=$?; n=$(grep -vc '^#' none.crc 2>/dev/null)
    if [ $rc -eq 0 ] && [ "$n" = 20 ] && grep -q 'stream has no header' none.log; then ok "no extradata: warning, 20 frames"
    else fail "no extradata: rc=$rc, $n frames"; fi
    ;;

model)
    make_src src 64 64 20 rgb24
    ff enc.log -i src.nut -c:v evatok $ENC_OPTS out.mkv || die "encoding failed"
    echo "this is not a model" > text.safetensors
    : > empty.safetensors
    head -c 100000 "$MODEL" > truncated.safetensors
    for m in text empty truncated; do
        ff "dec_$m.log" -model "$m.safetensors" -i out.mkv -f null -
        rc=$?
        if [ $rc -ne 0 ] && [ $rc -lt 124 ] && grep -q "evatok: cannot load model" "dec_$m.log"; then ok "decoder, $m model: clear error (rc=$rc)"
        else fail "decoder, $m model: rc=$rc $(grep -m1 "evatok: " "dec_$m.log")"; fi
        ff "enc_$m.log" -i src.nut -c:v evatok $ENC_OPTS -model "$m.safetensors" bad.mkv
        rc=$?
        if [ $rc -ne 0 ] && [ $rc -lt 124 ] && grep -q "evatok: cannot load model" "enc_$m.log"; then ok "encoder, $m model: clear error (rc=$rc)"
        else fail "encoder, $m model: rc=$rc $(grep -m1 "evatok: " "enc_$m.log")"; fi
    done
    ff dec_missing.log -model /nonexistent/dir/m.safetensors -i out.mkv -f null -
    rc=$?
    [ $rc -ne 0 ] && [ $rc -lt 124 ] && grep -q "cannot load model '/nonexistent/dir/m.safetensors'" dec_missing.log &&
        ok "decoder, missing model path: clear error" || fail "decoder, missing model: rc=$rc"
    EVATOK_MODEL=/nonexistent/dir/m.safetensors ff enc_missing.log -i src.nut -c:v evatok $ENC_OPTS bad.mkv
    rc=$?
    [ $rc -ne 0 ] && [ $rc -lt 124 ] && grep -q "cannot load model '/nonexistent/dir/m.safetensors'" enc_missing.log &&
        ok "encoder, EVATOK_MODEL pointing nowhere: clear error" || fail "encoder, missing model: rc=$rc"
    # ffprobe must not need the model to show the stream (lazy loading)
    c=$(EVATOK_MODEL=/nonexistent "$FFPROBE" -v error -show_entries stream=codec_name,width,height -of csv=p=0 out.mkv)
    [ "$c" = "evatok,64,64" ] && ok "ffprobe -show_streams works without a model" || fail "ffprobe without model: '$c'"
    # a second model: untrained, random seed, so its fingerprint differs from MODEL's
    if [ -n "$TOOL" ] && [ -x "$TOOL" ]; then
        cfg="$HERE/../../model_runtime/configs/small.json"
        if run init.log "$TOOL" init --config "$cfg" --out other.safetensors --seed 90210; then
            ff dec_other.log -model other.safetensors -i out.mkv -f null -
            rc=$?
            if [ $rc -ne 0 ] && [ $rc -lt 124 ] && grep -q "evatok: the stream was made with another model" dec_other.log; then
                ok "decoder, model with another fingerprint: clear error"
            else fail "decoder, other model: rc=$rc $(grep -m1 "evatok: " dec_other.log)"; fi
        else fail "cannot create a second model with $TOOL: $(tail -n 2 init.log)"; fi
    else
        echo "note: no evatok tool given; fingerprint-mismatch check skipped"
    fi
    ;;

edge)
    # zero frames: ffmpeg never opens the encoder; must end cleanly
    ff zero.log -f lavfi -i testsrc2=size=64x64 -frames:v 0 -c:v evatok $ENC_OPTS zero.nut
    rc=$?; [ $rc -lt 124 ] && ok "zero-frame encode ends cleanly (rc=$rc)"
    # an evatok track without packets decodes to nothing
    make_src src 64 64 3 rgb24
    ff enc.log -i src.nut -c:v evatok $ENC_OPTS one_pkt.mkv || die "encoding failed"
    python3 "$HELPER" mutate one_pkt.mkv nopkt.mkv --keep 0 || die "helper failed"
    ff nopkt.log -i nopkt.mkv -f framecrc nopkt.crc
    rc=$?; n=$(grep -vc '^#' nopkt.crc 2>/dev/null)
    [ $rc -lt 124 ] && [ "${n:-0}" = 0 ] && ok "evatok track without packets: 0 frames (rc=$rc)" ||
        fail "track without packets: rc=$rc n=$n"
    # one frame
    make_src one 200 150 1 rgb24
    ff enc1.log -i one.nut -c:v evatok $ENC_OPTS one.mkv || fail "1-frame encode: $(tail -n 3 enc1.log)"
    check_roundtrip one one.mkv one.nut 1 200 150 1
    # odd size, 17 frames = one full group + a single frame
    make_src odd 37 23 17 rgb24
    ff encodd.log -i odd.nut -c:v evatok $ENC_OPTS odd.nut.mkv || fail "37x23 encode: $(tail -n 3 encodd.log)"
    check_roundtrip odd odd.nut.mkv odd.nut 17 37 23 2
    # tiny frames
    make_src tiny 1 1 4 rgb24 "testsrc=size=1x1:rate=25"
    ff enctiny.log -i tiny.nut -c:v evatok $ENC_OPTS tiny.mkv
    rc=$?
    if [ $rc -eq 0 ]; then [ "$(nb_frames tiny.mkv)" = 4 ] && ok "1x1 frames: round trip" || fail "1x1: frame count"
    elif [ $rc -lt 124 ] && grep -q 'evatok: ' enctiny.log; then ok "1x1 frames: refused clearly"
    else fail "1x1 frames: rc=$rc"; fi
    # AVI (FourCC EVTK) and cutting by packets
    make_src avisrc 64 64 20 rgb24
    ff avi.log -i avisrc.nut -c:v evatok $ENC_OPTS out.avi || fail "AVI encode: $(tail -n 2 avi.log)"
    check_roundtrip avi out.avi avisrc.nut 20 64 64 2
    ;;

mp4-audio)
    # the README's user action: an ordinary MP4 with audio in, evatok MKV out
    ff mk.log -f lavfi -i "testsrc2=size=160x120:rate=25" -f lavfi -i "sine=frequency=440:sample_rate=48000" \
        -frames:v 20 -t 0.8 -c:v mpeg4 -q:v 3 -c:a aac -shortest in.mp4 || die "cannot make in.mp4"
    ff enc.log -i in.mp4 -c:v evatok $ENC_OPTS out.mkv || die "ffmpeg -i in.mp4 -c:v evatok out.mkv failed: $(tail -n 3 enc.log)"
    st=$(fp -show_entries stream=codec_type,codec_name -of csv=p=0 out.mkv | tr '\n' ' ')
    case $st in *"evatok,video"*audio*|*audio*"evatok,video"*) ok "out.mkv has evatok video and audio ($st)" ;;
                *) fail "streams of out.mkv: '$st'" ;; esac
    [ "$(nb_frames out.mkv)" = 20 ] && ok "20 frames decoded" || fail "frame count $(nb_frames out.mkv)"
    ff copy.log -i in.mp4 -c:v evatok $ENC_OPTS -c:a copy copy.mkv && ok "-c:a copy works" || fail "-c:a copy: $(tail -n 2 copy.log)"
    ff back.log -i out.mkv back.mp4 && [ "$(nb_frames back.mp4)" = 20 ] &&   # default codecs
        ok "ffmpeg -i out.mkv out.mp4 works" || fail "back to mp4: $(tail -n 2 back.log)"
    ;;

inputs)
    # user inputs in other codecs/containers -> evatok MKV (audio to the default ac3)
    data="$HERE/data"
    for f in h264_aac.mp4 hevc_mp2.mkv vp9.webm av1_ac3.mkv; do
        ff "$f.log" -i "$data/$f" -c:v evatok $ENC_OPTS "$f.out.mkv"
        rc=$?
        v=$(fp -select_streams v:0 -show_entries stream=codec_name -of csv=p=0 "$f.out.mkv")
        n=$(nb_frames "$f.out.mkv")
        if [ $rc -eq 0 ] && [ "$v" = evatok ] && [ "$n" = 10 ]; then ok "$f -> evatok: 10 frames"
        else fail "$f: rc=$rc codec='$v' frames='$n' $(grep -m1 -i error "$f.log")"; fi
        case $f in vp9.webm) ;; *)
            a=$(fp -select_streams a:0 -show_entries stream=codec_name -of csv=p=0 "$f.out.mkv")
            [ -n "$a" ] && ok "$f: audio kept ($a)" || fail "$f: audio lost" ;;
        esac
    done
    # image sequence and Y4M
    mkdir -p seq
    ff seq.log -f lavfi -i testsrc2=size=96x64:rate=25 -frames:v 5 seq/%03d.png || die "cannot write PNGs"
    ff seqenc.log -framerate 25 -i seq/%03d.png -c:v evatok $ENC_OPTS seq.mkv && [ "$(nb_frames seq.mkv)" = 5 ] &&
        ok "PNG sequence -> evatok" || fail "PNG sequence: $(tail -n 2 seqenc.log)"
    ff y4m.log -f lavfi -i testsrc2=size=96x64:rate=25 -frames:v 5 clip.y4m || die "cannot write Y4M"
    ff y4menc.log -i clip.y4m -c:v evatok $ENC_OPTS y4m.mkv && [ "$(nb_frames y4m.mkv)" = 5 ] &&
        ok "Y4M -> evatok" || fail "Y4M: $(tail -n 2 y4menc.log)"
    ;;

ffplay)
    FFPLAY=$(dirname "$FFMPEG")/ffplay
    [ -x "$FFPLAY" ] || die "no ffplay next to $FFMPEG"
    make_src src 64 64 20 rgb24
    ff enc.log -i src.nut -c:v evatok $ENC_OPTS out.mkv || die "encoding failed"
    SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy run play.log "$FFPLAY" -hide_banner -autoexit -loglevel info -stats out.mkv
    rc=$?
    t=$(tr '\r' '\n' < play.log | sed -n 's/^ *\([0-9.]*\) M-V.*/\1/p' | tail -n 1)
    if [ $rc -eq 0 ] && [ -n "$t" ] && ge "$t" 0.6; then ok "ffplay (dummy display) played to ${t}s"
    else fail "ffplay: rc=$rc, last clock '$t' $(grep 'evatok: ' play.log | head -n 1)"; fi
    ;;

reference)
    # A stream made by an earlier build (tests/ffmpeg/data/README.md) decodes
    # as it did then, within a stated tolerance: other BLAS kernels and thread counts change
    # the last bits of a float, so a pixel may move by a level (measured:
    # 96 dB average, 88 dB worst frame). And on one machine, -threads 1 and 2
    # give identical packets and frames.
    [ "$(basename "$MODEL")" = evatok-default.safetensors ] || { echo "SKIP: the reference is the default model's"; exit 77; }
    ref=$HERE/data/ref-v1-128x64.mkv; refdec=$HERE/data/ref-v1-128x64-decoded.mkv
    p=$("$FFMPEG" -nostdin -hide_banner -model "$MODEL" -i "$ref" -i "$refdec" \
        -lavfi "[0:v]format=rgb24[a];[1:v]format=rgb24[b];[a][b]psnr" -f null - 2>&1 |
        sed -n 's/.*PSNR.* min:\([0-9.inf]*\).*/\1/p' | tail -n 1)
    [ -n "$p" ] && ge "$p" 60 && ok "reference stream decodes as before (worst frame $p dB >= 60 dB)" ||
        fail "reference stream: worst frame '$p' dB against the reference decode (< 60)"
    make_src src 128 64 16 rgb24
    for t in 1 2; do
        ff "e$t.log" -i src.nut -c:v evatok -threads "$t" -f framecrc "e$t.crc" || fail "encode -threads $t"
        ff "d$t.log" -threads "$t" -model "$MODEL" -i "$ref" -f framecrc "d$t.crc" || fail "decode -threads $t"
    done
    cmp -s e1.crc e2.crc && ok "-threads 1 and 2 encode identical packets" || fail "packets differ between -threads 1 and 2"
    cmp -s d1.crc d2.crc && ok "-threads 1 and 2 decode identical frames" || fail "frames differ between -threads 1 and 2"
    ;;

versions)
    # Bitstream v2 (the default) and v1 (-bitstream 1) of the same frames hold
    # the same tokens: identical decoded frames, and v2's packets are smaller.
    make_src src 200 150 20 rgb24
    for v in 1 2; do
        ff "e$v.log" -i src.nut -c:v evatok $ENC_OPTS -bitstream $v "v$v.mkv" || die "encode -bitstream $v failed"
        ff "d$v.log" -i "v$v.mkv" -f framemd5 "d$v.md5" || fail "decode of -bitstream $v failed"
        b[$v]=$(fp -select_streams v:0 -show_entries packet=size -of csv=p=0 "v$v.mkv" | awk '{ s += $1 } END { print s }')
    done
    ff e0.log -i src.nut -c:v evatok $ENC_OPTS v0.mkv || die "default encode failed"
    ff c0.log -i v0.mkv -c copy -f framecrc c0.crc && ff c2.log -i v2.mkv -c copy -f framecrc c2.crc ||
        fail "cannot read the packets back"
    cmp -s c0.crc c2.crc && ok "the default is -bitstream 2 (identical packets)" ||
        fail "the default stream's packets differ from -bitstream 2's"
    cmp -s <(grep -v '^#' d1.md5) <(grep -v '^#' d2.md5) && ok "v1 and v2 decode to identical frames" ||
        fail "v1 and v2 decode to different frames"
    [ -n "${b[2]}" ] && [ "${b[2]}" -lt "${b[1]}" ] && ok "v2 packets ${b[2]} B, v1 ${b[1]} B" ||
        fail "v2 packets (${b[2]} B) not smaller than v1 (${b[1]} B)"
    # -bitstream 3 without -g: keyframes that decode as version 2's
    ff e3.log -i src.nut -c:v evatok $ENC_OPTS -bitstream 3 v3.mkv && ff d3.log -i v3.mkv -f framemd5 d3.md5 &&
        cmp -s <(grep -v '^#' d2.md5) <(grep -v '^#' d3.md5) && ok "-bitstream 3 keyframes decode as v2's" ||
        fail "-bitstream 3 without -g: $(tail -n 3 e3.log d3.log)"
    ff e4.log -i src.nut -c:v evatok $ENC_OPTS -bitstream 4 v4.mkv
    rc=$?
    [ $rc -ne 0 ] && [ $rc -lt 124 ] && ok "-bitstream 4 refused (rc=$rc)" || fail "-bitstream 4: rc=$rc"
    ;;

inter)
    # Bitstream 3 with -g: a still gives one keyframe per -g frames and inter
    # packets that repeat it, marked as such in the container; the decoder
    # shows every frame, seeks land on keyframes, and a stream cut to start at
    # an inter packet waits for the next keyframe with a message.
    make_src still 128 64 80 rgb24 "color=c=0x506070:s=128x64,drawbox=x=20:y=10:w=40:h=30:c=0xe0c080:t=fill"
    ff e12.log -i still.nut -c:v evatok $ENC_OPTS k.mkv || die "keyframe encode failed"
    ff e48.log -v verbose -i still.nut -c:v evatok $ENC_OPTS -g 48 g.mkv || die "-g 48 encode failed: $(tail -n 3 e48.log)"
    flags=$(fp -select_streams v:0 -show_entries packet=flags -of csv=p=0 g.mkv | cut -c1 | tr -d '\n')
    [ "$flags" = "K__K_" ] && ok "-g 48: a keyframe every 3 packets ($flags)" || fail "-g 48 packet flags '$flags', not K__K_"
    kflags=$(fp -select_streams v:0 -show_entries packet=flags -of csv=p=0 k.mkv | cut -c1 | tr -d '\n')
    [ "$kflags" = "KKKKK" ] && ok "default -g: every packet a keyframe" || fail "default -g packet flags '$kflags'"
    grep -q 'packet 1: 16 frames (inter' e48.log && ok "the encoder logs inter packets" || fail "no inter packet in the log"
    kb=$(fp -select_streams v:0 -show_entries packet=size -of csv=p=0 k.mkv | awk '{ s += $1 } END { print s }')
    gb=$(fp -select_streams v:0 -show_entries packet=size -of csv=p=0 g.mkv | awk '{ s += $1 } END { print s }')
    [ -n "$gb" ] && [ "$gb" -lt $((kb / 2)) ] && ok "a still with -g 48: $gb B against $kb B" ||
        fail "a still with -g 48: $gb B, all keyframes $kb B"
    [ "$(nb_frames g.mkv)" = 80 ] && ok "all 80 frames decode" || fail "$(nb_frames g.mkv) frames decoded, not 80"
    pk=$(psnr k.mkv still.nut) pg=$(psnr g.mkv still.nut)
    [ -n "$pg" ] && [ -n "$pk" ] && ge "$pg" "$(echo "$pk - 0.25" | bc -l)" && ok "PSNR $pg dB with -g 48, $pk dB all keyframes" ||
        fail "PSNR '$pg' dB with -g 48 against '$pk' dB all keyframes"
    # seeking: -ss 2 s lands on the keyframe at 1.92 s; no inter packet is dropped
    ff seek.log -v warning -ss 2 -i g.mkv -f null - && ! grep -q 'dropping packets' seek.log &&
        ok "seek to 2 s decodes without drops" || fail "seek: $(tail -n 3 seek.log)"
    # a cut starting at packet 1 (inter): dropped with a message until packet 3
    ff cut.log -i g.mkv -c copy -ss 0.6 -copyinkf cut.mkv
    ff cutd.log -v warning -i cut.mkv -f null - && grep -q 'dropping packets until the next keyframe' cutd.log &&
        [ "$(nb_frames cut.mkv)" = 32 ] && ok "a stream cut at an inter packet resumes at the keyframe (32 frames)" ||
        fail "cut stream: $(nb_frames cut.mkv) frames, $(tail -n 3 cutd.log)"
    # carrying tiles (-inter_carry 1) on the sample pan: some packets carry
    # (flags byte 0x03), the stream decodes whole, near keyframe-only quality.
    # (With the shipped model its packets carry at -inter_tol 0.25 to 1, not
    # at 0.15 or below: 0.5 keeps a margin on both sides.)
    make_src move 128 64 48 rgb24
    ff mk.log -i move.nut -c:v evatok $ENC_OPTS mk.mkv && ff mc.log -i move.nut -c:v evatok $ENC_OPTS -g 48 \
        -inter_carry 1 -inter_motion 0 -inter_tol 0.5 mc.mkv || fail "-inter_carry 1 encode: $(tail -n 3 mc.log)"
    flags=$(fp -v error -show_packets -show_data mc.mkv | grep '^00000000' | awk '{ print substr($5, 3, 2) }' | tr '\n' ' ')
    pmk=$(psnr mk.mkv move.nut) pmc=$(psnr mc.mkv move.nut)
    case " $flags" in *" 03"*) ok "-inter_carry 1: packets with carrying tiles (flags $flags)" ;;
                      *) fail "-inter_carry 1: no packet carries (flags $flags)" ;; esac
    [ "$(nb_frames mc.mkv)" = 48 ] && [ -n "$pmc" ] && ge "$pmc" "$(echo "$pmk - 0.5" | bc -l)" &&
        ok "-inter_carry 1: 48 frames, $pmc dB (keyframes only: $pmk dB)" || fail "-inter_carry 1: '$pmc' dB, '$pmk' dB"
    # moving tiles (-inter_motion, on by default) on the sample pan: inter
    # packets show the previous frame moved (flags byte 0x05), at about the
    # keyframes' PSNR for fewer bytes (measured 2026-12-06: 197 B against 316 B,
    # 0.03 dB less); -inter_motion 0 turns it off.
    ff mm.log -i move.nut -c:v evatok $ENC_OPTS -g 48 mm.mkv &&
        ff m0.log -i move.nut -c:v evatok $ENC_OPTS -g 48 -inter_motion 0 m0.mkv || fail "-g 48 pan encode: $(tail -n 3 mm.log)"
    flags=$(fp -v error -show_packets -show_data mm.mkv | grep '^00000000' | awk '{ print substr($5, 3, 2) }' | tr '\n' ' ')
    flags0=$(fp -v error -show_packets -show_data m0.mkv | grep '^00000000' | awk '{ print substr($5, 3, 2) }' | tr '\n' ' ')
    bk=$(fp -select_streams v:0 -show_entries packet=size -of csv=p=0 mk.mkv | awk '{ s += $1 } END { print s }')
    bm=$(fp -select_streams v:0 -show_entries packet=size -of csv=p=0 mm.mkv | awk '{ s += $1 } END { print s }')
    pmm=$(psnr mm.mkv move.nut)
    case " $flags" in *" 05"*) ok "-g 48 on a pan: packets with moved tiles (flags $flags)" ;;
                      *) fail "-g 48 on a pan: no packet moves a tile (flags $flags)" ;; esac
    case " $flags0" in *" 05"*|*" 07"*) fail "-inter_motion 0 still moves tiles (flags $flags0)" ;;
                       *) ok "-inter_motion 0: no moved tiles (flags $flags0)" ;; esac
    [ "$(nb_frames mm.mkv)" = 48 ] && [ -n "$bm" ] && [ "$bm" -lt $((bk * 4 / 5)) ] && [ -n "$pmm" ] &&
        ge "$pmm" "$(echo "$pmk - 0.25" | bc -l)" && ok "moved tiles: 48 frames, $bm B at $pmm dB (keyframes: $bk B, $pmk dB)" ||
        fail "moved tiles: $(nb_frames mm.mkv) frames, '$bm' B at '$pmm' dB (keyframes: $bk B, $pmk dB)"
    # options: -g with -bitstream 2 warns and writes keyframes
    ff w2.log -i still.nut -c:v evatok $ENC_OPTS -g 48 -bitstream 2 w2.mkv && grep -q 'needs -bitstream 3' w2.log &&
        ok "-g with -bitstream 2: keyframes, with a warning" || fail "-g -bitstream 2: $(tail -n 3 w2.log)"
    ;;

bench)
    # evatok bench (scripts/bench.sh runs it): every figure it states is there
    # and plausible; the speeds themselves are benchmark figures, not checked.
    [ -n "$TOOL" ] || { echo "SKIP: no evatok tool given"; exit 77; }
    ff mk.log -f lavfi -i testsrc2=s=128x64:r=25 -frames:v 20 -pix_fmt yuv420p in.y4m || die "cannot make in.y4m"
    run bench.log "$TOOL" bench --video in.y4m --model "$MODEL" --runs 1 || fail "evatok bench failed: $(tail -n 3 bench.log)"
    peak=$(sed -n 's/.*GEMM peak.*: \([0-9.]*\) GFLOP\/s.*/\1/p' bench.log)
    dec=$(sed -n 's/^FLOPs per tile-clip.*decode \([0-9.]*\) GFLOP.*/\1/p' bench.log)
    [ -n "$peak" ] && ge "$peak" 1 && ok "GEMM peak stated ($peak GFLOP/s)" || fail "no GEMM peak: $(cat bench.log)"
    [ -n "$dec" ] && ge "$dec" 0.01 && ok "decode FLOPs per tile-clip stated ($dec GFLOP)" || fail "no FLOP count: $(cat bench.log)"
    grep -Eq '^encode: +[0-9.]+ fps, +[0-9.]+ GFLOP/s = +[0-9.]+% of the GEMM peak' bench.log &&
        grep -Eq '^decode: +[0-9.]+ fps' bench.log && grep -q 'peak RSS' bench.log &&
        ok "fps, GFLOP/s, fraction of the peak and peak memory stated" || fail "bench output: $(cat bench.log)"
    run prof.log "$TOOL" bench --video in.y4m --model "$MODEL" --runs 1 --profile &&
        grep -q '^decode: self time by op' prof.log && grep -Eq '^  aten::[a-z_0-9]+ +[0-9.]+ ms +[0-9.]+%' prof.log &&
        ok "--profile lists the ops by self time" || fail "bench --profile: $(tail -n 5 prof.log)"
    run bad.log "$TOOL" bench --video /nonexistent.y4m --runs 1
    [ $? -eq 1 ] && grep -q "nonexistent" bad.log && ok "missing video: clear error" || fail "missing video: $(cat bad.log)"
    ;;

*)
    die "unknown case '$case_name'"
    ;;
esac

[ $failures -eq 0 ] || { echo "$case_name: $failures check(s) failed (work dir $W)"; exit 1; }
echo "$case_name: all checks passed"
exit 0
