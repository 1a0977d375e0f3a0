/* AR C API (evatok_ar.h): bad, garbage and mismatched AR files, option
 * validation, prediction shapes at odd sizes and short inputs, determinism.
 * argv: TOKENIZER_A TOKENIZER_B AR_FOR_A TMPDIR (untrained models). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "evatok/evatok.h"
#include "evatok/evatok_ar.h"

static const char *tok_a, *tok_b, *ar_a;
static char tmpdir[256];

static EvatokModel *open_tok(const char *path)
{
    EvatokModel *m = NULL;
    char err[512];
    EvatokOpenOptions o = {.device = "cpu", .threads = 1}; /* tests run in parallel */
    if (evatok_model_open(path, &o, &m, err, sizeof err) != EVATOK_OK)
        fail_msg("open %s: %s", path, err);
    return m;
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(data, 1, n, f);
    fclose(f);
}

static char *read_file(const char *path, long *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)*n);
    assert_int_equal(fread(buf, 1, (size_t)*n, f), (size_t)*n);
    fclose(f);
    return buf;
}

static void test_sample_defaults(void **state)
{
    EvatokSampleOptions so;
    (void)state;
    memset(&so, 0xab, sizeof(so));
    evatok_sample_options_default(&so);
    assert_int_equal(so.class_id, -1);
    assert_int_equal(so.top_k, 0);
    assert_int_equal(so.no_kv_cache, 0);
    for (size_t i = 0; i < sizeof(so.reserved); i++)
        assert_int_equal(so.reserved[i], 0);
}

static void test_open_errors(void **state)
{
    (void)state;
    EvatokModel *a = open_tok(tok_a), *b = open_tok(tok_b);
    EvatokAr *ar = (EvatokAr *)1;
    char err[1024], path[512];

    assert_int_equal(evatok_ar_open("/nonexistent/ar.safetensors", a, NULL, &ar, err, sizeof err), EVATOK_ERR_IO);
    assert_null(ar);
    assert_non_null(strstr(err, "not found"));
    assert_int_equal(evatok_ar_open(ar_a, NULL, NULL, &ar, err, sizeof err), EVATOK_ERR_INVALID_ARGUMENT);
    assert_int_equal(evatok_ar_open(ar_a, a, NULL, NULL, err, sizeof err), EVATOK_ERR_INVALID_ARGUMENT);

    snprintf(path, sizeof path, "%s/garbage-ar.safetensors", tmpdir);
    write_file(path, "\x10\0\0\0\0\0\0\0{\"a\":1}         garbage", 31);
    assert_int_equal(evatok_ar_open(path, a, NULL, &ar, err, sizeof err), EVATOK_ERR_MODEL_FORMAT);
    assert_null(ar);

    /* a tokenizer file given as the AR model */
    assert_int_equal(evatok_ar_open(tok_a, a, NULL, &ar, err, sizeof err), EVATOK_ERR_MODEL_FORMAT);
    assert_non_null(strstr(err, "tokenizer model, not an AR model"));

    /* truncated and bit-flipped AR files */
    long n;
    char *buf = read_file(ar_a, &n);
    snprintf(path, sizeof path, "%s/half-ar.safetensors", tmpdir);
    write_file(path, buf, (size_t)n / 2);
    assert_int_equal(evatok_ar_open(path, a, NULL, &ar, err, sizeof err), EVATOK_ERR_MODEL_FORMAT);
    buf[n - 64] ^= 0x20;
    snprintf(path, sizeof path, "%s/flipped-ar.safetensors", tmpdir);
    write_file(path, buf, (size_t)n);
    assert_int_equal(evatok_ar_open(path, a, NULL, &ar, err, sizeof err), EVATOK_ERR_MODEL_FORMAT);
    assert_non_null(strstr(err, "corrupt"));
    free(buf);

    /* the AR model of tokenizer A with tokenizer B */
    assert_int_equal(evatok_ar_open(ar_a, b, NULL, &ar, err, sizeof err), EVATOK_ERR_MODEL_MISMATCH);
    assert_null(ar);
    assert_non_null(strstr(err, evatok_model_get_info(b)->codec_fingerprint_hex));

    EvatokOpenOptions bad = {.device = "tpu:3"};
    assert_int_not_equal(evatok_ar_open(ar_a, a, &bad, &ar, err, sizeof err), EVATOK_OK);
    assert_null(ar);

    assert_int_equal(evatok_ar_open(ar_a, a, NULL, &ar, err, sizeof err), EVATOK_OK);
    const EvatokArInfo *i = evatok_ar_get_info(ar);
    assert_string_equal(i->tokenizer_fingerprint_hex, evatok_model_get_info(a)->codec_fingerprint_hex);
    assert_int_equal(i->cond_frames, 5);
    assert_int_equal(i->predict_frames, 11);
    assert_null(evatok_ar_class_name(ar, -1));
    assert_null(evatok_ar_class_name(ar, i->num_classes));
    assert_int_equal(evatok_ar_class_index(ar, "no-such-class"), -1);
    evatok_ar_close(&ar);
    assert_null(ar);
    evatok_ar_close(NULL);
    evatok_model_close(&a);
    evatok_model_close(&b);
}

/* w x h frames, rgb24 or yuv420p, filled with a moving pattern. */
typedef struct Frames {
    EvatokImage im[16];
    uint8_t *buf;
} Frames;

static void frames_alloc(Frames *f, int w, int h, int n, EvatokPixelFormat fmt, int fill)
{
    const size_t ysz = (size_t)w * h, csz = (size_t)((w + 1) / 2) * ((h + 1) / 2);
    const size_t per = fmt == EVATOK_PIX_RGB24 ? 3 * ysz : ysz + 2 * csz;
    f->buf = calloc(per * (size_t)n, 1);
    for (int t = 0; t < n; t++) {
        uint8_t *p = f->buf + per * (size_t)t;
        if (fmt == EVATOK_PIX_RGB24) {
            f->im[t].data[0] = p;
            f->im[t].linesize[0] = 3 * w;
        } else {
            f->im[t].data[0] = p;
            f->im[t].data[1] = p + ysz;
            f->im[t].data[2] = p + ysz + csz;
            f->im[t].linesize[0] = w;
            f->im[t].linesize[1] = f->im[t].linesize[2] = (w + 1) / 2;
        }
        if (fill)
            for (size_t k = 0; k < per; k++)
                p[k] = (uint8_t)(k * 7 + t * 13);
    }
}

static void test_predict(void **state)
{
    (void)state;
    EvatokModel *a = open_tok(tok_a);
    EvatokAr *ar = NULL;
    char err[512];
    if (evatok_ar_open(ar_a, a, NULL, &ar, err, sizeof err) != EVATOK_OK)
        fail_msg("ar open: %s", err);
    const int w = 37, h = 23; /* odd size: scaled to the clip size and back */
    Frames in, out, out2;
    frames_alloc(&in, w, h, 5, EVATOK_PIX_YUV420P, 1);
    frames_alloc(&out, w, h, 11, EVATOK_PIX_YUV420P, 0);
    frames_alloc(&out2, w, h, 11, EVATOK_PIX_YUV420P, 0);
    EvatokSampleOptions so;
    evatok_sample_options_default(&so);
    so.seed = 42;
    so.top_k = 50;
    int64_t ntok = 0;
    assert_int_equal(evatok_ar_predict(ar, in.im, 5, w, h, EVATOK_PIX_YUV420P, &so, out.im, 11, &ntok, err, sizeof err),
                     EVATOK_OK);
    assert_true(ntok >= 4 * 9);
    /* same seed, same bytes; short input (2 frames) works too */
    assert_int_equal(evatok_ar_predict(ar, in.im, 5, w, h, EVATOK_PIX_YUV420P, &so, out2.im, 11, NULL, err, sizeof err),
                     EVATOK_OK);
    const size_t bytes = (size_t)w * h + 2 * (size_t)((w + 1) / 2) * ((h + 1) / 2);
    assert_memory_equal(out.buf, out2.buf, bytes * 11);
    assert_int_equal(evatok_ar_predict(ar, in.im + 3, 2, w, h, EVATOK_PIX_YUV420P, &so, out2.im, 3, NULL, err, sizeof err),
                     EVATOK_OK);
    /* without the KV cache (LibTorch's float path; the cached step uses half
     * weights, so the samples may differ): the same count, deterministic too */
    so.no_kv_cache = 1;
    int64_t ntok2 = 0;
    assert_int_equal(evatok_ar_predict(ar, in.im, 5, w, h, EVATOK_PIX_YUV420P, &so, out2.im, 11, &ntok2, err, sizeof err),
                     EVATOK_OK);
    assert_true(ntok2 >= 4 * 9);
    Frames out3;
    frames_alloc(&out3, w, h, 11, EVATOK_PIX_YUV420P, 0);
    assert_int_equal(evatok_ar_predict(ar, in.im, 5, w, h, EVATOK_PIX_YUV420P, &so, out3.im, 11, NULL, err, sizeof err),
                     EVATOK_OK);
    assert_memory_equal(out2.buf, out3.buf, bytes * 11);
    free(out3.buf);
    so.no_kv_cache = 0;

    /* bad arguments and options */
    EvatokSampleOptions bad = so;
    assert_int_equal(evatok_ar_predict(ar, in.im, 0, w, h, EVATOK_PIX_YUV420P, &so, out.im, 11, NULL, err, sizeof err),
                     EVATOK_ERR_INVALID_ARGUMENT);
    assert_int_equal(evatok_ar_predict(ar, in.im, 6, w, h, EVATOK_PIX_YUV420P, &so, out.im, 11, NULL, err, sizeof err),
                     EVATOK_ERR_INVALID_ARGUMENT);
    assert_int_equal(evatok_ar_predict(ar, in.im, 5, w, h, EVATOK_PIX_YUV420P, &so, out.im, 12, NULL, err, sizeof err),
                     EVATOK_ERR_INVALID_ARGUMENT);
    assert_int_equal(evatok_ar_predict(ar, in.im, 5, 0, h, EVATOK_PIX_YUV420P, &so, out.im, 11, NULL, err, sizeof err),
                     EVATOK_ERR_INVALID_ARGUMENT);
    assert_int_equal(evatok_ar_predict(ar, in.im, 5, w, h, (EvatokPixelFormat)9, &so, out.im, 11, NULL, err, sizeof err),
                     EVATOK_ERR_UNSUPPORTED);
    bad.temperature = -1;
    assert_int_equal(evatok_ar_predict(ar, in.im, 5, w, h, EVATOK_PIX_YUV420P, &bad, out.im, 11, NULL, err, sizeof err),
                     EVATOK_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "temperature"));
    bad = so;
    bad.top_p = 0;
    assert_int_equal(evatok_ar_predict(ar, in.im, 5, w, h, EVATOK_PIX_YUV420P, &bad, out.im, 11, NULL, err, sizeof err),
                     EVATOK_ERR_INVALID_ARGUMENT);
    bad = so;
    bad.class_id = 1000;
    assert_int_equal(evatok_ar_predict(ar, in.im, 5, w, h, EVATOK_PIX_YUV420P, &bad, out.im, 11, NULL, err, sizeof err),
                     EVATOK_ERR_INVALID_ARGUMENT);
    assert_int_equal(evatok_ar_predict(NULL, in.im, 5, w, h, EVATOK_PIX_YUV420P, &so, out.im, 11, NULL, err, sizeof err),
                     EVATOK_ERR_INVALID_ARGUMENT);

    /* class-conditional generation of a whole clip, rgb24 */
    Frames g;
    frames_alloc(&g, 64, 48, 16, EVATOK_PIX_RGB24, 0);
    assert_int_equal(evatok_ar_generate(ar, 64, 48, EVATOK_PIX_RGB24, &so, g.im, 16, &ntok, err, sizeof err), EVATOK_OK);
    assert_true(ntok >= 4 * 9);

    free(in.buf);
    free(out.buf);
    free(out2.buf);
    free(g.buf);
    evatok_ar_close(&ar);
    evatok_model_close(&a);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: test_ar_api TOKENIZER_A TOKENIZER_B AR_FOR_A TMPDIR\n");
        return 2;
    }
    tok_a = argv[1];
    tok_b = argv[2];
    ar_a = argv[3];
    snprintf(tmpdir, sizeof tmpdir, "%s", argv[4]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_defaults),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_predict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
