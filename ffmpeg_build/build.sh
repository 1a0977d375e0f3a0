#!/bin/sh
# Build the patched FFmpeg 5.1 (ffmpeg, ffprobe, ffplay) with the evatok codec.
#
#   ffmpeg_build/build.sh SRC_DIR BUILD_DIR PKGCONFIG_DIR REPO_ROOT
#
# SRC_DIR        pristine Debian FFmpeg 5.1.9 tree (ffmpeg_build/fetch.sh); never modified
# BUILD_DIR      where the patched copy (tree/), the objects (obj/) and the
#                final binaries (ffmpeg, ffprobe, ffplay) go
# PKGCONFIG_DIR  folder holding evatok.pc or evatok-uninstalled.pc
# REPO_ROOT      repository root (patches/, ffmpeg_glue/)
#
# Incremental: the tree is re-copied and re-patched only when patches/ change,
# configure re-runs only when its flags or the patches change; make does the rest.
# Static FFmpeg libraries, linked into the binaries; the system FFmpeg is never
# touched. Environment: EVATOK_FFMPEG_JOBS (default 2), EVATOK_FFMPEG_EXTRA_FLAGS
# (extra configure flags, e.g. --enable-filter=NAME for a filter glue).
set -eu

src=${1:?usage: build.sh SRC_DIR BUILD_DIR PKGCONFIG_DIR REPO_ROOT}
build=${2:?missing BUILD_DIR}
pcdir=${3:?missing PKGCONFIG_DIR}
repo=${4:?missing REPO_ROOT}
jobs=${EVATOK_FFMPEG_JOBS:-2}

abspath() { (cd "$1" && pwd -P); }
if [ ! -f "$src/configure" ]; then
    echo "build.sh: no FFmpeg source at '$src'." >&2
    echo "build.sh: run (as root) ffmpeg_build/fetch.sh '$src' first, or pass -Dffmpeg_src=DIR." >&2
    exit 1
fi
mkdir -p "$build"
src=$(abspath "$src"); build=$(abspath "$build"); pcdir=$(abspath "$pcdir"); repo=$(abspath "$repo")
tree=$build/tree
obj=$build/obj
log() { echo "build.sh: $*"; }

# ---- 1. pristine copy + patches (only when the patch set or source changed) --
patch_stamp=$( { echo "$src"; cat "$repo"/patches/*.patch; } | sha256sum | cut -d' ' -f1)
if [ "$(cat "$build/patches.stamp" 2>/dev/null)" != "$patch_stamp" ] || [ ! -f "$tree/configure" ]; then
    log "copying pristine FFmpeg tree and applying patches/"
    rm -rf "$tree" "$build/patches.stamp" "$build/configure.stamp"
    mkdir -p "$tree"
    (cd "$src" && tar --exclude=./debian --exclude=./.pc -cf - .) | (cd "$tree" && tar -xf -)
    for p in "$repo"/patches/*.patch; do
        log "  applying $(basename "$p")"
        patch -d "$tree" -p1 -s --no-backup-if-mismatch < "$p"
    done
    echo "$patch_stamp" > "$build/patches.stamp"
fi

# ---- 2. glue sources: symlinks into the tree (make sees edits through them) --
# ffmpeg_glue/LIB/* go into LIB/; ffmpeg_glue/shared/* into both libraries.
for d in libavcodec libavfilter; do
    for f in "$repo/ffmpeg_glue/$d"/*.[ch] "$repo/ffmpeg_glue/shared"/*.h; do
        [ -e "$f" ] || continue
        ln -sf "$f" "$tree/$d/$(basename "$f")"
    done
done
rm -f "$tree/libavcodec/libevatok_error.h"  # the glue header's name before 2026-12

# ---- 3. configure (only when flags or patches changed) -----------------------
PKG_CONFIG_PATH=$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
export PKG_CONFIG_PATH
if ! pkg-config --exists evatok; then
    log "pkg-config cannot find 'evatok' in $pcdir (build libevatok first)" >&2
    exit 1
fi
# rpath to libevatok's folder so the binaries run from the build tree
rpath=
for l in $(pkg-config --libs-only-L evatok); do
    rpath="$rpath -Wl,-rpath,${l#-L}"
done

decoders="h264,hevc,vp8,vp9,libdav1d,mpeg4,mpeg1video,mpeg2video,mjpeg,png,rawvideo,ffv1,\
wrapped_avframe,gif,bmp,libevatok,\
aac,aac_latm,mp3,mp3float,mp2,mp2float,opus,vorbis,flac,ac3,eac3,alac,pcm_*"
encoders="libevatok,rawvideo,ffv1,mpeg4,png,mjpeg,wrapped_avframe,aac,ac3,mp2,flac,pcm_s16le,pcm_f32le"
demuxers="mov,matroska,avi,nut,yuv4mpegpipe,image2,image_png_pipe,image_jpeg_pipe,rawvideo,\
h264,hevc,m4v,ivf,obu,mpegts,mpegps,ogg,wav,mp3,aac,ac3,eac3,flac,concat"
muxers="matroska,webm,nut,mp4,mov,avi,yuv4mpegpipe,rawvideo,image2,image2pipe,null,framecrc,\
framemd5,crc,md5,wav,h264"
parsers="h264,hevc,vp8,vp9,av1,mpeg4video,mpegvideo,mjpeg,png,aac,aac_latm,mpegaudio,opus,\
vorbis,flac,ac3"
bsfs="h264_mp4toannexb,hevc_mp4toannexb,aac_adtstoasc,extract_extradata,vp9_superframe,\
vp9_superframe_split,av1_frame_split,av1_frame_merge,mpeg4_unpack_bframes,null"
# eq and boxblur are GPL filters: they build only with EVATOK_FFMPEG_EXTRA_FLAGS=--enable-gpl.
filters="buffer,buffersink,abuffer,abuffersink,scale,format,aformat,aresample,null,anull,\
setpts,asetpts,trim,atrim,fps,crop,pad,transpose,hflip,vflip,rotate,psnr,ssim,testsrc,\
testsrc2,mandelbrot,life,cellauto,gradients,smptebars,color,nullsrc,anullsrc,sine,zoompan,\
overlay,concat,hue,eq,split,asplit,setsar,setdar,select,showinfo,tpad,loop,hstack,vstack,\
xstack,noise,boxblur,gblur,colorlevels,drawbox,volume,amix,evatok_predict"

flags="--disable-shared --enable-static --disable-doc --disable-debug --disable-autodetect \
--disable-everything --enable-pthreads --enable-zlib --enable-sdl2 --enable-libdav1d \
--enable-libevatok --enable-ffmpeg --enable-ffprobe --enable-ffplay \
--enable-protocol=file,pipe --enable-indev=lavfi \
--enable-decoder=$decoders --enable-encoder=$encoders --enable-demuxer=$demuxers \
--enable-muxer=$muxers --enable-parser=$parsers --enable-bsf=$bsfs --enable-filter=$filters \
${EVATOK_FFMPEG_EXTRA_FLAGS:-}"

cfg_stamp=$( { echo "$patch_stamp"; echo "$flags"; echo "$rpath"; echo "$PKG_CONFIG_PATH"; } | sha256sum | cut -d' ' -f1)
if [ "$(cat "$build/configure.stamp" 2>/dev/null)" != "$cfg_stamp" ] || [ ! -f "$obj/ffbuild/config.mak" ]; then
    log "configuring FFmpeg in $obj"
    rm -rf "$obj"
    mkdir -p "$obj"
    # shellcheck disable=SC2086
    if ! (cd "$obj" && "$tree/configure" $flags --extra-ldflags="$rpath" > configure.out 2>&1); then
        tail -n 30 "$obj/configure.out" >&2
        [ -f "$obj/ffbuild/config.log" ] && tail -n 40 "$obj/ffbuild/config.log" >&2
        log "configure failed (full log: $obj/ffbuild/config.log)" >&2
        exit 1
    fi
    echo "$cfg_stamp" > "$build/configure.stamp"
fi

# ---- 4. make -------------------------------------------------------------------
log "make -j$jobs in $obj"
nice make -C "$obj" -j"$jobs" ffmpeg ffprobe ffplay >"$build/make.log" 2>&1 || {
    grep -E "error|Error" "$build/make.log" | head -n 40 >&2
    log "make failed (full log: $build/make.log)" >&2
    exit 1
}

# ---- 5. publish binaries (replace only when changed, atomically) ---------------
for p in ffmpeg ffprobe ffplay; do
    if ! cmp -s "$obj/$p" "$build/$p"; then
        cp "$obj/$p" "$build/$p.tmp"
        mv -f "$build/$p.tmp" "$build/$p"
    fi
done
log "done: $build/ffmpeg $build/ffprobe $build/ffplay"
