/*
 * What the evatok glue shares: the encoder and decoder in libavcodec and the
 * evatok_predict filter in libavfilter. libevatok status codes as AVERROR
 * values, and opening models with their errors logged.
 *
 * Header-only (static inline): ffmpeg_build/build.sh puts this file into both
 * libavcodec/ and libavfilter/, so each library includes its own copy and none
 * reaches into another's private headers.
 *
 * This file is part of the EVATok FFmpeg integration; it is compiled into
 * FFmpeg (LGPL-2.1-or-later).
 */
#ifndef EVATOK_LIBEVATOK_GLUE_H
#define EVATOK_LIBEVATOK_GLUE_H

#include <errno.h>
#include <limits.h>
#include <stdio.h>

#include <evatok/evatok.h>
#include <evatok/evatok_ar.h>

#include "libavutil/error.h"
#include "libavutil/log.h"
#include "libavutil/mem.h"
#include "libavutil/opt.h"

#define FF_EVATOK_ERR_SIZE 512

/* The options of every evatok component: the tokenizer model file and the
 * device, in a context type with char *model_path and char *device. */
#define FF_EVATOK_MODEL_OPTIONS(type, flags)                                                  \
    { "model", "EVATok tokenizer model file (.safetensors); default: $EVATOK_MODEL or the "    \
      "installed default model", offsetof(type, model_path), AV_OPT_TYPE_STRING,                \
      { .str = NULL }, 0, 0, flags },                                                          \
    { "device", "where the networks run: cpu, cuda or cuda:N", offsetof(type, device),          \
      AV_OPT_TYPE_STRING, { .str = "cpu" }, 0, 0, flags }

static inline int ff_evatok_averror(EvatokStatus st)
{
    switch (st) {
    case EVATOK_OK:                   return 0;
    case EVATOK_ERR_INVALID_ARGUMENT: return AVERROR(EINVAL);
    case EVATOK_ERR_IO:               return AVERROR(ENOENT);
    case EVATOK_ERR_NO_MEMORY:        return AVERROR(ENOMEM);
    case EVATOK_ERR_UNSUPPORTED:      return AVERROR_PATCHWELCOME;
    case EVATOK_ERR_DEVICE:           return AVERROR(ENODEV);
    case EVATOK_ERR_MODEL_FORMAT:
    case EVATOK_ERR_MODEL_MISMATCH:
    case EVATOK_ERR_BITSTREAM:        return AVERROR_INVALIDDATA;
    default:                          return AVERROR_EXTERNAL;
    }
}

/* Logs a failed libevatok call: what failed, the library's message, and
 * returns the matching AVERROR. */
static inline int ff_evatok_error(void *log_ctx, EvatokStatus st, const char *err,
                                  const char *what)
{
    av_log(log_ctx, AV_LOG_ERROR, "evatok: %s: %s (%s)\n", what,
           err && err[0] ? err : evatok_status_string(st), evatok_status_string(st));
    return ff_evatok_averror(st);
}

static inline void ff_evatok_open_options(EvatokOpenOptions *oo, const char *device, int threads)
{
    evatok_open_options_default(oo);
    if (device && *device)
        oo->device = device;
    oo->threads = threads > 0 ? threads : 0;
}

/* Opens the tokenizer model at path (NULL or "" = libevatok's default:
 * $EVATOK_MODEL or the installed model) on device with threads (0 = as is). */
static inline int ff_evatok_open_model(void *log_ctx, const char *path, const char *device,
                                       int threads, EvatokModel **model)
{
    EvatokOpenOptions oo;
    char err[FF_EVATOK_ERR_SIZE] = "";
    char what[FF_EVATOK_ERR_SIZE];
    const EvatokModelInfo *info;
    EvatokStatus st;

    if (!path || !*path)
        path = evatok_default_model_path();
    ff_evatok_open_options(&oo, device, threads);
    st = evatok_model_open(path, &oo, model, err, sizeof(err));
    if (st != EVATOK_OK) {
        *model = NULL;
        snprintf(what, sizeof(what), "cannot load model '%s'", path);
        return ff_evatok_error(log_ctx, st, err, what);
    }
    info = evatok_model_get_info(*model);
    if (info->clip_frames < 1) {
        av_log(log_ctx, AV_LOG_ERROR, "evatok: model '%s' reports %d frames per clip\n",
               path, info->clip_frames);
        evatok_model_close(model);
        return AVERROR_EXTERNAL;
    }
    av_log(log_ctx, AV_LOG_VERBOSE, "evatok: model '%s' (%s), %d frames of %dx%d per clip, "
           "codec fingerprint %s\n", path, info->name, info->clip_frames, info->clip_width,
           info->clip_height, info->codec_fingerprint_hex);
    return 0;
}

/* Opens the AR model at path (NULL or "" = the default) for tokenizer tok. */
static inline int ff_evatok_open_ar(void *log_ctx, const char *path, EvatokModel *tok,
                                    const char *device, int threads, EvatokAr **ar)
{
    EvatokOpenOptions oo;
    char err[FF_EVATOK_ERR_SIZE] = "";
    char what[FF_EVATOK_ERR_SIZE];
    EvatokStatus st;

    if (!path || !*path)
        path = evatok_default_ar_model_path();
    ff_evatok_open_options(&oo, device, threads);
    st = evatok_ar_open(path, tok, &oo, ar, err, sizeof(err));
    if (st != EVATOK_OK) {
        *ar = NULL;
        snprintf(what, sizeof(what), "cannot load AR model '%s'", path);
        return ff_evatok_error(log_ctx, st, err, what);
    }
    av_log(log_ctx, AV_LOG_VERBOSE, "evatok: AR model file '%s'\n", path);
    return 0;
}

/* The token count of every (tile, block) of a packet, tiles in raster order,
 * blocks inner: *tok (av_free it) holds *count values, *blocks per tile.
 * Returns 0, or a negative AVERROR when the packet does not parse. */
static inline int ff_evatok_packet_tokens(const EvatokModel *model, const uint8_t *data, size_t size,
                                          int **tok, int *count, int *blocks)
{
    EvatokPacketInfo pi;
    char err[FF_EVATOK_ERR_SIZE];
    EvatokStatus st;
    int max;

    *tok = NULL;
    *count = *blocks = 0;
    if ((st = evatok_packet_probe(model, data, size, &pi, err, sizeof(err))) != EVATOK_OK)
        return ff_evatok_averror(st);
    if (pi.tiles_x < 1 || pi.tiles_y < 1 || pi.num_blocks < 1 ||
        pi.tiles_x > INT_MAX / pi.tiles_y / pi.num_blocks)
        return AVERROR_INVALIDDATA;
    max = pi.tiles_x * pi.tiles_y * pi.num_blocks;
    if (!(*tok = av_malloc_array(max, sizeof(**tok))))
        return AVERROR(ENOMEM);
    st = evatok_packet_assignment(model, data, size, *tok, max, count, err, sizeof(err));
    if (st != EVATOK_OK || *count > max) {
        av_freep(tok);
        *count = 0;
        return st != EVATOK_OK ? ff_evatok_averror(st) : AVERROR_BUG;
    }
    *blocks = pi.num_blocks;
    return 0;
}

#endif /* EVATOK_LIBEVATOK_GLUE_H */
