/*
 * EVATok adaptive-length video tokenizer: encoder glue for libevatok.
 *
 * Thin wrapper: holds references to clip_frames input frames (no copies),
 * hands each group to evatok_encode_packet() and emits the result as one
 * packet. With -g longer than two packets the stream is bitstream 3: a
 * keyframe every -g frames (rounded down to whole packets), inter packets
 * between them. The model, the assignment (router / uniform / search), the
 * choice of skipped tiles and the bitstream all live in libevatok.
 *
 * This file is part of the EVATok FFmpeg integration; it is compiled into
 * FFmpeg (LGPL-2.1-or-later).
 */

#include <stdlib.h>
#include <string.h>

#include <evatok/evatok.h>

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
#include "libevatok_glue.h"

typedef struct LibEvatokEncContext {
    const AVClass *class;

    /* options */
    char *model_path;
    int assign;           /* EvatokAssignMode                               */
    int tokens;           /* tokens per block with -assign uniform          */
    float wq;
    int bitstream;        /* packet version: 0 auto, 1 fixed-width, 2, 3   */
    float inter_tol;      /* dB a skipped tile may lose against coding it   */
    int inter_carry;      /* inter tiles may carry from the previous packet */
    int inter_motion;     /* inter tiles may show the previous frame, moved */
    char *device;

    EvatokModel *model;
    const EvatokModelInfo *info;
    EvatokEncodeOptions enc_opts;
    EvatokPixelFormat evfmt;
    EvatokReference *ref; /* the decoder's reference, for inter packets     */
    int key_every;        /* packets per keyframe interval                  */

    AVFrame *in;          /* scratch for ff_encode_get_frame()              */
    AVFrame **group;      /* clip_frames references to input frames         */
    EvatokImage *imgs;    /* their planes, as the library takes them        */
    int nb_group;         /* frames currently buffered                      */
    int64_t first_pts;    /* pts of group[0]                                */
    int64_t last_pts;     /* pts of the newest buffered frame               */
    int64_t next_pts;     /* synthesized pts when input has none            */
    int64_t frame_ticks;  /* nominal frame duration in time_base units      */
    int64_t nb_packets;
    int eof;
} LibEvatokEncContext;

static int check_assign(AVCodecContext *avctx)
{
    LibEvatokEncContext *s = avctx->priv_data;
    const EvatokModelInfo *info = s->info;
    int ok = 0;

    s->enc_opts.mode = s->assign;
    if (s->assign == EVATOK_ASSIGN_ROUTER && !info->has_router) {
        av_log(avctx, AV_LOG_ERROR, "evatok: model '%s' has no router; use "
               "-assign uniform -tokens K or -assign search\n", info->name);
        return AVERROR(EINVAL);
    }
    if (s->assign != EVATOK_ASSIGN_UNIFORM)
        return 0;
    for (int i = 0; i < info->num_choices; i++)
        ok |= info->choices[i] == s->tokens;
    if (!ok) {
        AVBPrint bp;
        av_bprint_init(&bp, 0, AV_BPRINT_SIZE_AUTOMATIC);
        for (int i = 0; i < info->num_choices; i++)
            av_bprintf(&bp, "%s%d", i ? ", " : "", info->choices[i]);
        av_log(avctx, AV_LOG_ERROR, "evatok: -assign uniform needs -tokens K, one of the "
               "model's token counts: %s (got %d)\n", bp.str, s->tokens);
        av_bprint_finalize(&bp, NULL);
        return AVERROR(EINVAL);
    }
    s->enc_opts.uniform_tokens = s->tokens;
    return 0;
}

static av_cold int libevatok_encode_init(AVCodecContext *avctx)
{
    LibEvatokEncContext *s = avctx->priv_data;
    AVRational fps;
    uint8_t *xd = NULL;
    size_t xd_size = 0;
    char err[FF_EVATOK_ERR_SIZE] = "";
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
    ret = ff_evatok_open_model(avctx, s->model_path, s->device, avctx->thread_count, &s->model);
    if (ret < 0)
        return ret;
    s->info = evatok_model_get_info(s->model);

    /* -g counts frames, as for every FFmpeg encoder; packets hold clip_frames. */
    s->key_every = avctx->gop_size >= 2 * s->info->clip_frames ? avctx->gop_size / s->info->clip_frames : 1;
    if (s->key_every > 1 && s->bitstream && s->bitstream < 3) {
        av_log(avctx, AV_LOG_WARNING, "evatok: -g %d needs -bitstream 3 for inter packets; "
               "writing keyframes only\n", avctx->gop_size);
        s->key_every = 1;
    }
    if (!s->bitstream)
        s->bitstream = s->key_every > 1 ? 3 : EVATOK_BITSTREAM_VERSION;
    evatok_encode_options_default(&s->enc_opts);
    s->enc_opts.wq = s->wq;
    s->enc_opts.bitstream_version = s->bitstream;
    s->enc_opts.inter_tolerance_db = s->inter_tol;
    s->enc_opts.inter_carry = s->inter_carry;
    s->enc_opts.inter_motion = s->inter_motion;
    if (s->key_every > 1) {
        if ((st = evatok_reference_new(&s->ref)) != EVATOK_OK)
            return ff_evatok_averror(st);
        av_log(avctx, AV_LOG_VERBOSE, "evatok: a keyframe every %d packets (%d frames)\n",
               s->key_every, s->key_every * s->info->clip_frames);
    }
    if ((ret = check_assign(avctx)) < 0)
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

    st = evatok_extradata_create_version(s->model, s->bitstream, fps.num, fps.den, &xd, &xd_size,
                                         err, sizeof(err));
    if (st != EVATOK_OK)
        return ff_evatok_error(avctx, st, err, "cannot create the stream header");
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
    s->imgs  = av_calloc(s->info->clip_frames, sizeof(*s->imgs));
    s->in    = av_frame_alloc();
    if (!s->group || !s->imgs || !s->in)
        return AVERROR(ENOMEM);
    for (int i = 0; i < s->info->clip_frames; i++)
        if (!(s->group[i] = av_frame_alloc()))
            return AVERROR(ENOMEM);
    s->next_pts = 0;
    return 0;
}

static void log_assignment(AVCodecContext *avctx, const uint8_t *data, size_t size, int nb_frames, int key)
{
    LibEvatokEncContext *s = avctx->priv_data;
    int *tok, count, blocks, total = 0;
    AVBPrint bp;

    if (av_log_get_level() < AV_LOG_VERBOSE ||
        ff_evatok_packet_tokens(s->model, data, size, &tok, &count, &blocks) < 0)
        return;
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprintf(&bp, "evatok: packet %"PRId64": %d frames%s", s->nb_packets, nb_frames,
               key ? "" : " (inter: 0 = tile repeated or moved)");
    for (int i = 0; i < count; i++) {
        if (i % blocks == 0)
            av_bprintf(&bp, ", tile %d: ", i / blocks);
        else
            av_bprintf(&bp, ",");
        av_bprintf(&bp, "%d", tok[i]); /* tokens of this block */
        total += tok[i];
    }
    av_bprintf(&bp, " tokens (%d total)", total);
    av_log(avctx, AV_LOG_VERBOSE, "%s\n", bp.str);
    av_bprint_finalize(&bp, NULL);
    av_free(tok);
}

static int emit_group(AVCodecContext *avctx, AVPacket *pkt)
{
    LibEvatokEncContext *s = avctx->priv_data;
    int n = s->nb_group;
    uint8_t *data = NULL;
    size_t size = 0;
    char err[FF_EVATOK_ERR_SIZE] = "";
    char what[64];
    EvatokStatus st;
    int ret, key;

    for (int i = 0; i < n; i++)
        for (int p = 0; p < 3; p++) {
            s->imgs[i].data[p]     = s->group[i]->data[p];
            s->imgs[i].linesize[p] = s->group[i]->linesize[p];
        }
    st = evatok_encode_packet(s->model, s->imgs, n, avctx->width, avctx->height, s->evfmt,
                              &s->enc_opts, s->ref, s->nb_packets % s->key_every == 0,
                              &data, &size, err, sizeof(err));
    for (int i = 0; i < n; i++)
        av_frame_unref(s->group[i]);
    s->nb_group = 0;
    if (st != EVATOK_OK) {
        snprintf(what, sizeof(what), "encoding packet %"PRId64" failed", s->nb_packets);
        return ff_evatok_error(avctx, st, err, what);
    }
    if (!data || !size || size > INT_MAX - AV_INPUT_BUFFER_PADDING_SIZE) {
        evatok_free(data);
        av_log(avctx, AV_LOG_ERROR, "evatok: library returned an invalid packet\n");
        return AVERROR_EXTERNAL;
    }
    key = evatok_packet_is_keyframe(data, size) == 1;
    log_assignment(avctx, data, size, n, key);

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
    if (key)
        pkt->flags |= AV_PKT_FLAG_KEY;
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
        pts = s->in->pts;
        av_frame_move_ref(dst, s->in);

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
    av_freep(&s->imgs);
    av_frame_free(&s->in);
    evatok_reference_free(&s->ref);
    evatok_model_close(&s->model);
    s->info = NULL;
    return 0;
}

#define OFFSET(x) offsetof(LibEvatokEncContext, x)
#define VE AV_OPT_FLAG_VIDEO_PARAM | AV_OPT_FLAG_ENCODING_PARAM
static const AVOption options[] = {
    FF_EVATOK_MODEL_OPTIONS(LibEvatokEncContext, VE),
    { "assign", "how many tokens each block gets", OFFSET(assign), AV_OPT_TYPE_INT,
      { .i64 = EVATOK_ASSIGN_ROUTER }, EVATOK_ASSIGN_ROUTER, EVATOK_ASSIGN_EXACT, VE, "assign" },
        { "router",  "the model's router predicts it (rate set by -wq)", 0, AV_OPT_TYPE_CONST,
          { .i64 = EVATOK_ASSIGN_ROUTER },  0, 0, VE, "assign" },
        { "uniform", "every block gets -tokens K", 0, AV_OPT_TYPE_CONST,
          { .i64 = EVATOK_ASSIGN_UNIFORM }, 0, 0, VE, "assign" },
        { "search",  "max proxy reward, separable score (about 5x the router's work)", 0, AV_OPT_TYPE_CONST,
          { .i64 = EVATOK_ASSIGN_SEARCH },  0, 0, VE, "assign" },
        { "exact",   "max proxy reward, every candidate decoded (offline speed)", 0, AV_OPT_TYPE_CONST,
          { .i64 = EVATOK_ASSIGN_EXACT },   0, 0, VE, "assign" },
    { "tokens", "tokens per block with -assign uniform (one of the model's counts)",
      OFFSET(tokens), AV_OPT_TYPE_INT, { .i64 = 0 }, 0, 65535, VE },
    { "wq",     "quality weight w_q of the proxy reward (router, search, exact); w_l is 0.8",
      OFFSET(wq), AV_OPT_TYPE_FLOAT, { .dbl = 1.2 }, 0.0, 100.0, VE },
    { "bitstream", "bitstream version: 0 auto (2, or 3 when -g spans packets), 1 12-bit tokens for older "
      "decoders, 2 range-coded keyframes, 3 inter packets", OFFSET(bitstream), AV_OPT_TYPE_INT,
      { .i64 = 0 }, 0, EVATOK_BITSTREAM_MAX_VERSION, VE },
    { "inter_tol", "with -g: a tile repeats the previous packet when that loses at most this many dB "
      "of PSNR against coding it", OFFSET(inter_tol), AV_OPT_TYPE_FLOAT, { .dbl = 0.25 }, 0.0, 20.0, VE },
    { "inter_carry", "with -g: a tile may code its first block with the fewest tokens, carried from the "
      "previous packet's last frame (experimental: the default model is not trained for it)",
      OFFSET(inter_carry), AV_OPT_TYPE_BOOL, { .i64 = 0 }, 0, 1, VE },
    { "inter_motion", "with -g: a tile may show the previous packet's last frame moved by an offset and a "
      "constant velocity (4 bytes, no tokens) within -inter_tol", OFFSET(inter_motion), AV_OPT_TYPE_BOOL,
      { .i64 = 1 }, 0, 1, VE },
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
