/*
 * EVATok adaptive-length video tokenizer: decoder glue for libevatok.
 *
 * Thin wrapper: each packet is one group of up to clip_frames frames, a
 * keyframe or (bitstream 3) an inter packet that repeats tiles of the
 * previous packet (their mean frame, kept in libevatok's reference). The model is loaded lazily on the first
 * packet (ffprobe opens decoders only to probe), the stream header
 * (extradata) is checked against it, and evatok_decode_begin() takes the
 * packet with buffers from ff_get_buffer() for all its frames; they are then
 * returned one per receive_frame call with their own timestamps (containers
 * keep one timestamp per packet), each temporal block decoded by
 * evatok_decode_next() when its first frame is asked for, so the first
 * frame comes after a fraction of the packet's work. After a seek or a
 * damaged packet, inter packets are dropped until the next keyframe.
 *
 * This file is part of the EVATok FFmpeg integration; it is compiled into
 * FFmpeg (LGPL-2.1-or-later).
 */

#include <string.h>

#include <evatok/evatok.h>

#include "libavutil/bprint.h"
#include "libavutil/common.h"
#include "libavutil/dict.h"
#include "libavutil/frame.h"
#include "libavutil/imgutils.h"
#include "libavutil/mem.h"
#include "libavutil/opt.h"

#include "avcodec.h"
#include "codec_internal.h"
#include "decode.h"
#include "internal.h"
#include "libevatok_glue.h"

typedef struct LibEvatokDecContext {
    const AVClass *class;

    /* options */
    char *model_path;
    char *device;

    EvatokModel *model;
    const EvatokModelInfo *info;
    int load_error;       /* sticky error of model loading / header check  */
    AVRational fps;       /* from the stream header; 0/0 if unknown         */
    int size_from_packet; /* no size from the container: packets set it     */
    EvatokReference *ref; /* last decoded frame, for inter packets          */
    int have_ref;         /* ref holds the previous packet's frame          */
    int64_t dropped;      /* inter packets dropped while waiting for a key  */
    int64_t next_pts;     /* where the next packet starts; NOPTS: unknown   */
    int64_t frame_dur;    /* one frame in pkt_timebase, for that check      */

    AVPacket *pkt;
    AVFrame **out;        /* frames of the current packet                   */
    int nb_out, next_out;
    int nb_ready;         /* out[0 .. nb_ready) are decoded                 */
} LibEvatokDecContext;

static av_cold int libevatok_decode_init(AVCodecContext *avctx)
{
    LibEvatokDecContext *s = avctx->priv_data;

    avctx->pix_fmt = AV_PIX_FMT_RGB24;
    s->next_pts = AV_NOPTS_VALUE;
    s->pkt = av_packet_alloc();
    if (!s->pkt)
        return AVERROR(ENOMEM);
    return 0;
}

static void drop_output(LibEvatokDecContext *s)
{
    if (s->out)
        for (int i = 0; i < s->nb_out; i++)
            av_frame_free(&s->out[i]);
    s->nb_out = s->next_out = s->nb_ready = 0;
}

/* Loads the model and checks the stream header; runs once, on the first packet. */
static int load_model(AVCodecContext *avctx)
{
    LibEvatokDecContext *s = avctx->priv_data;
    char err[FF_EVATOK_ERR_SIZE] = "";
    EvatokStatus st;
    int fps_num = 0, fps_den = 0;

    if (s->load_error)
        return s->load_error;
    if (s->model)
        return 0;

    if ((s->load_error = ff_evatok_open_model(avctx, s->model_path, s->device,
                                              avctx->thread_count, &s->model)) < 0)
        return s->load_error;
    s->info = evatok_model_get_info(s->model);

    if (avctx->extradata_size > 0) {
        st = evatok_extradata_check(s->model, avctx->extradata, avctx->extradata_size,
                                    &fps_num, &fps_den, err, sizeof(err));
        if (st != EVATOK_OK) {
            if (st == EVATOK_ERR_MODEL_MISMATCH)
                av_log(avctx, AV_LOG_ERROR, "evatok: the stream was made with another model "
                       "than '%s': %s (decoder option -model PATH)\n",
                       s->model_path && *s->model_path ? s->model_path : evatok_default_model_path(), err);
            else
                av_log(avctx, AV_LOG_ERROR, "evatok: invalid stream header (extradata): %s\n",
                       err[0] ? err : evatok_status_string(st));
            return s->load_error = ff_evatok_averror(st);
        }
        if (fps_num > 0 && fps_den > 0)
            s->fps = (AVRational){ fps_num, fps_den };
    } else {
        av_log(avctx, AV_LOG_WARNING, "evatok: stream has no header (extradata); the model "
               "cannot be verified and frame timing is guessed\n");
    }
    if (!s->fps.num && avctx->framerate.num > 0 && avctx->framerate.den > 0)
        s->fps = avctx->framerate;

    s->out = av_calloc(s->info->clip_frames, sizeof(*s->out));
    if (!s->out)
        return s->load_error = AVERROR(ENOMEM);
    if ((st = evatok_reference_new(&s->ref)) != EVATOK_OK)
        return s->load_error = ff_evatok_averror(st);
    return 0;
}

/* The packet's token counts as frame metadata, made once per packet. */
static int packet_metadata(AVCodecContext *avctx, AVDictionary **md, const AVPacket *pkt,
                           const EvatokPacketInfo *pi)
{
    LibEvatokDecContext *s = avctx->priv_data;
    int *tok, count, blocks, ret;
    AVBPrint bp;

    if ((ret = av_dict_set_int(md, "lavc.evatok.tokens", pi->total_tokens, 0)) < 0)
        return ret;
    if ((ret = ff_evatok_packet_tokens(s->model, pkt->data, pkt->size, &tok, &count, &blocks)) < 0)
        return ret == AVERROR(ENOMEM) ? ret : 0;
    /* blocks of a tile separated by ',', tiles by ';' */
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    for (int i = 0; i < count; i++) {
        if (i)
            av_bprint_chars(&bp, i % blocks ? ',' : ';', 1);
        av_bprintf(&bp, "%d", tok[i]); /* tokens of this block */
    }
    ret = av_bprint_is_complete(&bp) ? av_dict_set(md, "lavc.evatok.assignment", bp.str, 0)
                                     : AVERROR(ENOMEM);
    av_bprint_finalize(&bp, NULL);
    av_free(tok);
    return ret;
}

static int decode_packet(AVCodecContext *avctx, const AVPacket *pkt)
{
    LibEvatokDecContext *s = avctx->priv_data;
    EvatokPacketInfo pi;
    EvatokImage *imgs = NULL;
    char err[FF_EVATOK_ERR_SIZE] = "";
    EvatokStatus st;
    AVRational tb;
    AVDictionary *md = NULL;
    int nb = 0, ret, key;
    int64_t dur = 0;

    if ((ret = load_model(avctx)) < 0)
        return ret;

    key = evatok_packet_is_keyframe(pkt->data, pkt->size);
    /* A gap in the timestamps is a lost packet: the reference is stale.
     * (Container packet durations are not reliable; the frame rate is.) */
    if (!key && s->have_ref && pkt->pts != AV_NOPTS_VALUE && s->next_pts != AV_NOPTS_VALUE &&
        FFABS(pkt->pts - s->next_pts) > s->frame_dur * s->info->clip_frames / 2) {
        av_log(avctx, AV_LOG_WARNING, "evatok: packet at %"PRId64" follows one that ended at %"PRId64
               " (a packet was lost)\n", pkt->pts, s->next_pts);
        s->have_ref = 0;
        evatok_reference_reset(s->ref);
    }
    if (!key && !s->have_ref) {
        /* After a seek or a lost packet: its reference is gone. */
        if (!s->dropped++)
            av_log(avctx, AV_LOG_WARNING, "evatok: inter packet without the frame it repeats "
                   "(after a seek or a lost packet); dropping packets until the next keyframe\n");
        return 0;
    }
    if (key == 1 && s->dropped) {
        av_log(avctx, AV_LOG_VERBOSE, "evatok: resumed at a keyframe after %"PRId64" dropped "
               "packets\n", s->dropped);
        s->dropped = 0;
    }

    st = evatok_packet_probe(s->model, pkt->data, pkt->size, &pi, err, sizeof(err));
    if (st != EVATOK_OK) {
        av_log(avctx, AV_LOG_ERROR, "evatok: packet of %d bytes rejected: %s\n", pkt->size,
               err[0] ? err : evatok_status_string(st));
        s->have_ref = 0; /* inter packets after it would repeat the wrong frame */
        return ff_evatok_averror(st);
    }
    if (pi.nb_frames < 1 || pi.nb_frames > s->info->clip_frames) {
        av_log(avctx, AV_LOG_ERROR, "evatok: packet claims %d frames (model clips have %d)\n",
               pi.nb_frames, s->info->clip_frames);
        return AVERROR_INVALIDDATA;
    }
    if ((ret = av_image_check_size2(pi.width, pi.height, avctx->max_pixels,
                                    AV_PIX_FMT_RGB24, 0, avctx)) < 0)
        return AVERROR_INVALIDDATA;
    /* The container states the size; a packet claiming another one is damaged
     * (and must not make us allocate clip_frames frames of any size it likes). */
    if (avctx->width > 0 && avctx->height > 0 &&
        (pi.width != avctx->width || pi.height != avctx->height) && !s->size_from_packet) {
        av_log(avctx, AV_LOG_ERROR, "evatok: packet is %dx%d but the stream is %dx%d; "
               "packet rejected\n", pi.width, pi.height, avctx->width, avctx->height);
        return AVERROR_INVALIDDATA;
    }
    if (pi.width != avctx->width || pi.height != avctx->height) {
        s->size_from_packet = 1;
        if ((ret = ff_set_dimensions(avctx, pi.width, pi.height)) < 0)
            return ret;
    }
    avctx->pix_fmt = AV_PIX_FMT_RGB24;

    imgs = av_calloc(pi.nb_frames, sizeof(*imgs));
    if (!imgs)
        return AVERROR(ENOMEM);
    for (int i = 0; i < pi.nb_frames; i++) {
        AVFrame *f = av_frame_alloc();
        if (!f) {
            ret = AVERROR(ENOMEM);
            goto fail;
        }
        s->out[s->nb_out++] = f;
        if ((ret = ff_get_buffer(avctx, f, 0)) < 0)
            goto fail;
        imgs[i].data[0]     = f->data[0];
        imgs[i].linesize[0] = f->linesize[0];
    }

    st = evatok_decode_begin(s->model, pkt->data, pkt->size, s->ref, imgs, pi.nb_frames,
                             EVATOK_PIX_RGB24, &nb, err, sizeof(err));
    if (st != EVATOK_OK) {
        av_log(avctx, AV_LOG_ERROR, "evatok: decoding packet failed: %s\n",
               err[0] ? err : evatok_status_string(st));
        ret = ff_evatok_averror(st);
        goto fail;
    }
    if (nb < 1 || nb > pi.nb_frames) {
        av_log(avctx, AV_LOG_ERROR, "evatok: library decoded %d frames, header says %d\n",
               nb, pi.nb_frames);
        ret = AVERROR_EXTERNAL;
        goto fail;
    }
    while (s->nb_out > nb)
        av_frame_free(&s->out[--s->nb_out]);
    if ((ret = packet_metadata(avctx, &md, pkt, &pi)) < 0)
        goto fail;

    /* Timestamps: frame i of the packet is i frame durations after the packet. */
    tb = avctx->pkt_timebase;
    if (tb.num <= 0 || tb.den <= 0)
        tb = s->fps.num > 0 ? av_inv_q(s->fps) : (AVRational){ 0, 0 };
    if (s->fps.num > 0 && tb.num > 0)
        dur = av_rescale_q(1, av_inv_q(s->fps), tb);
    else if (pkt->duration > 0)
        dur = pkt->duration / nb;

    for (int i = 0; i < nb; i++) {
        AVFrame *f = s->out[i];
        int64_t off = 0;

        if (s->fps.num > 0 && tb.num > 0)
            off = av_rescale_q(i, av_inv_q(s->fps), tb);
        else
            off = i * dur;
        /* intra-only: dts equals pts; either stands in for a missing other */
        f->pts          = pkt->pts != AV_NOPTS_VALUE ? pkt->pts + off :
                          pkt->dts != AV_NOPTS_VALUE ? pkt->dts + off : AV_NOPTS_VALUE;
        f->pkt_dts      = pkt->dts != AV_NOPTS_VALUE ? pkt->dts + off : f->pts;
        f->pkt_duration = dur;
        f->pkt_pos      = i ? -1 : pkt->pos;
        f->pkt_size     = pkt->size;
        f->key_frame    = i == 0 && key == 1;
        f->pict_type    = f->key_frame ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_P;
        if ((ret = av_dict_copy(&f->metadata, md, 0)) < 0)
            goto fail;
    }
    av_free(imgs);
    av_dict_free(&md);
    s->have_ref = 1;
    s->frame_dur = s->fps.num > 0 && tb.num > 0 ? av_rescale_q(1, av_inv_q(s->fps), tb) : 0;
    s->next_pts = pkt->pts != AV_NOPTS_VALUE && s->frame_dur > 0 ?
                  pkt->pts + av_rescale_q(nb, av_inv_q(s->fps), tb) : AV_NOPTS_VALUE;
    return 0;

fail:
    av_free(imgs);
    av_dict_free(&md);
    drop_output(s);
    /* the next inter packet would repeat a frame we do not have */
    s->have_ref = 0;
    evatok_reference_reset(s->ref);
    return ret;
}

static int libevatok_receive_frame(AVCodecContext *avctx, AVFrame *frame)
{
    LibEvatokDecContext *s = avctx->priv_data;
    int ret;

    while (s->next_out >= s->nb_out) {
        drop_output(s);
        ret = ff_decode_get_packet(avctx, s->pkt);
        if (ret < 0)
            return ret; /* EAGAIN or EOF */
        if (!s->pkt->size) {
            av_packet_unref(s->pkt);
            continue;
        }
        ret = decode_packet(avctx, s->pkt);
        av_packet_unref(s->pkt);
        if (ret < 0)
            return ret;
    }
    if (s->next_out >= s->nb_ready) {
        char err[FF_EVATOK_ERR_SIZE] = "";
        EvatokStatus st = evatok_decode_next(s->model, s->ref, &s->nb_ready, err, sizeof(err));
        if (st != EVATOK_OK || s->nb_ready <= s->next_out) {
            av_log(avctx, AV_LOG_ERROR, "evatok: decoding packet failed: %s\n",
                   err[0] ? err : st != EVATOK_OK ? evatok_status_string(st) : "no frame decoded");
            drop_output(s);
            s->have_ref = 0;
            evatok_reference_reset(s->ref);
            return st != EVATOK_OK ? ff_evatok_averror(st) : AVERROR_EXTERNAL;
        }
    }
    av_frame_move_ref(frame, s->out[s->next_out]);
    av_frame_free(&s->out[s->next_out]);
    s->next_out++;
    return 0;
}

static av_cold void libevatok_decode_flush(AVCodecContext *avctx)
{
    LibEvatokDecContext *s = avctx->priv_data;

    drop_output(s);
    av_packet_unref(s->pkt);
    s->have_ref = 0;
    evatok_reference_reset(s->ref);
}

static av_cold int libevatok_decode_close(AVCodecContext *avctx)
{
    LibEvatokDecContext *s = avctx->priv_data;

    drop_output(s);
    av_freep(&s->out);
    av_packet_free(&s->pkt);
    evatok_reference_free(&s->ref);
    evatok_model_close(&s->model);
    s->info = NULL;
    return 0;
}

#define OFFSET(x) offsetof(LibEvatokDecContext, x)
#define VD AV_OPT_FLAG_VIDEO_PARAM | AV_OPT_FLAG_DECODING_PARAM
static const AVOption options[] = {
    FF_EVATOK_MODEL_OPTIONS(LibEvatokDecContext, VD),
    { NULL },
};

static const AVClass libevatok_dec_class = {
    .class_name = "libevatok decoder",
    .item_name  = av_default_item_name,
    .option     = options,
    .version    = LIBAVUTIL_VERSION_INT,
};

const FFCodec ff_libevatok_decoder = {
    .p.name         = "libevatok",
    .p.long_name    = NULL_IF_CONFIG_SMALL("EVATok adaptive-length video tokenizer (libevatok)"),
    .p.type         = AVMEDIA_TYPE_VIDEO,
    .p.id           = AV_CODEC_ID_EVATOK,
    .priv_data_size = sizeof(LibEvatokDecContext),
    .init           = libevatok_decode_init,
    .close          = libevatok_decode_close,
    .flush          = libevatok_decode_flush,
    FF_CODEC_RECEIVE_FRAME_CB(libevatok_receive_frame),
    .p.capabilities = AV_CODEC_CAP_DELAY | AV_CODEC_CAP_DR1 | AV_CODEC_CAP_OTHER_THREADS,
    .caps_internal  = FF_CODEC_CAP_INIT_THREADSAFE | FF_CODEC_CAP_INIT_CLEANUP |
                      FF_CODEC_CAP_SETS_PKT_DTS | FF_CODEC_CAP_SETS_FRAME_PROPS |
                      FF_CODEC_CAP_AUTO_THREADS,
    .p.priv_class   = &libevatok_dec_class,
    .p.wrapper_name = "libevatok",
};
