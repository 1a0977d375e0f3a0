#!/bin/bash
# The corpus scripts in data/ that need no download: augment_clips.sh on tiny
# clips (count, names, frames kept, pictures changed, deterministic) and the
# bad inputs of augment_clips.sh and the two real-footage scripts (no clips,
# an ffmpeg without the filters, a .deb folder without the packages).
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
exit $fail
