/*
 * EVATok adaptive-length video tokenizer: encoder glue for libevatok.
 *
 * Thin wrapper: buffers clip_frames input frames (copies), hands each group to
 * evatok_encode_block() and emits the result as one keyframe packet. The model,
 * the assignment (router / uniform / search) and the bitstream all live in
 * libevatok.
 *
 * This file is part of the EVATok FFmpeg integration; it is compiled into
 * FFmpeg (LGPL-2.1-or-later).
 */

#include <stdlib.h>
#include <string.h>

#include <evatok/evatok.h>

#include "libavutil/avstring.h"
#include "libavutil/bprint.h"
#include "libavutil/common.h"
#include "libavutil/frame.h"
#include "libavutil/imgutils.h"
#include "libavutil/mem.h"
#include "libavutil/opt.h"

#include "avcodec.h"
#include "codec_internal.h"
#include "encode.h"
#include "internal.h"
#include "libevatok_error.h"

#define ERR_SIZE 512

typedef struct LibEvatokEncContext {
    const AVClass *class;

    /* options */
    char *model_path;
    char *assign;
    float wq;
    char *device;

    EvatokModel *model;
    const EvatokModelInfo *info;
    EvatokEncodeOptions enc_opts;
    EvatokPixelFormat evfmt;

    AVFrame *in;          /* scratch for ff_encode_get_frame()              */
    AVFrame **group;      /* clip_frames owned copies                       */
    int nb_group;         /* frames currently buffered                      */
    int64_t first_pts;    /* pts of group[0]                                */
    int64_t last_pts;     /* pts of the newest buffered frame               */
    int64_t next_pts;     /* synthesized pts when input has none            */
    int64_t frame_ticks;  /* nominal frame duration in time_base units      */
    int64_t nb_packets;
    int eof;
} LibEvatokEncContext;

static int parse_assign(AVCodecContext *avctx)
{
    LibEvatokEncContext *s = avctx->priv_data;
    const EvatokModelInfo *info = s->info;
    const char *a = s->assign ? s->assign : "router";

    if (!strcmp(a, "router")) {
        if (!info->has_router) {
            av_log(avctx, AV_LOG_ERROR, "evatok: model '%s' has no router; use "
                   "-assign uniform:K or -assign search\n", info->name);
            return AVERROR(EINVAL);
        }
        s->enc_opts.mode = EVATOK_ASSIGN_ROUTER;
    } else if (!strcmp(a, "search")) {
        s->enc_opts.mode = EVATOK_ASSIGN_SEARCH;
    } else if (!strcmp(a, "exact")) {
        s->enc_opts.mode = EVATOK_ASSIGN_EXACT;
    } else if (av_strstart(a, "uniform:", &a)) {
        char *end = NULL;
        long k = strtol(a, &end, 10);
        int ok = 0;
        if (*a && end && !*end)
            for (int i = 0; i < info->num_choices; i++)
                ok |= info->choices[i] == k;
        if (!ok) {
            AVBPrint bp;
            av_bprint_init(&bp, 0, AV_BPRINT_SIZE_AUTOMATIC);
            for (int i = 0; i < info->num_choices; i++)
                av_bprintf(&bp, "%s%d", i ? ", " : "", info->choices[i]);
            av_log(avctx, AV_LOG_ERROR, "evatok: invalid -assign uniform:%s; K must be "
                   "one of the model's token counts: %s\n", a, bp.str);
            av_bprint_finalize(&bp, NULL);
            return AVERROR(EINVAL);
        }
        s->enc_opts.mode = EVATOK_ASSIGN_UNIFORM;
        s->enc_opts.uniform_tokens = (int)k;
    } else {
        av_log(avctx, AV_LOG_ERROR, "evatok: invalid -assign '%s'; expected "
               "'router', 'uniform:K', 'search' or 'exact'\n", a);
        return AVERROR(EINVAL);
    }
    return 0;
}

static av_cold int libevatok_encode_init(AVCodecContext *avctx)
{
    LibEvatokEncContext *s = avctx->priv_data;
    EvatokOpenOptions oo = { 0 };
    const char *path = s->model_path && *s->model_path ? s->model_path
                                                        : evatok_default_model_path();
    AVRational fps;
    uint8_t *xd = NULL;
    size_t xd_size = 0;
    char err[ERR_SIZE] = "";
    EvatokStatus st;
    int ret;

    switch (avctx->pix_fmt) {
    case AV_PIX_FMT_RGB24:   s->evfmt = EVATOK_PIX_RGB24;   break;
    case AV_PIX_FMT_YUV420P: s->evfmt = EVATOK_PIX_YUV420P; break;
    default:
        av_log(avctx, AV_LOG_ERROR, "evatok: unsupported pixel format\n");
        return AVERROR(EINVAL);
    }
    if ((ret = av_image_check_size(avctx->width, avctx->height, 0, avctx)) < 0)
        return ret;
    if (!(s->wq >= 0.0f)) {
        av_log(avctx, AV_LOG_ERROR, "evatok: -wq must be >= 0\n");
        return AVERROR(EINVAL);
    }
    if (!path || !*path) {
        av_log(avctx, AV_LOG_ERROR, "evatok: no model given and no default model "
               "found; use -model PATH or set EVATOK_MODEL\n");
        return AVERROR(EINVAL);
    }

    oo.device  = s->device;
    oo.threads = avctx->thread_count > 0 ? avctx->thread_count : 0;
    st = evatok_model_open(path, &oo, &s->model, err, sizeof(err));
    if (st != EVATOK_OK) {
        av_log(avctx, AV_LOG_ERROR, "evatok: cannot load model '%s': %s (%s)\n",
               path, err[0] ? err : evatok_status_string(st), evatok_status_string(st));
        return ff_evatok_status_to_averror(st);
    }
    s->info = evatok_model_get_info(s->model);
    if (s->info->clip_frames < 1) {
        av_log(avctx, AV_LOG_ERROR, "evatok: model reports %d frames per clip\n",
               s->info->clip_frames);
        return AVERROR_EXTERNAL;
    }
    av_log(avctx, AV_LOG_VERBOSE, "evatok: model '%s' (%s), %d frames of %dx%d per clip, "
           "codec fingerprint %s (what the stream records)\n", path, s->info->name, s->info->clip_frames,
           s->info->clip_width, s->info->clip_height, s->info->codec_fingerprint_hex);

    evatok_encode_options_default(&s->enc_opts);
    s->enc_opts.wq = s->wq;
    if ((ret = parse_assign(avctx)) < 0)
        return ret;

    /* Stream frame rate: the decoder times frames 2..N of a packet with it. */
    if (avctx->framerate.num > 0 && avctx->framerate.den > 0)
        fps = avctx->framerate;
    else if (avctx->time_base.num > 0 && avctx->time_base.den > 0)
        fps = av_inv_q(avctx->time_base);
    else
        fps = (AVRational){ 0, 0 };
    av_reduce(&fps.num, &fps.den, fps.num, fps.den, INT_MAX);
    s->frame_ticks = 1;
    if (fps.num > 0 && fps.den > 0 && avctx->time_base.num > 0)
        s->frame_ticks = FFMAX(1, av_rescale_q(1, av_inv_q(fps), avctx->time_base));

    st = evatok_extradata_create(s->model, fps.num, fps.den, &xd, &xd_size, err, sizeof(err));
    if (st != EVATOK_OK) {
        av_log(avctx, AV_LOG_ERROR, "evatok: cannot create stream header: %s\n", err);
        return ff_evatok_status_to_averror(st);
    }
    if (xd_size > INT_MAX - AV_INPUT_BUFFER_PADDING_SIZE) {
        evatok_free(xd);
        return AVERROR(EINVAL);
    }
    avctx->extradata = av_mallocz(xd_size + AV_INPUT_BUFFER_PADDING_SIZE);
    if (!avctx->extradata) {
        evatok_free(xd);
        return AVERROR(ENOMEM);
    }
    memcpy(avctx->extradata, xd, xd_size);
    avctx->extradata_size = (int)xd_size;
    evatok_free(xd);

    s->group = av_calloc(s->info->clip_frames, sizeof(*s->group));
    s->in    = av_frame_alloc();
    if (!s->group || !s->in)
        return AVERROR(ENOMEM);
    for (int i = 0; i < s->info->clip_frames; i++) {
        AVFrame *f = av_frame_alloc();
        if (!f)
            return AVERROR(ENOMEM);
        s->group[i] = f;
        f->format = avctx->pix_fmt;
        f->width  = avctx->width;
        f->height = avctx->height;
        if ((ret = av_frame_get_buffer(f, 0)) < 0)
            return ret;
    }
    s->next_pts = 0;
    return 0;
}

static void log_assignment(AVCodecContext *avctx, const uint8_t *data, size_t size, int nb_frames)
{
    LibEvatokEncContext *s = avctx->priv_data;
    EvatokPacketInfo pi;
    char err[ERR_SIZE];
    int *tok, count = 0, max;
    AVBPrint bp;

    if (av_log_get_level() < AV_LOG_VERBOSE)
        return;
    if (evatok_packet_probe(s->model, data, size, &pi, err, sizeof(err)) != EVATOK_OK ||
        pi.tiles_x < 1 || pi.tiles_y < 1 || pi.num_blocks < 1 ||
        pi.tiles_x > INT_MAX / pi.tiles_y / pi.num_blocks)
        return;
    max = pi.tiles_x * pi.tiles_y * pi.num_blocks;
    tok = av_malloc_array(max, sizeof(*tok));
    if (!tok)
        return;
    if (evatok_packet_assignment(s->model, data, size, tok, max, &count, err, sizeof(err)) == EVATOK_OK) {
        av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
        av_bprintf(&bp, "evatok: packet %"PRId64": %d frames", s->nb_packets, nb_frames);
        for (int i = 0; i < FFMIN(count, max); i++) {
            if (i % pi.num_blocks == 0)
                av_bprintf(&bp, ", tile %d: ", i / pi.num_blocks);
            else
                av_bprintf(&bp, ",");
            av_bprintf(&bp, "%d", tok[i]); /* tokens of this block */
        }
        av_bprintf(&bp, " tokens (%d total)", pi.total_tokens);
        av_log(avctx, AV_LOG_VERBOSE, "%s\n", bp.str);
        av_bprint_finalize(&bp, NULL);
    }
    av_free(tok);
}

static int emit_group(AVCodecContext *avctx, AVPacket *pkt)
{
    LibEvatokEncContext *s = avctx->priv_data;
    int n = s->nb_group;
    EvatokImage *imgs;
    uint8_t *data = NULL;
    size_t size = 0;
    char err[ERR_SIZE] = "";
    EvatokStatus st;
    int ret;

    imgs = av_calloc(n, sizeof(*imgs));
    if (!imgs)
        return AVERROR(ENOMEM);
    for (int i = 0; i < n; i++)
        for (int p = 0; p < 3; p++) {
            imgs[i].data[p]     = s->group[i]->data[p];
            imgs[i].linesize[p] = s->group[i]->linesize[p];
        }
    st = evatok_encode_block(s->model, imgs, n, avctx->width, avctx->height, s->evfmt,
                             &s->enc_opts, &data, &size, err, sizeof(err));
    av_free(imgs);
    s->nb_group = 0;
    if (st != EVATOK_OK) {
        av_log(avctx, AV_LOG_ERROR, "evatok: encoding packet %"PRId64" failed: %s\n",
               s->nb_packets, err[0] ? err : evatok_status_string(st));
        return ff_evatok_status_to_averror(st);
    }
    if (!data || !size || size > INT_MAX - AV_INPUT_BUFFER_PADDING_SIZE) {
        evatok_free(data);
        av_log(avctx, AV_LOG_ERROR, "evatok: library returned an invalid packet\n");
        return AVERROR_EXTERNAL;
    }
    log_assignment(avctx, data, size, n);

    ret = ff_get_encode_buffer(avctx, pkt, (int64_t)size, 0);
    if (ret < 0) {
        evatok_free(data);
        return ret;
    }
    memcpy(pkt->data, data, size);
    evatok_free(data);

    pkt->pts      = s->first_pts;
    pkt->dts      = s->first_pts;
    pkt->duration = s->last_pts - s->first_pts + s->frame_ticks;
    pkt->flags   |= AV_PKT_FLAG_KEY;
    s->nb_packets++;
    return 0;
}

static int libevatok_receive_packet(AVCodecContext *avctx, AVPacket *pkt)
{
    LibEvatokEncContext *s = avctx->priv_data;
    int ret;

    for (;;) {
        AVFrame *dst;
        int64_t pts;

        if (s->eof)
            return AVERROR_EOF;

        ret = ff_encode_get_frame(avctx, s->in);
        if (ret == AVERROR_EOF) {
            s->eof = 1;
            if (s->nb_group > 0)
                return emit_group(avctx, pkt); /* partial last group */
            return AVERROR_EOF;
        }
        if (ret < 0)
            return ret;

        if (s->in->width != avctx->width || s->in->height != avctx->height ||
            s->in->format != avctx->pix_fmt) {
            av_log(avctx, AV_LOG_ERROR, "evatok: frame size/format changed mid-stream "
                   "(%dx%d -> %dx%d); not supported\n", avctx->width, avctx->height,
                   s->in->width, s->in->height);
            av_frame_unref(s->in);
            return AVERROR(EINVAL);
        }

        dst = s->group[s->nb_group];
        ret = av_frame_make_writable(dst);
        if (ret >= 0)
            ret = av_frame_copy(dst, s->in);
        pts = s->in->pts;
        av_frame_unref(s->in);
        if (ret < 0)
            return ret;

        if (pts == AV_NOPTS_VALUE)
            pts = s->next_pts;
        s->next_pts = pts + s->frame_ticks;
        if (s->nb_group == 0)
            s->first_pts = pts;
        s->last_pts = pts;
        s->nb_group++;

        if (s->nb_group == s->info->clip_frames)
            return emit_group(avctx, pkt);
    }
}

static av_cold int libevatok_encode_close(AVCodecContext *avctx)
{
    LibEvatokEncContext *s = avctx->priv_data;

    if (s->group) {
        for (int i = 0; s->info && i < s->info->clip_frames; i++)
            av_frame_free(&s->group[i]);
        av_freep(&s->group);
    }
    av_frame_free(&s->in);
    evatok_model_close(&s->model);
    s->info = NULL;
    return 0;
}

#define OFFSET(x) offsetof(LibEvatokEncContext, x)
#define VE AV_OPT_FLAG_VIDEO_PARAM | AV_OPT_FLAG_ENCODING_PARAM
static const AVOption options[] = {
    { "model",  "EVATok model file (.safetensors); default: $EVATOK_MODEL or the installed default model",
      OFFSET(model_path), AV_OPT_TYPE_STRING, { .str = NULL }, 0, 0, VE },
    { "assign", "token assignment per block: router, uniform:K (K one of the model's choices), search or exact",
      OFFSET(assign), AV_OPT_TYPE_STRING, { .str = "router" }, 0, 0, VE },
    { "wq",     "quality weight w_q of the proxy reward (router, search, exact); w_l is 0.8",
      OFFSET(wq), AV_OPT_TYPE_FLOAT, { .dbl = 1.2 }, 0.0, 100.0, VE },
    { "device", "compute device: cpu, cuda or cuda:N",
      OFFSET(device), AV_OPT_TYPE_STRING, { .str = "cpu" }, 0, 0, VE },
    { NULL },
};

static const AVClass libevatok_enc_class = {
    .class_name = "libevatok encoder",
    .item_name  = av_default_item_name,
    .option     = options,
    .version    = LIBAVUTIL_VERSION_INT,
};

static const FFCodecDefault libevatok_defaults[] = {
    { "b", "0" }, /* the rate follows the content, not a target bitrate */
    { NULL },
};

const FFCodec ff_libevatok_encoder = {
    .p.name         = "libevatok",
    .p.long_name    = NULL_IF_CONFIG_SMALL("EVATok adaptive-length video tokenizer (libevatok)"),
    .p.type         = AVMEDIA_TYPE_VIDEO,
    .p.id           = AV_CODEC_ID_EVATOK,
    .priv_data_size = sizeof(LibEvatokEncContext),
    .init           = libevatok_encode_init,
    FF_CODEC_RECEIVE_PACKET_CB(libevatok_receive_packet),
    .close          = libevatok_encode_close,
    .p.capabilities = AV_CODEC_CAP_DELAY | AV_CODEC_CAP_DR1 | AV_CODEC_CAP_OTHER_THREADS,
    .caps_internal  = FF_CODEC_CAP_INIT_CLEANUP | FF_CODEC_CAP_AUTO_THREADS,
    .p.pix_fmts     = (const enum AVPixelFormat[]){ AV_PIX_FMT_RGB24, AV_PIX_FMT_YUV420P,
                                                    AV_PIX_FMT_NONE },
    .p.priv_class   = &libevatok_enc_class,
    .defaults       = libevatok_defaults,
    .p.wrapper_name = "libevatok",
};
