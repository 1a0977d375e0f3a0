#!/usr/bin/env bash
# The larger training set of issue 23, in one folder: the corpus of
# data/make_corpus.sh --more (its training splits train/ and train-more/),
# the real training clips of data/make_real_train_clips.sh, one
# camera-like copy of every other corpus clip (data/augment_clips.sh), and
# the photographic textures of data/make_texture_clips.sh (textures/train).
# OUT/all holds links to every training clip (what --data takes); OUT/corpus
# also holds the held-out splits val/ and val-more/, and OUT/textures/val the
# textures' held-out clips: no training reads them.
#
# usage: data/make_training_set.sh FFMPEG DEBIAN_FFMPEG OUT [DEB_DIR]
#   FFMPEG: this project's build/ffmpeg_build/ffmpeg (or Debian's); DEBIAN_FFMPEG:
#   an ffmpeg with the common decoders, for the sample videos (apt-get install ffmpeg)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ff=${1:?usage: make_training_set.sh FFMPEG DEBIAN_FFMPEG OUT [DEB_DIR]}
sysff=${2:?missing DEBIAN_FFMPEG}
out=${3:?missing OUT}
debs=${4:-}
mkdir -p "$out"
"$here/make_corpus.sh" "$ff" "$out/corpus" --more $debs
"$here/make_real_train_clips.sh" "$sysff" "$out/real-train" $debs
"$here/augment_clips.sh" "$ff" "$out/corpus/train" "$out/aug-train"
"$here/augment_clips.sh" "$ff" "$out/corpus/train-more" "$out/aug-train-more"
"$here/make_texture_clips.sh" "$ff" "$out/textures" $debs
mkdir -p "$out/all"
# Link-name prefixes as in the first run on this set (2026-12-01), plus tex-
# for the textures added on 2026-12-06.
n=0
for pair in corpus/train:train corpus/train-more:train-more real-train:realtrain aug-train:a aug-train-more:b textures/train:tex; do
  d=${pair%%:*}; prefix=${pair#*:}
  for f in "$out/$d"/*.y4m; do
    ln -sf "$(realpath "$f")" "$out/all/$prefix-$(basename "$f")"
    n=$((n + 1))
  done
done
echo "training set: $n clips in $out/all (held out: $(ls "$out/corpus/val" | wc -l) in corpus/val, $(ls "$out/corpus/val-more" | wc -l) in corpus/val-more, $(ls "$out/textures/val" | wc -l) in textures/val)"
