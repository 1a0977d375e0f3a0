# Sourced by make_corpus.sh and make_texture_clips.sh: the camera and object
# motions that turn one still picture into 128x128, 25 fps, 48-frame Y4M clips.
# The sourcing script sets ff (the ffmpeg to run) and tmp (a scratch folder).
S=128 N=48
# enc ARGS... OUTPUT: inputs/filters in ARGS, a 48-frame yuv420p Y4M in OUTPUT
# (written under another name first, so an OUTPUT that exists is complete)
enc() {
  local o=${*: -1}
  "$ff" -nostdin -hide_banner -loglevel error -y "${@:1:$#-1}" -frames:v $N -pix_fmt yuv420p -f yuv4mpegpipe "$o.part"
  mv "$o.part" "$o"
}

# shrink_all TAG PATH...: every photo once at 960 px wide (-loop 1 decodes its
# input per frame); sets the array small to the results.
shrink_all() {
  local tag=$1 k=0 f; shift
  small=()
  for f in "$@"; do
    "$ff" -nostdin -hide_banner -loglevel error -y -i "$f" -vf "scale=960:-2" "$tmp/$tag$k.png"
    small+=("$tmp/$tag$k.png"); k=$((k + 1))
  done
}

# photo_clips OUT_PREFIX PHOTO NEXT_PHOTO J: the seven motions of one photo; J
# (0..99) varies crops and speeds, NEXT_PHOTO is the moving object and the cut.
photo_clips() {
  local o=$1 p=$2 q=$3 j=$4
  local src=(-loop 1 -framerate 25 -i "$p")
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
  enc "${src[@]}" -loop 1 -framerate 25 -i "$q" -filter_complex \
    "[0]scale=480:-2,crop=256:256:(iw-256)/2:(ih-256)/2,scale=$S:$S[bg];[1]scale=80:80:force_original_aspect_ratio=increase,crop=40:40[fg];[bg][fg]overlay=x='mod(n*$((2 + j % 4)),$S)-20':y='44+20*sin(n/6)'" "$o-object.y4m"
  # scene cut: two stills joined
  enc "${src[@]}" -loop 1 -framerate 25 -i "$q" -filter_complex \
    "[0]scale=$S:$S,setsar=1,trim=end_frame=20[a];[1]scale=$S:$S,setsar=1,trim=end_frame=$((N - 20)),setpts=PTS-STARTPTS[b];[a][b]concat=n=2:v=1[v]" -map "[v]" "$o-cut.y4m"
}

# photo_set TRAIN_DIR VAL_DIR NAME PHOTO...: clips of every photo; index k goes
# to VAL_DIR when k is a multiple of 5. A photo whose last clip (-cut) exists is
# skipped, so an interrupted run resumes.
photo_set() {
  local tdir=$1 vdir=$2 name=$3 i o; shift 3
  local photos=("$@")
  for i in "${!photos[@]}"; do
    o=$tdir; [ $((i % 5)) -eq 0 ] && o=$vdir
    o=$o/$name$(printf %02d "$i")
    [ -f "$o-cut.y4m" ] && continue
    photo_clips "$o" "${photos[$i]}" \
      "${photos[$(( (i + 1) % ${#photos[@]} ))]}" $(( (i * 37) % 100 ))
  done
}
