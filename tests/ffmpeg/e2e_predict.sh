#!/bin/bash
# End-to-end tests of the evatok_predict filter in the patched FFmpeg.
#
#   e2e_predict.sh CASE FFMPEG FFPROBE TOKENIZER AR_MODEL [EVATOK_TOOL]
#
# CASE: count seed options models short sizes chain memory ffplay default
# AR_MODEL must belong to TOKENIZER (meson passes an untrained AR model made
# for the shipped tokenizer: these tests check structure, timing, determinism
# and errors, not picture quality). EVATOK_TOOL (the `evatok` CLI) makes the
# mismatched models of the `models` case. `default` checks the shipped default
# AR model against the shipped tokenizer (skipped when there is none).
# Environment: EVATOK_TEST_TIMEOUT (seconds per command, default 300),
# EVATOK_TEST_KEEP=1 keeps the work dir. Exit: 0 pass, 1 fail, 77 skip.
set -u

case_name=${1:?usage: e2e_predict.sh CASE FFMPEG FFPROBE TOKENIZER AR_MODEL [EVATOK_TOOL]}
FFMPEG=${2:?missing FFMPEG}
FFPROBE=${3:?missing FFPROBE}
TOKENIZER=${4:?missing TOKENIZER}
AR=${5:?missing AR_MODEL}
TOOL=${6:-}
TMO=${EVATOK_TEST_TIMEOUT:-300}
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/lib.sh"

[ -x "$FFMPEG" ] && [ -x "$FFPROBE" ] || die "ffmpeg/ffprobe not built: $FFMPEG $FFPROBE"
[ -f "$TOKENIZER" ] && [ -f "$AR" ] || die "model files missing: $TOKENIZER $AR"
FFMPEG=$(abs "$FFMPEG"); FFPROBE=$(abs "$FFPROBE"); TOKENIZER=$(abs "$TOKENIZER"); AR=$(abs "$AR")
[ -z "$TOOL" ] || TOOL=$(abs "$TOOL")
export EVATOK_MODEL=$TOKENIZER EVATOK_AR_MODEL=$AR  # the filter's defaults below

W=$(mktemp -d "${TMPDIR:-/tmp}/evatok-predict-$case_name.XXXXXX")
[ "${EVATOK_TEST_KEEP:-0}" = 1 ] || trap 'rm -rf "$W"' EXIT
cd "$W" || exit 1

# src NAME W H FRAMES PIXFMT: a moving test pattern at 25 fps, lossless NUT
src() {   # (testsrc2 rounds odd sizes down: scale to the exact size)
    ff "src_$1.log" -f lavfi -i "testsrc2=size=$((($2 + 1) / 2 * 2))x$((($3 + 1) / 2 * 2)):rate=25" \
        -vf "scale=$2:$3,setsar=1" -frames:v "$4" -pix_fmt "$5" -c:v rawvideo "$1.nut" || die "cannot make source $1"
}
# expect_pts FILE N: frame timestamps are 0, 0.04, ... (N frames at 25 fps)
expect_pts() {
    local want got
    want=$(awk -v n="$2" 'BEGIN { for (i = 0; i < n; i++) printf "%.6f\n", i / 25 }')
    got=$(pts_list "$1")
    [ "$got" = "$want" ]
}
# rejected LOG PATTERN: the last ffmpeg run failed cleanly with PATTERN in LOG
rejected() { [ "$rc" -ne 0 ] && [ "$rc" -lt 124 ] && grep -q -- "$2" "$1"; }
md5s() { grep -v '^#' "$1" | awk -F, '{ print $NF }'; }

case $case_name in
count)
    src s 64 64 20 rgb24
    ff a.log -i s.nut -vf evatok_predict -c:v rawvideo a.nut || die "evatok_predict failed: $(tail -n 3 a.log)"
    n=$(nb_frames a.nut); [ "$n" = 31 ] && ok "20 frames in, 31 out (11 predicted)" || fail "got $n frames, want 31"
    expect_pts a.nut 31 && ok "timestamps continue at 25 fps" || { fail "timestamps:"; pts_list a.nut | tail -n 13 | tr '\n' ' '; echo; }
    ff m1.log -i s.nut -f framemd5 s.md5; ff m2.log -i a.nut -f framemd5 a.md5
    [ "$(md5s s.md5)" = "$(md5s a.md5 | head -n 20)" ] && ok "input frames pass through unchanged" || fail "input frames changed"
    dims=$(fp -select_streams v:0 -show_entries frame=width,height -of csv=p=0 a.nut | sort -u | tr '\n' ' ')
    [ "$dims" = "64,64 " ] && ok "all frames 64x64" || fail "frame sizes '$dims'"
    ff b.log -i s.nut -vf evatok_predict=frames=3 -c:v rawvideo b.nut && [ "$(nb_frames b.nut)" = 23 ] &&
        ok "frames=3: 23 frames" || fail "frames=3: $(nb_frames b.nut) frames $(tail -n 2 b.log)"
    # more than one prediction: block after block, each conditioned on the last frames emitted
    ff c.log -v verbose -i s.nut -vf evatok_predict=frames=25 -c:v rawvideo c.nut || fail "frames=25: $(tail -n 2 c.log)"
    n=$(nb_frames c.nut); [ "$n" = 45 ] && ok "frames=25: 45 frames" || fail "frames=25: $n frames"
    expect_pts c.nut 45 && ok "frames=25: timestamps continue" || fail "frames=25: timestamps"
    n=$(grep -c 'evatok: predicted frames' c.log)
    [ "$n" = 3 ] && ok "frames=25: 3 predictions (11+11+3)" || fail "frames=25: $n prediction log lines"
    ff d.log -i s.nut -vf evatok_predict=passthrough=0 -c:v rawvideo d.nut || fail "passthrough=0: $(tail -n 2 d.log)"
    p=$(pts_list d.nut | head -n 1); n=$(nb_frames d.nut)
    [ "$n" = 11 ] && [ "$p" = 0.800000 ] && ok "passthrough=0: 11 frames from 0.8 s" || fail "passthrough=0: $n frames, first pts $p"
    # a stream in another time base (MKV, 1/1000) keeps continuing timestamps
    ff mk.log -i s.nut -c:v ffv1 s.mkv || die "cannot make mkv"
    ff e.log -i s.mkv -vf evatok_predict=frames=4 -c:v ffv1 e.mkv || fail "mkv input: $(tail -n 2 e.log)"
    last=$(pts_list e.mkv | tail -n 1)
    [ "$last" = 0.920000 ] && ok "MKV in/out: last of 24 frames at 0.92 s" || fail "MKV: last pts '$last'"
    ;;

seed)
    src s 64 64 8 yuv420p
    for r in 1 2; do ff "r$r.log" -i s.nut -vf evatok_predict=seed=7:top_k=100 -f framemd5 "r$r.md5" || fail "run $r"; done
    [ -s r1.md5 ] && cmp -s <(md5s r1.md5) <(md5s r2.md5) && ok "seed=7 twice: identical output" || fail "seed=7 runs differ"
    ff r3.log -i s.nut -vf evatok_predict=seed=8:top_k=100 -f framemd5 r3.md5 || fail "seed=8"
    ! cmp -s <(md5s r1.md5 | tail -n 11) <(md5s r3.md5 | tail -n 11) && ok "seed=8: other frames" || fail "seed 7 and 8 agree"
    [ "$(md5s r1.md5 | head -n 8)" = "$(md5s r3.md5 | head -n 8)" ] && ok "input frames equal across seeds" || fail "input frames differ"
    ff r4.log -i s.nut -vf evatok_predict=temperature=0 -f framemd5 r4.md5 &&
        ff r5.log -i s.nut -vf evatok_predict=temperature=0:seed=99 -f framemd5 r5.md5 &&
        cmp -s <(md5s r4.md5) <(md5s r5.md5) && ok "temperature=0 (greedy) ignores the seed" || fail "greedy runs differ"
    # The thread count changes the speed only (the default is every core).
    ff r6.log -i s.nut -vf evatok_predict=seed=7:top_k=100:threads=1 -f framemd5 r6.md5 &&
        cmp -s <(md5s r1.md5) <(md5s r6.md5) && ok "threads=1: the same output as every core" ||
        fail "threads=1 and the default give other frames"
    # sample_known=1: the first block (frames the input holds) is sampled too, so other frames
    ff r7.log -i s.nut -vf evatok_predict=seed=7:top_k=100:sample_known=1 -f framemd5 r7.md5 &&
        ! cmp -s <(md5s r1.md5 | tail -n 11) <(md5s r7.md5 | tail -n 11) && ok "sample_known=1: other frames" ||
        fail "sample_known=1 gives the same frames"
    ;;

options)
    src s 64 64 6 rgb24
    for o in frames=0 frames=-3 temperature=-1 top_p=0 top_p=1.5 top_k=-1 cfg=-2 seed=-5 nosuchoption=1; do
        ff bad.log -i s.nut -vf "evatok_predict=$o" -f null -
        rc=$?
        rejected bad.log 'evatok_predict\|Option\|out of range\|not found' && ok "'$o' rejected (rc=$rc)" ||
            fail "'$o': rc=$rc $(tail -n 2 bad.log)"
    done
    ff cls.log -i s.nut -vf evatok_predict=class=nosuchclass -f null -
    rc=$?; rejected cls.log "unknown class 'nosuchclass'; the AR model knows" && ok "unknown class rejected with the list" ||
        fail "class=nosuchclass: rc=$rc $(grep evatok cls.log | head -n 2)"
    ff dev.log -i s.nut -vf evatok_predict=device=nosuchdevice -f null -
    rc=$?; rejected dev.log "evatok: cannot load model" && ok "bad device rejected" || fail "device: rc=$rc"
    cls=$("$FFMPEG" -hide_banner -v error -i s.nut -vf evatok_predict=class=zzz -f null - 2>&1 | sed -n 's/.*knows: \([a-z]*\).*/\1/p')
    if [ -n "$cls" ]; then
        ff c.log -i s.nut -vf "evatok_predict=class=$cls:cfg=2:top_p=0.9:temperature=0.8:frames=2" -f null - &&
            ok "class=$cls with cfg=2, top_p, temperature" || fail "class=$cls: $(tail -n 2 c.log)"
    fi
    run help.log "$FFMPEG" -hide_banner -h filter=evatok_predict
    for o in model ar_model frames temperature top_k top_p seed cfg class device start passthrough; do
        grep -q "^ *$o " help.log || fail "option $o missing from the filter help"
    done
    ok "filter help lists model, ar_model, frames, temperature, top_k, top_p, seed, cfg, class, device"
    ;;

models)
    src s 64 64 6 rgb24
    echo "not a model" > text.safetensors
    head -c 5000 "$AR" > truncated.safetensors
    for m in /nonexistent/ar.safetensors text.safetensors truncated.safetensors "$TOKENIZER"; do
        ff m.log -i s.nut -vf "evatok_predict=ar_model=$m" -f null -
        rc=$?
        rejected m.log "evatok: cannot load AR model" && ok "ar_model=$(basename "$m"): clear error" ||
            fail "ar_model=$m: rc=$rc $(grep evatok m.log | head -n 2)"
    done
    grep -q "tokenizer model, not an AR model" m.log && ok "a tokenizer file given as ar_model is named as such" ||
        fail "no hint for a tokenizer given as AR model"
    ff t.log -i s.nut -vf "evatok_predict=model=/nonexistent/tok.safetensors" -f null -
    rc=$?; rejected t.log "evatok: cannot load model '/nonexistent/tok.safetensors'" && ok "missing tokenizer: clear error" ||
        fail "missing tokenizer: rc=$rc"
    if [ -n "$TOOL" ] && [ -x "$TOOL" ]; then
        cfg="$HERE/../../model_runtime/configs/small.json"
        run init.log "$TOOL" init --config "$cfg" --out other.safetensors --seed 90210 || die "init failed"
        ff mm.log -i s.nut -vf "evatok_predict=model=other.safetensors" -f null -
        rc=$?
        rejected mm.log "was trained on the tokens of tokenizer" && ok "AR model with another tokenizer: mismatch error" ||
            fail "mismatch: rc=$rc $(grep evatok mm.log | head -n 2)"
    else
        echo "note: no evatok tool given; mismatch check skipped"
    fi
    ;;

short)
    src s 64 64 3 rgb24
    ff a.log -i s.nut -vf evatok_predict -c:v rawvideo a.nut || die "3-frame input failed: $(tail -n 3 a.log)"
    n=$(nb_frames a.nut); [ "$n" = 14 ] && ok "3 frames in, 14 out" || fail "3 frames: $n out"
    expect_pts a.nut 14 && ok "3 frames: timestamps continue" || fail "3 frames: timestamps"
    grep -q "only 3 input frame(s)" a.log && ok "warning about the short input" || fail "no short-input warning"
    src one 64 64 1 rgb24
    ff b.log -i one.nut -vf evatok_predict=frames=2 -c:v rawvideo b.nut && [ "$(nb_frames b.nut)" = 3 ] &&
        ok "1 frame in, 3 out" || fail "1 frame: $(nb_frames b.nut) $(tail -n 2 b.log)"
    ff z.log -i s.nut -vf "trim=end_frame=0,evatok_predict" -c:v rawvideo z.nut
    rc=$?; [ $rc -lt 124 ] && grep -q "no input frames" z.log && ok "0 frames in: clean end (rc=$rc)" || fail "0 frames: rc=$rc"
    ;;

sizes)
    for spec in "37 23 yuv420p" "200 150 rgb24" "17 9 rgb24" "2 2 yuv420p" "320 64 yuv420p"; do
        set -- $spec
        src "s$1" "$1" "$2" 6 "$3"
        ff "o$1.log" -i "s$1.nut" -vf evatok_predict=frames=4 -c:v rawvideo "o$1.nut"
        rc=$?
        dims=$(fp -select_streams v:0 -show_entries frame=width,height,pix_fmt -of csv=p=0 "o$1.nut" | sort -u | tr '\n' ' ')
        n=$(nb_frames "o$1.nut")
        [ $rc = 0 ] && [ "$n" = 10 ] && [ "$dims" = "$1,$2,$3 " ] && ok "$1x$2 $3: 10 frames, size and format kept" ||
            fail "$1x$2 $3: rc=$rc n=$n dims='$dims' $(tail -n 2 "o$1.log")"
    done
    # other pixel formats are converted by FFmpeg
    ff g.log -f lavfi -i "testsrc2=size=48x40:rate=25" -frames:v 6 -vf format=yuv444p,evatok_predict=frames=2 -f null - &&
        ok "yuv444p input converted automatically" || fail "yuv444p input: $(tail -n 2 g.log)"
    ;;

chain)
    src s 128 96 10 yuv420p
    ff a.log -i s.nut -vf "scale=96:72,evatok_predict=frames=6,hflip,format=rgb24,drawbox=x=1:y=1:w=8:h=8" \
        -c:v rawvideo a.nut || die "filter chain failed: $(tail -n 3 a.log)"
    n=$(nb_frames a.nut); d=$(fp -select_streams v:0 -show_entries stream=width,height,pix_fmt -of csv=p=0 a.nut)
    [ "$n" = 16 ] && [ "$d" = "96,72,rgb24" ] && ok "scale,evatok_predict,hflip,format,drawbox: 16 frames 96x72" ||
        fail "chain: $n frames, '$d'"
    ff b.log -i s.nut -filter_complex "[0:v]split[x][y];[x]evatok_predict=frames=5[p];[y]tpad=stop=5:stop_mode=clone[q];[p][q]hstack" \
        -c:v rawvideo b.nut && [ "$(nb_frames b.nut)" = 15 ] && ok "split / tpad / hstack graph: 15 frames" ||
        fail "filter_complex: $(nb_frames b.nut) frames $(tail -n 2 b.log)"
    ff c.log -i s.nut -vf evatok_predict=frames=16 -c:v evatok c.mkv && [ "$(nb_frames c.mkv)" = 26 ] &&
        ok "predicted frames encoded with -c:v evatok: 26 frames" || fail "into the evatok encoder: $(tail -n 2 c.log)"
    ;;

memory)
    # The filter keeps cond_frames input frames and sends each AR call's
    # frames out as they are made: its memory must not grow with frames=.
    # At 320x240 the 220 frames would hold 51 MB if they were kept.
    src s 320 240 8 rgb24
    peak() { /usr/bin/time -f %M -o "$1.rss" "$FFMPEG" -nostdin -hide_banner -loglevel error -i s.nut \
                 -vf "evatok_predict=frames=$2" -f null - > "$1.log" 2>&1 && tail -n 1 "$1.rss"; }
    small=$(peak small 22) || die "frames=22: $(tail -n 2 small.log)"
    large=$(peak large 220) || die "frames=220: $(tail -n 2 large.log)"
    grow=$(( (large - small) / 1024 ))
    [ "$grow" -le 24 ] && ok "peak memory: $((small / 1024)) MiB with frames=22, $((large / 1024)) MiB with frames=220" ||
        fail "peak memory grows with frames: $((small / 1024)) MiB (22 frames) -> $((large / 1024)) MiB (220)"
    ;;

ffplay)
    FFPLAY=$(dirname "$FFMPEG")/ffplay
    [ -x "$FFPLAY" ] || die "no ffplay next to $FFMPEG"
    src s 64 64 30 yuv420p
    # ffplay never tells its filters that the input ended: start=N predicts after N frames
    SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy run play.log "$FFPLAY" -hide_banner -autoexit -loglevel verbose -stats \
        -vf evatok_predict=start=10 s.nut
    rc=$?
    t=$(tr '\r' '\n' < play.log | sed -n 's/^ *\([0-9.]*\) M-V.*/\1/p' | tail -n 1)
    if [ $rc -eq 0 ] && [ -n "$t" ] && ge "$t" 0.7 && grep -q 'evatok: predicted frames 0..10' play.log; then
        ok "ffplay -vf evatok_predict=start=10 played 10 + 11 frames (clock ${t}s)"
    else fail "ffplay: rc=$rc, last clock '$t' $(grep 'evatok' play.log | tail -n 1)"; fi
    # the same through ffmpeg: 10 input frames used, the other 20 dropped
    ff st.log -i s.nut -vf evatok_predict=start=10 -c:v rawvideo st.nut && [ "$(nb_frames st.nut)" = 21 ] &&
        expect_pts st.nut 21 && ok "start=10 with ffmpeg: 21 frames, continuing timestamps" ||
        fail "start=10: $(nb_frames st.nut) frames $(tail -n 2 st.log)"
    ;;

default)
    unset EVATOK_MODEL EVATOK_AR_MODEL
    shipped="$HERE/../../samples/models/evatok-ar-default.safetensors"
    [ -f "$shipped" ] || { echo "SKIP: no shipped AR model ($shipped)"; exit 77; }
    src s 64 64 8 rgb24
    ff a.log -v verbose -i s.nut -vf evatok_predict -c:v rawvideo a.nut
    rc=$?
    if [ $rc = 0 ] && [ "$(nb_frames a.nut)" = 19 ]; then ok "built-in default tokenizer + AR model: 19 frames"
    else fail "default models: rc=$rc $(grep 'evatok' a.log | tail -n 2)"; fi
    ;;

*)
    die "unknown case '$case_name'"
    ;;
esac

[ $failures -eq 0 ] || { echo "$case_name: $failures check(s) failed (work dir $W)"; exit 1; }
echo "$case_name: all checks passed"
exit 0
