#!/bin/bash
# The corpus scripts in data/ that need no download: augment_clips.sh on tiny
# clips (count, names, frames kept, pictures changed, deterministic) and the
# bad inputs of augment_clips.sh and the two real-footage scripts (no clips,
# an ffmpeg without the filters, a .deb folder without the packages), and
# make_motion_set.sh and photo_motion.sh's seven motions on generated
# pictures, make_texture_clips.sh's missing packages, and
# experiments/tokens_by_kind.sh.
#
#   data_scripts.sh FFMPEG
# Exit status: 0 pass, 1 fail.
set -u
FF=$(realpath "${1:?usage: data_scripts.sh FFMPEG}")
DATA=$(cd "$(dirname "$0")/../../data" && pwd)
. "$(dirname "$0")/lib.sh"
frames() { grep -a -o "FRAME" "$1" | wc -l; }

mkdir -p clips empty debs
for k in 0 1 2 3 4 5 6 7; do
  "$FF" -nostdin -loglevel error -f lavfi -i "testsrc2=s=64x48:r=25,hue=H=$k" -frames:v 6 \
    -pix_fmt yuv420p clips/c$k.y4m
done

check "augments every other clip" '"$DATA/augment_clips.sh" "$FF" clips aug > log 2>&1 && [ $(ls aug | wc -l) -eq 4 ]'
check "one clip of each kind, named after its source" '[ -f aug/aug-noise-c1.y4m ] && [ -f aug/aug-lowres-c3.y4m ] && [ -f aug/aug-dim-c5.y4m ] && [ -f aug/aug-blur-c7.y4m ]'
check "frames and size kept" '(for f in aug/*.y4m; do [ $(frames "$f") -eq 6 ] && head -c 40 "$f" | grep -q "W64 H48" || exit 1; done)'
check "pictures changed" '(for f in aug/*.y4m; do s=clips/${f#aug/aug-*-}; ! cmp -s "$f" "$s" || exit 1; done)'
check "deterministic" '"$DATA/augment_clips.sh" "$FF" clips aug2 > /dev/null 2>&1 && (for f in aug/*.y4m; do cmp -s "$f" aug2/${f#aug/} || exit 1; done)'

check "augment: no clips is refused" '! "$DATA/augment_clips.sh" "$FF" empty out > log 2>&1 && grep -q "no .y4m clips in empty" log'
printf '#!/bin/sh\necho "Unknown filter"\n' > noff; chmod +x noff
check "augment: an ffmpeg without the filters is refused" '! "$DATA/augment_clips.sh" ./noff clips out2 > log 2>&1 && grep -q "lacks the noise filter" log && [ ! -e out2/aug-noise-c1.y4m ]'
check "real training clips: missing .debs are named" '! "$DATA/make_real_train_clips.sh" "$FF" out3 debs > log 2>&1 && grep -q "no node-opencv_\*.deb in debs" log'
check "real held-out clips: missing .debs are named" '! "$DATA/make_real_clips.sh" "$FF" out4 debs > log 2>&1 && grep -q "no opencv-doc_\*.deb in debs" log'
# make_motion_set.sh on two generated pictures: three clips each, same size
# and length, the still one static and the others moving.
"$FF" -nostdin -loglevel error -f lavfi -i "testsrc2=s=800x500" -frames:v 1 picA.png
"$FF" -nostdin -loglevel error -f lavfi -i "mandelbrot=s=700x520" -frames:v 1 picB.png
frame() { local h; h=$(head -n 1 "$1" | wc -c); tail -c +$((h + 1 + ($2) * 24582 + 6)) "$1" | head -c 24576 | md5sum; }
check "motion set: three clips per picture" '"$DATA/make_motion_set.sh" "$FF" motion picA.png picB.png > log 2>&1 && [ $(ls motion | wc -l) -eq 6 ] && [ -f motion/picA-still.y4m ] && [ -f motion/picB-panslow.y4m ] && [ -f motion/picA-busy.y4m ]'
check "motion set: 48 frames of 128x128" '(for f in motion/*.y4m; do [ $(frames "$f") -eq 48 ] && head -c 40 "$f" | grep -q "W128 H128" || exit 1; done)'
check "motion set: the still clip is static, the others move" '[ "$(frame motion/picA-still.y4m 0)" = "$(frame motion/picA-still.y4m 47)" ] && [ "$(frame motion/picA-panslow.y4m 0)" != "$(frame motion/picA-panslow.y4m 47)" ] && [ "$(frame motion/picB-busy.y4m 0)" != "$(frame motion/picB-busy.y4m 47)" ]'
check "motion set: still and slow pan start on the same frame" '[ "$(frame motion/picB-still.y4m 0)" = "$(frame motion/picB-panslow.y4m 0)" ]'
check "motion set: one picture is refused" '! "$DATA/make_motion_set.sh" "$FF" m2 picA.png > log 2>&1 && grep -q "at least two images" log'
check "motion set: a missing picture is named" '! "$DATA/make_motion_set.sh" "$FF" m3 picA.png nope.png > log 2>&1 && grep -q "no such image: nope.png" log'
check "texture clips: missing .debs are named" '! "$DATA/make_texture_clips.sh" "$FF" out5 debs > log 2>&1 && grep -q "no supertuxkart-data_\*.deb in debs" log'
# photo_motion.sh (make_corpus.sh's and make_texture_clips.sh's motions) on the
# two pictures: seven 48-frame 128x128 clips each; picture 0 is held out.
check "photo motions: seven clips per picture, every fifth held out" '(ff=$FF tmp=$PWD; . "$DATA/photo_motion.sh"; mkdir -p pt pv; shrink_all s picA.png picB.png && photo_set pt pv x "${small[@]}") > log 2>&1 && [ $(ls pv | wc -l) -eq 7 ] && [ $(ls pt | wc -l) -eq 7 ] && [ -f pv/x00-zoom.y4m ] && [ -f pt/x01-cut.y4m ]'
check "photo motions: 48 frames of 128x128, the still clip static, the pan moving" '(for f in pt/*.y4m pv/*.y4m; do [ $(frames "$f") -eq 48 ] && head -c 40 "$f" | grep -q "W128 H128" || exit 1; done) && [ "$(frame pt/x01-still.y4m 0)" = "$(frame pt/x01-still.y4m 47)" ] && [ "$(frame pt/x01-panslow.y4m 0)" != "$(frame pt/x01-panslow.y4m 47)" ]'
# experiments/tokens_by_kind.sh: means per method, wq and kind; uniform rows left out
TBK=$(cd "$(dirname "$0")/../../experiments" && pwd)/tokens_by_kind.sh
printf '%s\n' method,setting,clip,assignment,tokens,psnr,ssim uniform,128,d/a-still.y4m,128-128-128-128,512,30,0.9 \
  search,4,d/a-still.y4m,64-8-8-8,88,26,0.8 search,4,d/b-still.y4m,32-8-8-8,56,28,0.8 search,4,d/a-panslow.y4m,64-8-64-8,144,25,0.8 > e.csv
check "tokens by kind: means per kind" '"$TBK" e.csv > log 2>&1 && grep -Eq "^search +4 +still +2 +72.0 +27.00 +48.0 +24.0$" log && grep -Eq "^search +4 +panslow +1 +144.0 +25.00" log && ! grep -q uniform log'
check "tokens by kind: per-clip assignments" '"$TBK" e.csv --clips > log 2>&1 && grep -Eq "^search +4 +a-still +64-8-8-8 +88 tokens" log'
check "tokens by kind: another file is refused" '! "$TBK" "$DATA/make_corpus.sh" > log 2>&1 && grep -q "not a CSV written by evatok eval" log'
exit $fail
