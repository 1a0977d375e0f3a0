/*
 * libevatok AR model: frame prediction (and class-conditional generation)
 * with an autoregressive transformer over EVATok token sequences.
 *
 * An AR model speaks the tokens of exactly one tokenizer: it records that
 * tokenizer's fingerprint, and evatok_ar_open() refuses another one with
 * EVATOK_ERR_MODEL_MISMATCH. Plain C; errors, options structs and threads as
 * in evatok.h (an EvatokAr handle has its own lock, and a call also holds
 * its tokenizer's).
 *
 *   EvatokModel *tok;  evatok_model_open(NULL, &oo, &tok, err, sizeof err);
 *   EvatokAr *ar;      evatok_ar_open(NULL, tok, &oo, &ar, err, sizeof err);
 *   evatok_ar_predict(ar, last5, 5, w, h, EVATOK_PIX_RGB24, &so, next, 11, NULL, err, sizeof err);
 *   evatok_ar_close(&ar);  evatok_model_close(&tok);   (AR first: it borrows tok)
 */
#ifndef EVATOK_EVATOK_AR_H
#define EVATOK_EVATOK_AR_H

#include "evatok/evatok.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct EvatokAr EvatokAr;

typedef struct EvatokArInfo {
    char name[64];
    int dim, layers, heads;
    int64_t num_parameters;
    int vocab_size, max_seq_len;
    int clip_frames, clip_width, clip_height; /* the tokenizer's geometry            */
    int cond_frames;     /* frames a prediction conditions on (5)                  */
    int predict_frames;  /* frames one evatok_ar_predict call yields (11)          */
    int num_classes;     /* class names: evatok_ar_class_name()                    */
    uint8_t fingerprint[EVATOK_FINGERPRINT_SIZE];
    char fingerprint_hex[2 * EVATOK_FINGERPRINT_SIZE + 1];
    char tokenizer_fingerprint_hex[2 * EVATOK_FINGERPRINT_SIZE + 1];
} EvatokArInfo;

/* $EVATOK_AR_MODEL if set, else the installed default AR model, else the
 * source tree's samples/models/evatok-ar-default.safetensors. */
EVATOK_API const char *evatok_default_ar_model_path(void);

/* Opens an AR model for use with `tokenizer` (borrowed: keep it open until
 * evatok_ar_close). path NULL or "" = default. opts: device/threads of the
 * AR network (NULL = cpu). */
EVATOK_API EvatokStatus evatok_ar_open(const char *path, EvatokModel *tokenizer, const EvatokOpenOptions *opts,
                            EvatokAr **out, char *err, size_t err_size);
EVATOK_API void evatok_ar_close(EvatokAr **ar);
EVATOK_API const EvatokArInfo *evatok_ar_get_info(const EvatokAr *ar);
/* Class names (motion types of the training corpus); NULL when out of range. */
EVATOK_API const char *evatok_ar_class_name(const EvatokAr *ar, int index);
/* Index of a class name, -1 if the model has no such class. */
EVATOK_API int evatok_ar_class_index(const EvatokAr *ar, const char *name);

typedef struct EvatokSampleOptions {
    float temperature; /* > 0; 0 = greedy                          default 1.0 */
    int top_k;         /* keep the k most likely tokens; 0 = all   default 0   */
    float top_p;       /* nucleus mass in (0,1]; 1 = off           default 1.0 */
    uint64_t seed;     /* same seed + same input = same output     default 0   */
    float cfg;         /* classifier-free guidance scale (>= 0), used with a class; 1 = off */
    int class_id;      /* -1 = unconditional (null class)          default -1  */
    int no_kv_cache;   /* 1 = recompute the sequence every step in float (benchmark/reference;
                        * the cached step rounds weights to half, so samples may differ) */
    int sample_known;  /* prediction: 1 = sample the blocks that the condition frames fill too
                        * (the published recipe); 0 = take them from the tokenizer's coding of
                        * the condition frames and sample only the rest  default 0 (API 7) */
    uint8_t reserved[28];
} EvatokSampleOptions;

EVATOK_API void evatok_sample_options_default(EvatokSampleOptions *opts);

/* Predicts the frames that follow nb_cond condition frames (1..cond_frames,
 * oldest first; fewer than cond_frames are padded by repeating the first).
 * Frames of any width x height are scaled to the model's clip size, and the
 * predicted frames back to width x height (bilinear; aspect ratio restored).
 * Writes nb_out (1..predict_frames) caller-owned frames in `fmt`.
 * *tokens_sampled (may be NULL) receives the number of sampled tokens. */
EVATOK_API EvatokStatus evatok_ar_predict(EvatokAr *ar, const EvatokImage *cond, int nb_cond, int width, int height,
                               EvatokPixelFormat fmt, const EvatokSampleOptions *opts,
                               const EvatokImage *out, int nb_out, int64_t *tokens_sampled,
                               char *err, size_t err_size);

/* Class-conditional generation without input: samples a whole clip
 * (clip_frames frames, nb_out <= clip_frames written) of width x height. */
EVATOK_API EvatokStatus evatok_ar_generate(EvatokAr *ar, int width, int height, EvatokPixelFormat fmt,
                                const EvatokSampleOptions *opts, const EvatokImage *out, int nb_out,
                                int64_t *tokens_sampled, char *err, size_t err_size);

#ifdef __cplusplus
}
#endif
#endif /* EVATOK_EVATOK_AR_H */
