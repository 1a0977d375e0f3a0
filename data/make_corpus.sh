#!/usr/bin/env bash
# Builds the training/held-out corpus reproducibly from Debian-packaged
# photographs (plasma-workspace-wallpapers) and FFmpeg's synthetic sources.
# Every clip is a 128x128, 25 fps, 48-frame Y4M file. Photos whose index is a
# multiple of 5, and the synthetic sources with the "val" seeds, form the
# held-out split (OUT/val); no training stage reads it.
#
# usage: data/make_corpus.sh FFMPEG OUTDIR
set -euo pipefail
ff=${1:?path to ffmpeg}
out=${2:?output folder}
mkdir -p "$out/train" "$out/val"
S=128 N=48
# enc ARGS... OUTPUT: inputs/filters in ARGS, a 48-frame yuv420p Y4M in OUTPUT
enc() {
  local o=${*: -1}
  "$ff" -nostdin -hide_banner -loglevel error -y "${@:1:$#-1}" -frames:v $N -pix_fmt yuv420p -f yuv4mpegpipe "$o"
}

# One picture per wallpaper folder: its largest image (data/wallpapers.sh).
. "$(dirname "$0")/wallpapers.sh"
list=$(list_wallpapers) || exit 1
mapfile -t photos <<< "$list"

# Downscale every photo once (960 px wide): -loop 1 decodes its input per frame.
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
small=()
for k in "${!photos[@]}"; do
  "$ff" -nostdin -hide_banner -loglevel error -y -i "${photos[$k]}" -vf "scale=960:-2" "$tmp/$k.png"
  small+=("$tmp/$k.png")
done
photos=("${small[@]}")

i=0
for p in "${photos[@]}"; do
  split=train; [ $((i % 5)) -eq 0 ] && split=val
  o="$out/$split/photo$(printf %02d $i)"
  j=$(( (i * 37) % 100 ))            # per-photo variation, deterministic
  src=(-loop 1 -framerate 25 -i "$p")
  # still: a crop that does not move
  enc "${src[@]}" -vf "scale=480:-2,crop=256:256:(iw-256)*$j/100:(ih-256)/2,scale=$S:$S" "$o-still.y4m"
  # slow and fast pans
  enc "${src[@]}" -vf "scale=640:-2,crop=256:256:'min(iw-256,n*1.5)':(ih-256)*$j/100,scale=$S:$S" "$o-panslow.y4m"
  enc "${src[@]}" -vf "scale=960:-2,crop=320:320:'min(iw-320,n*8)':'(ih-320)/2+n*$((j % 3))',scale=$S:$S" "$o-panfast.y4m"
  # zoom in
  enc "${src[@]}" -vf "scale=640:-2,zoompan=z='1+0.012*on':x='iw/2-iw/zoom/2':y='ih/2-ih/zoom/2':d=1:s=${S}x$S:fps=25" "$o-zoom.y4m"
  # hand-held shake
  enc "${src[@]}" -vf "scale=640:-2,crop=240:240:'(iw-240)/2+12*sin(n*0.9)':'(ih-240)/2+9*cos(n*1.3)',scale=$S:$S" "$o-shake.y4m"
  # object motion: a cut-out of the next photo moving over this one
  q=${photos[$(( (i + 1) % ${#photos[@]} ))]}
  enc "${src[@]}" -loop 1 -framerate 25 -i "$q" -filter_complex \
    "[0]scale=480:-2,crop=256:256:(iw-256)/2:(ih-256)/2,scale=$S:$S[bg];[1]scale=80:80:force_original_aspect_ratio=increase,crop=40:40[fg];[bg][fg]overlay=x='mod(n*$((2 + j % 4)),$S)-20':y='44+20*sin(n/6)'" "$o-object.y4m"
  # scene cut: two stills joined
  enc "${src[@]}" -loop 1 -framerate 25 -i "$q" -filter_complex \
    "[0]scale=$S:$S,setsar=1,trim=end_frame=20[a];[1]scale=$S:$S,setsar=1,trim=end_frame=$((N - 20)),setpts=PTS-STARTPTS[b];[a][b]concat=n=2:v=1[v]" -map "[v]" "$o-cut.y4m"
  i=$((i + 1))
done

# Synthetic motion of known complexity; seeds differ between the splits.
for split in train val; do
  s=1; [ $split = val ] && s=7
  o="$out/$split/synth"
  enc -f lavfi -i "testsrc2=s=${S}x$S:r=25" "$o-testsrc2.y4m"
  enc -f lavfi -i "mandelbrot=s=${S}x$S:r=25:start_scale=$((2 + s)):end_scale=0.01" "$o-mandelbrot.y4m"
  enc -f lavfi -i "life=s=${S}x$S:r=25:seed=$s:mold=10:ratio=0.$((1 + s))" "$o-life.y4m"
  enc -f lavfi -i "cellauto=s=${S}x$S:r=25:rule=$((18 + 12 * s)):seed=$s" "$o-cellauto.y4m"
  enc -f lavfi -i "gradients=s=${S}x$S:r=25:speed=0.0$s:seed=$s" "$o-gradients.y4m"
  enc -f lavfi -i "smptebars=s=${S}x$S:r=25" "$o-smptebars.y4m"
done
echo "corpus: $(ls "$out/train" | wc -l) training and $(ls "$out/val" | wc -l) held-out clips in $out"
