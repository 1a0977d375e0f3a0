/*
 * evatok_predict: extends a video with frames predicted by the EVATok AR
 * model (libevatok, evatok_ar.h).
 *
 * Thin glue: input frames pass through unchanged while the last cond_frames
 * of them are kept; at the end of the input, evatok_ar_predict() turns them
 * into the next frames (scaled to the model's clip size and back inside
 * libevatok), which are appended with continuing timestamps. More frames
 * than one prediction yields are made block after block, each conditioned
 * on the last frames emitted so far. Activation pattern as vf_tpad.c.
 *
 * This file is part of the EVATok FFmpeg integration; it is compiled into
 * FFmpeg (LGPL-2.1-or-later).
 */

#include <string.h>

#include <evatok/evatok.h>
#include <evatok/evatok_ar.h>

#include "libavutil/avassert.h"
#include "libavutil/bprint.h"
#include "libavutil/opt.h"
#include "libavutil/random_seed.h"
#include "libavutil/time.h"

#include "avfilter.h"
#include "filters.h"
#include "formats.h"
#include "internal.h"
#include "video.h"
#include "libevatok_glue.h"

#define MAX_COND 64

typedef struct EvatokPredictContext {
    const AVClass *class;

    /* options */
    char *model_path, *ar_model_path, *device, *class_name;
    int frames, top_k, threads, passthrough, start, sample_known;
    float temperature, top_p, cfg;
    int64_t seed;

    EvatokModel *tok;
    EvatokAr *ar;
    const EvatokArInfo *info;
    EvatokSampleOptions so;

    AVFrame *hist[MAX_COND]; /* last frames, oldest first */
    int nb_hist, cond;
    int64_t last_pts, next_pts, dur;
    int have_pts, eof, produced, chunk, nb_in;
    AVFrame *pending[MAX_COND];
    int nb_pending, next_pending;
} EvatokPredictContext;

#define OFFSET(x) offsetof(EvatokPredictContext, x)
#define FLAGS AV_OPT_FLAG_VIDEO_PARAM | AV_OPT_FLAG_FILTERING_PARAM

static const AVOption evatok_predict_options[] = {
    FF_EVATOK_MODEL_OPTIONS(EvatokPredictContext, FLAGS),
    { "ar_model", "AR model file (default: $EVATOK_AR_MODEL or the built-in default)",
      OFFSET(ar_model_path), AV_OPT_TYPE_STRING, { .str = NULL }, 0, 0, FLAGS },
    { "frames", "number of frames to predict and append",
      OFFSET(frames), AV_OPT_TYPE_INT, { .i64 = 11 }, 1, 100000, FLAGS },
    { "temperature", "sampling temperature (0 = greedy)",
      OFFSET(temperature), AV_OPT_TYPE_FLOAT, { .dbl = 0.7 }, 0, 100, FLAGS },
    { "top_k", "sample from the k most likely tokens (0 = all)",
      OFFSET(top_k), AV_OPT_TYPE_INT, { .i64 = 20 }, 0, 1 << 20, FLAGS },
    { "top_p", "nucleus sampling mass (1 = off)",
      OFFSET(top_p), AV_OPT_TYPE_FLOAT, { .dbl = 1.0 }, 0.001, 1, FLAGS },
    { "seed", "random seed; same seed and input give the same output (-1 = random)",
      OFFSET(seed), AV_OPT_TYPE_INT64, { .i64 = 0 }, -1, INT64_MAX, FLAGS },
    { "class", "motion class to condition on (e.g. still, panslow, zoom); empty = unconditional",
      OFFSET(class_name), AV_OPT_TYPE_STRING, { .str = NULL }, 0, 0, FLAGS },
    { "cfg", "classifier-free guidance scale, used with class (1 = no guidance)",
      OFFSET(cfg), AV_OPT_TYPE_FLOAT, { .dbl = 1.0 }, 0, 100, FLAGS },
    { "threads", "CPU threads for the networks (0 = every core)",
      OFFSET(threads), AV_OPT_TYPE_INT, { .i64 = 0 }, 0, 1024, FLAGS },
    { "start", "predict after this many input frames and drop the rest (0 = at the end of the input; "
      "needed with ffplay, which never signals the end of its input to filters)",
      OFFSET(start), AV_OPT_TYPE_INT, { .i64 = 0 }, 0, INT_MAX, FLAGS },
    { "passthrough", "output the input frames before the predicted ones (0 = predicted frames only)",
      OFFSET(passthrough), AV_OPT_TYPE_BOOL, { .i64 = 1 }, 0, 1, FLAGS },
    { "sample_known", "also sample the first block, whose frames are all condition frames (the published "
      "recipe; 0 = take it from the tokenizer's coding of those frames)",
      OFFSET(sample_known), AV_OPT_TYPE_BOOL, { .i64 = 0 }, 0, 1, FLAGS },
    { NULL }
};

AVFILTER_DEFINE_CLASS(evatok_predict);

static av_cold int init(AVFilterContext *ctx)
{
    EvatokPredictContext *s = ctx->priv;
    int ret;

    if ((ret = ff_evatok_open_model(ctx, s->model_path, s->device, s->threads, &s->tok)) < 0 ||
        (ret = ff_evatok_open_ar(ctx, s->ar_model_path, s->tok, s->device, s->threads, &s->ar)) < 0)
        return ret;
    s->info = evatok_ar_get_info(s->ar);
    s->cond = FFMIN(s->info->cond_frames, MAX_COND);
    if (s->info->predict_frames < 1 || s->info->predict_frames > MAX_COND || s->cond < 1) {
        av_log(ctx, AV_LOG_ERROR, "evatok: AR model geometry not supported (%d condition, %d predicted frames)\n",
               s->info->cond_frames, s->info->predict_frames);
        return AVERROR_PATCHWELCOME;
    }

    evatok_sample_options_default(&s->so);
    s->so.temperature = s->temperature;
    s->so.top_k = s->top_k;
    s->so.top_p = s->top_p;
    s->so.cfg = s->cfg;
    s->so.sample_known = s->sample_known;
    s->so.seed = s->seed < 0 ? av_get_random_seed() : (uint64_t)s->seed;
    if (s->class_name && *s->class_name) {
        s->so.class_id = evatok_ar_class_index(s->ar, s->class_name);
        if (s->so.class_id < 0) {
            AVBPrint bp;
            av_bprint_init(&bp, 0, AV_BPRINT_SIZE_AUTOMATIC);
            for (int i = 0; i < s->info->num_classes; i++)
                av_bprintf(&bp, "%s%s", i ? ", " : "", evatok_ar_class_name(s->ar, i));
            av_log(ctx, AV_LOG_ERROR, "evatok: unknown class '%s'; the AR model knows: %s\n",
                   s->class_name, bp.len ? bp.str : "(no classes)");
            av_bprint_finalize(&bp, NULL);
            return AVERROR(EINVAL);
        }
    }
    av_log(ctx, AV_LOG_VERBOSE, "evatok: AR model '%s' (%s, %lld parameters) with tokenizer '%s'; "
           "%d condition frames, %d frames per prediction, seed %llu\n",
           s->info->name, s->info->fingerprint_hex, (long long)s->info->num_parameters,
           evatok_model_get_info(s->tok)->name,
           s->info->cond_frames, s->info->predict_frames, (unsigned long long)s->so.seed);
    return 0;
}

static av_cold void uninit(AVFilterContext *ctx)
{
    EvatokPredictContext *s = ctx->priv;

    for (int i = 0; i < s->nb_hist; i++)
        av_frame_free(&s->hist[i]);
    for (int i = s->next_pending; i < s->nb_pending; i++)
        av_frame_free(&s->pending[i]);
    s->nb_hist = s->nb_pending = s->next_pending = 0;
    evatok_ar_close(&s->ar);  /* before the tokenizer it borrows */
    evatok_model_close(&s->tok);
}

static int config_output(AVFilterLink *outlink)
{
    AVFilterContext *ctx = outlink->src;
    AVFilterLink *inlink = ctx->inputs[0];
    EvatokPredictContext *s = ctx->priv;

    outlink->time_base  = inlink->time_base;
    outlink->frame_rate = inlink->frame_rate;
    outlink->w = inlink->w;
    outlink->h = inlink->h;
    s->dur = 0;
    if (inlink->frame_rate.num > 0 && inlink->frame_rate.den > 0)
        s->dur = av_rescale_q(1, av_inv_q(inlink->frame_rate), inlink->time_base);
    return 0;
}

/* Keeps a reference to frame as the newest condition frame. */
static int remember(EvatokPredictContext *s, const AVFrame *frame)
{
    AVFrame *ref = av_frame_clone(frame);
    if (!ref)
        return AVERROR(ENOMEM);
    if (s->nb_hist == s->cond) {
        av_frame_free(&s->hist[0]);
        memmove(s->hist, s->hist + 1, (s->cond - 1) * sizeof(*s->hist));
        s->nb_hist--;
    }
    s->hist[s->nb_hist++] = ref;
    return 0;
}

static void to_image(const AVFrame *f, EvatokImage *im)
{
    for (int p = 0; p < 3; p++) {
        im->data[p] = f->data[p];
        im->linesize[p] = f->linesize[p];
    }
}

/* Runs one prediction from the history into s->pending. */
static int predict_chunk(AVFilterContext *ctx)
{
    EvatokPredictContext *s = ctx->priv;
    AVFilterLink *outlink = ctx->outputs[0];
    const int n = FFMIN(s->info->predict_frames, s->frames - s->produced);
    EvatokPixelFormat fmt = outlink->format == AV_PIX_FMT_RGB24 ? EVATOK_PIX_RGB24 : EVATOK_PIX_YUV420P;
    EvatokImage cond[MAX_COND], out[MAX_COND];
    EvatokSampleOptions so = s->so;
    char err[FF_EVATOK_ERR_SIZE] = "";
    int64_t ntok = 0, t0 = av_gettime_relative();
    EvatokStatus st;

    s->nb_pending = s->next_pending = 0;
    for (int i = 0; i < n; i++) {
        AVFrame *f = ff_get_video_buffer(outlink, outlink->w, outlink->h);
        if (!f)
            return AVERROR(ENOMEM);
        av_frame_copy_props(f, s->hist[s->nb_hist - 1]);
        s->pending[s->nb_pending++] = f;
        to_image(f, &out[i]);
    }
    for (int i = 0; i < s->nb_hist; i++)
        to_image(s->hist[i], &cond[i]);
    if (s->nb_hist < s->info->cond_frames)
        av_log(ctx, AV_LOG_WARNING, "evatok: only %d input frame(s) to condition on (the model uses %d); "
               "the first one is repeated\n", s->nb_hist, s->info->cond_frames);
    so.seed = s->so.seed + (uint64_t)s->chunk;  /* every block its own, fixed stream */
    st = evatok_ar_predict(s->ar, cond, s->nb_hist, outlink->w, outlink->h, fmt, &so, out, n, &ntok,
                           err, sizeof(err));
    if (st != EVATOK_OK) {
        av_log(ctx, AV_LOG_ERROR, "evatok: prediction failed: %s\n", err[0] ? err : evatok_status_string(st));
        return ff_evatok_averror(st);
    }
    av_log(ctx, AV_LOG_VERBOSE, "evatok: predicted frames %d..%d: %lld tokens sampled in %.2f s\n",
           s->produced, s->produced + n - 1, (long long)ntok, (av_gettime_relative() - t0) / 1e6);
    s->chunk++;
    return 0;
}

/* No more input: the predicted frames continue after the last input frame. */
static void end_of_input(AVFilterContext *ctx)
{
    EvatokPredictContext *s = ctx->priv;

    if (!s->dur)
        s->dur = 1;
    s->next_pts = s->have_pts ? s->last_pts + s->dur : 0;
    if (!s->nb_hist)
        av_log(ctx, AV_LOG_WARNING, "evatok: no input frames; nothing to predict from\n");
}

static int activate(AVFilterContext *ctx)
{
    AVFilterLink *inlink = ctx->inputs[0];
    AVFilterLink *outlink = ctx->outputs[0];
    EvatokPredictContext *s = ctx->priv;
    AVFrame *frame = NULL;
    int ret, status;
    int64_t pts;

    FF_FILTER_FORWARD_STATUS_BACK(outlink, inlink);

    if (!s->eof) {
        ret = ff_inlink_consume_frame(inlink, &frame);
        if (ret < 0)
            return ret;
        if (ret > 0) {
            s->nb_in++;
            if (s->start && s->nb_in == s->start) {  /* the last input frame we use */
                s->eof = 1;
                ff_inlink_set_status(inlink, AVERROR_EOF);
            }
            if (frame->pts != AV_NOPTS_VALUE) {
                if (s->have_pts && !s->dur && frame->pts > s->last_pts)
                    s->dur = frame->pts - s->last_pts;  /* no frame rate: use the spacing */
                s->last_pts = frame->pts;
                s->have_pts = 1;
            }
            if ((ret = remember(s, frame)) < 0) {
                av_frame_free(&frame);
                return ret;
            }
            if (s->eof)
                end_of_input(ctx);
            if (!s->passthrough) {
                av_frame_free(&frame);
                ff_filter_set_ready(ctx, 100);
                return 0;
            }
            ff_filter_set_ready(ctx, 100);
            return ff_filter_frame(outlink, frame);
        }
        if (ff_inlink_acknowledge_status(inlink, &status, &pts)) {
            s->eof = 1;
            end_of_input(ctx);
        }
    }

    if (s->eof) {
        if (s->produced >= s->frames || !s->nb_hist) {
            ff_outlink_set_status(outlink, AVERROR_EOF, s->next_pts);
            return 0;
        }
        if (s->next_pending == s->nb_pending && (ret = predict_chunk(ctx)) < 0)
            return ret;
        frame = s->pending[s->next_pending];
        s->pending[s->next_pending++] = NULL;
        frame->pts = s->next_pts;
        frame->pkt_duration = s->dur;
        s->next_pts += s->dur;
        s->produced++;
        if ((ret = remember(s, frame)) < 0) {
            av_frame_free(&frame);
            return ret;
        }
        return ff_filter_frame(outlink, frame);
    }

    FF_FILTER_FORWARD_WANTED(outlink, inlink);
    return FFERROR_NOT_READY;
}

static const AVFilterPad evatok_predict_inputs[] = {
    {
        .name = "default",
        .type = AVMEDIA_TYPE_VIDEO,
    },
};

static const AVFilterPad evatok_predict_outputs[] = {
    {
        .name         = "default",
        .type         = AVMEDIA_TYPE_VIDEO,
        .config_props = config_output,
    },
};

const AVFilter ff_vf_evatok_predict = {
    .name          = "evatok_predict",
    .description   = NULL_IF_CONFIG_SMALL("Append frames predicted by the EVATok AR model."),
    .priv_size     = sizeof(EvatokPredictContext),
    .priv_class    = &evatok_predict_class,
    .init          = init,
    .uninit        = uninit,
    .activate      = activate,
    FILTER_INPUTS(evatok_predict_inputs),
    FILTER_OUTPUTS(evatok_predict_outputs),
    FILTER_PIXFMTS(AV_PIX_FMT_RGB24, AV_PIX_FMT_YUV420P),
};
