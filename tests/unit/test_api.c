/* C API tests: error codes and messages for bad arguments, bad model files,
 * bad packets and mismatched streams; packet round trip shapes.
 * argv[1]: an untrained model made by `evatok init` (its output quality is
 * not judged here), argv[2]: a second untrained model with another seed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "evatok/evatok.h"
#include "bitstream/bitstream.h" /* evbs_crc32: the header's CRC, to redo it after an edit */

static const char *model_path, *other_path;
static char tmpdir[256];

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(data, 1, n, f);
    fclose(f);
}

/* Defaults of every options struct, reserved bytes zeroed, and the version. */
static void test_defaults_and_version(void **state)
{
    EvatokOpenOptions oo;
    EvatokEncodeOptions eo;
    (void)state;
    memset(&oo, 0xab, sizeof(oo));
    memset(&eo, 0xab, sizeof(eo));
    evatok_open_options_default(&oo);
    evatok_encode_options_default(&eo);
    assert_string_equal(oo.device, "cpu");
    assert_int_equal(oo.threads, 0);
    assert_int_equal(eo.mode, EVATOK_ASSIGN_ROUTER);
    assert_true(eo.wq > 1.19f && eo.wq < 1.21f);
    assert_int_equal(eo.bitstream_version, 2);
    for (size_t i = 0; i < sizeof(oo.reserved); i++)
        assert_int_equal(oo.reserved[i], 0);
    for (size_t i = 0; i < sizeof(eo.reserved); i++)
        assert_int_equal(eo.reserved[i], 0);
    evatok_open_options_default(NULL); /* no crash */
    assert_non_null(evatok_version());
    assert_int_equal(strspn(evatok_version(), "0123456789."), strlen(evatok_version()));
    assert_true(strchr(evatok_version(), '.') != NULL);
}

static void test_open_errors(void **state)
{
    (void)state;
    EvatokModel *m = (EvatokModel *)1;
    char err[512], path[512];
    assert_int_equal(evatok_model_open("/nonexistent/model.safetensors", NULL, &m, err, sizeof err), EVATOK_ERR_IO);
    assert_null(m);
    assert_non_null(strstr(err, "not found"));

    snprintf(path, sizeof path, "%s/text.safetensors", tmpdir);
    write_file(path, "hello, I am not a model\n", 24);
    assert_int_equal(evatok_model_open(path, NULL, &m, err, sizeof err), EVATOK_ERR_MODEL_FORMAT);
    assert_null(m);
    assert_non_null(strstr(err, "not a valid model file"));

    /* A real model file cut in half. */
    FILE *f = fopen(model_path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    snprintf(path, sizeof path, "%s/half.safetensors", tmpdir);
    write_file(path, buf, (size_t)n / 2);
    assert_int_equal(evatok_model_open(path, NULL, &m, err, sizeof err), EVATOK_ERR_MODEL_FORMAT);
    /* One flipped byte in the weights: the fingerprint check catches it. */
    buf[n - 100] ^= 0x40;
    snprintf(path, sizeof path, "%s/flipped.safetensors", tmpdir);
    write_file(path, buf, (size_t)n);
    assert_int_equal(evatok_model_open(path, NULL, &m, err, sizeof err), EVATOK_ERR_MODEL_FORMAT);
    assert_non_null(strstr(err, "corrupt"));
    free(buf);

    EvatokOpenOptions o = {.device = "tpu:7", .threads = 1};
    assert_int_not_equal(evatok_model_open(model_path, &o, &m, err, sizeof err), EVATOK_OK);
    assert_null(m);
    assert_int_equal(evatok_model_open(model_path, NULL, NULL, err, sizeof err), EVATOK_ERR_INVALID_ARGUMENT);
    evatok_model_close(NULL);
    assert_string_equal(evatok_status_string(EVATOK_ERR_BITSTREAM), "invalid bitstream");
}

static EvatokModel *open_model(const char *path)
{
    EvatokModel *m = NULL;
    char err[512];
    EvatokOpenOptions o = {.device = "cpu", .threads = 2};
    EvatokStatus st = evatok_model_open(path, &o, &m, err, sizeof err);
    if (st != EVATOK_OK)
        fail_msg("open %s: %s", path, err);
    return m;
}

/* Frames of a moving gradient, w x h rgb24. */
static uint8_t *make_frames(int w, int h, int n, EvatokImage *im)
{
    uint8_t *pix = malloc((size_t)w * h * 3 * n);
    for (int t = 0; t < n; t++) {
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                uint8_t *p = pix + (((size_t)t * h + y) * w + x) * 3;
                p[0] = (uint8_t)(x * 2 + t * 3);
                p[1] = (uint8_t)(y * 3);
                p[2] = (uint8_t)((x + y) ^ t);
            }
        im[t].data[0] = pix + (size_t)t * w * h * 3;
        im[t].linesize[0] = w * 3;
    }
    return pix;
}

static void test_round_trip_and_bad_packets(void **state)
{
    (void)state;
    EvatokModel *m = open_model(model_path);
    const EvatokModelInfo *info = evatok_model_get_info(m);
    assert_int_equal(info->clip_frames, 16);
    assert_true(info->num_choices >= 1);
    const int w = 70, h = 45, n = 5; /* odd size, partial group */
    EvatokImage in[16], out[16];
    uint8_t *pix = make_frames(w, h, n, in);
    uint8_t *dec = calloc((size_t)w * h * 3 * 16, 1);
    for (int t = 0; t < 16; t++) {
        out[t].data[0] = dec + (size_t)t * w * h * 3;
        out[t].linesize[0] = w * 3;
    }
    EvatokEncodeOptions eo;
    evatok_encode_options_default(&eo);
    eo.mode = EVATOK_ASSIGN_UNIFORM;
    eo.uniform_tokens = info->choices[info->num_choices - 1];
    uint8_t *pkt = NULL;
    size_t size = 0;
    char err[512];
    EvatokStatus st = evatok_encode_block(m, in, n, w, h, EVATOK_PIX_RGB24, &eo, &pkt, &size, err, sizeof err);
    if (st != EVATOK_OK)
        fail_msg("encode: %s", err);
    EvatokPacketInfo pi;
    assert_int_equal(evatok_packet_probe(m, pkt, size, &pi, err, sizeof err), EVATOK_OK);
    assert_int_equal(pi.width, w);
    assert_int_equal(pi.height, h);
    assert_int_equal(pi.nb_frames, n);
    assert_int_equal(pi.tiles_x, 2); /* 70x45 on 64x64 tiles */
    assert_int_equal(pi.tiles_y, 1);
    assert_int_equal(pi.total_tokens, 2 * info->num_blocks * eo.uniform_tokens);
    int tpb[64], count = 0;
    assert_int_equal(evatok_packet_assignment(m, pkt, size, tpb, 64, &count, err, sizeof err), EVATOK_OK);
    assert_int_equal(count, 2 * info->num_blocks);
    assert_int_equal(tpb[count - 1], eo.uniform_tokens);
    int got = 0;
    assert_int_equal(evatok_decode_block(m, pkt, size, out, 16, EVATOK_PIX_RGB24, &got, err, sizeof err), EVATOK_OK);
    assert_int_equal(got, n);
    /* room for fewer frames than the packet holds */
    assert_int_equal(evatok_decode_block(m, pkt, size, out, n - 1, EVATOK_PIX_RGB24, &got, err, sizeof err),
                     EVATOK_ERR_INVALID_ARGUMENT);

    /* truncated, corrupted, oversized packets */
    assert_int_equal(evatok_decode_block(m, pkt, size - 1, out, 16, EVATOK_PIX_RGB24, &got, err, sizeof err),
                     EVATOK_ERR_BITSTREAM);
    pkt[size / 2] ^= 0x10;
    assert_int_equal(evatok_decode_block(m, pkt, size, out, 16, EVATOK_PIX_RGB24, &got, err, sizeof err),
                     EVATOK_ERR_BITSTREAM);
    assert_non_null(strstr(err, "checksum"));
    pkt[size / 2] ^= 0x10;
    uint8_t *big = calloc(size + 4096, 1);
    memcpy(big, pkt, size);
    assert_int_equal(evatok_decode_block(m, big, size + 4096, out, 16, EVATOK_PIX_RGB24, &got, err, sizeof err),
                     EVATOK_ERR_BITSTREAM);
    free(big);

    /* bad encode arguments (into p2: a failing call must not take pkt's packet) */
    uint8_t *p2;
    size_t s2;
    eo.uniform_tokens = 3;
    assert_int_equal(evatok_encode_block(m, in, n, w, h, EVATOK_PIX_RGB24, &eo, &p2, &s2, err, sizeof err),
                     EVATOK_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "choices"));
    eo.uniform_tokens = info->choices[0];
    assert_int_equal(evatok_encode_block(m, in, 0, w, h, EVATOK_PIX_RGB24, &eo, &p2, &s2, err, sizeof err),
                     EVATOK_ERR_INVALID_ARGUMENT);
    assert_int_equal(evatok_encode_block(m, in, 17, w, h, EVATOK_PIX_RGB24, &eo, &p2, &s2, err, sizeof err),
                     EVATOK_ERR_INVALID_ARGUMENT);
    assert_int_equal(evatok_encode_block(m, in, n, 0, h, EVATOK_PIX_RGB24, &eo, &p2, &s2, err, sizeof err),
                     EVATOK_ERR_INVALID_ARGUMENT);
    assert_int_equal(evatok_encode_block(m, in, n, w, h, (EvatokPixelFormat)42, &eo, &p2, &s2, err, sizeof err),
                     EVATOK_ERR_UNSUPPORTED);
    /* an untrained model has no router */
    eo.mode = EVATOK_ASSIGN_ROUTER;
    assert_int_equal(evatok_encode_block(m, in, n, w, h, EVATOK_PIX_RGB24, &eo, &p2, &s2, err, sizeof err),
                     EVATOK_ERR_UNSUPPORTED);
    assert_non_null(strstr(err, "router"));
    eo.mode = (EvatokAssignMode)7;
    assert_int_equal(evatok_encode_block(m, in, n, w, h, EVATOK_PIX_RGB24, &eo, &p2, &s2, err, sizeof err),
                     EVATOK_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "assignment mode"));

    evatok_free(pkt);
    free(pix);
    free(dec);
    evatok_model_close(&m);
    assert_null(m);
}

/* A header with `fp` at the fingerprint field (offset 6) and its CRC redone. */
static void set_header_fingerprint(uint8_t *ed, size_t n, const uint8_t *fp)
{
    memcpy(ed + 6, fp, EVATOK_FINGERPRINT_SIZE);
    uint32_t c = evbs_crc32(ed, n - 4);
    for (int i = 0; i < 4; i++) ed[n - 4 + i] = (uint8_t)(c >> (24 - 8 * i));
}

static void test_extradata_mismatch(void **state)
{
    (void)state;
    EvatokModel *a = open_model(model_path), *b = open_model(other_path);
    uint8_t *ed;
    size_t n;
    char err[512];
    int num = 0, den = 0;
    assert_int_equal(evatok_extradata_create(a, 25, 1, &ed, &n, err, sizeof err), EVATOK_OK);
    assert_int_equal(evatok_extradata_check(a, ed, n, &num, &den, err, sizeof err), EVATOK_OK);
    assert_int_equal(num, 25);
    assert_int_equal(den, 1);
    assert_int_equal(evatok_extradata_check(NULL, ed, n, NULL, NULL, err, sizeof err), EVATOK_OK);
    assert_int_equal(evatok_extradata_check(b, ed, n, &num, &den, err, sizeof err), EVATOK_ERR_MODEL_MISMATCH);
    assert_non_null(strstr(err, "encoded with model"));
    /* Headers record the codec fingerprint; older ones the whole-file one,
     * which is still accepted. Any other is refused. */
    const EvatokModelInfo *ia = evatok_model_get_info(a);
    uint8_t *old = malloc(n);
    assert_non_null(old);
    memcpy(old, ed, n);
    assert_memory_equal(old + 6, ia->codec_fingerprint, EVATOK_FINGERPRINT_SIZE);
    set_header_fingerprint(old, n, ia->fingerprint);
    assert_int_equal(evatok_extradata_check(a, old, n, NULL, NULL, err, sizeof err), EVATOK_OK);
    set_header_fingerprint(old, n, evatok_model_get_info(b)->fingerprint);
    assert_int_equal(evatok_extradata_check(a, old, n, NULL, NULL, err, sizeof err), EVATOK_ERR_MODEL_MISMATCH);
    free(old);
    assert_int_equal(evatok_extradata_check(a, (const uint8_t *)"junkjunkjunk", 12, NULL, NULL, err, sizeof err),
                     EVATOK_ERR_BITSTREAM);
    assert_int_equal(evatok_extradata_check(a, NULL, 0, NULL, NULL, err, sizeof err), EVATOK_ERR_BITSTREAM);
    evatok_free(ed);
    evatok_model_close(&a);
    evatok_model_close(&b);
}

/* Bitstream versions: v1 and v2 packets of the same frames hold the same
 * tokens and decode to identical frames; v2 is the default; version 3 and a
 * v2 header naming other entropy tables are refused. */
static void test_bitstream_versions(void **state)
{
    (void)state;
    EvatokModel *m = open_model(model_path);
    const EvatokModelInfo *info = evatok_model_get_info(m);
    assert_int_equal(info->has_entropy_tables, 0); /* an untrained model: the built-in model */
    const int w = 100, h = 64, n = 16;
    EvatokImage in[16], out1[16], out2[16];
    uint8_t *pix = make_frames(w, h, n, in);
    uint8_t *d1 = calloc((size_t)w * h * 3 * 16, 1), *d2 = calloc((size_t)w * h * 3 * 16, 1);
    for (int t = 0; t < 16; t++) {
        out1[t].data[0] = d1 + (size_t)t * w * h * 3;
        out2[t].data[0] = d2 + (size_t)t * w * h * 3;
        out1[t].linesize[0] = out2[t].linesize[0] = w * 3;
    }
    EvatokEncodeOptions eo;
    evatok_encode_options_default(&eo);
    assert_int_equal(eo.bitstream_version, EVATOK_BITSTREAM_VERSION);
    eo.mode = EVATOK_ASSIGN_UNIFORM;
    eo.uniform_tokens = info->choices[0];
    uint8_t *p[3] = {NULL};
    size_t size[3] = {0};
    char err[512];
    for (int v = 1; v <= 2; v++) {
        eo.bitstream_version = v;
        if (evatok_encode_block(m, in, n, w, h, EVATOK_PIX_RGB24, &eo, &p[v], &size[v], err, sizeof err) != EVATOK_OK)
            fail_msg("encode v%d: %s", v, err);
        EvatokPacketInfo pi;
        assert_int_equal(evatok_packet_probe(m, p[v], size[v], &pi, err, sizeof err), EVATOK_OK);
        assert_int_equal(pi.version, v);
        assert_int_equal(pi.total_tokens, 2 * info->num_blocks * info->choices[0]);
    }
    int got1 = 0, got2 = 0;
    assert_int_equal(evatok_decode_block(m, p[1], size[1], out1, 16, EVATOK_PIX_RGB24, &got1, err, sizeof err), EVATOK_OK);
    assert_int_equal(evatok_decode_block(m, p[2], size[2], out2, 16, EVATOK_PIX_RGB24, &got2, err, sizeof err), EVATOK_OK);
    assert_int_equal(got1, got2);
    assert_memory_equal(d1, d2, (size_t)w * h * 3 * 16);
    /* a v2 packet cut short or with a flipped byte is refused */
    int got = 0;
    assert_int_equal(evatok_decode_block(m, p[2], size[2] - 1, out2, 16, EVATOK_PIX_RGB24, &got, err, sizeof err),
                     EVATOK_ERR_BITSTREAM);
    p[2][size[2] / 2] ^= 0x40;
    assert_int_equal(evatok_decode_block(m, p[2], size[2], out2, 16, EVATOK_PIX_RGB24, &got, err, sizeof err),
                     EVATOK_ERR_BITSTREAM);
    eo.bitstream_version = EVATOK_BITSTREAM_MAX_VERSION + 1;
    assert_int_equal(evatok_encode_block(m, in, n, w, h, EVATOK_PIX_RGB24, &eo, &p[0], &size[0], err, sizeof err),
                     EVATOK_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "bitstream version"));
    /* version 3 without a reference: a keyframe that decodes as version 2's does */
    eo.bitstream_version = 3;
    assert_int_equal(evatok_encode_block(m, in, n, w, h, EVATOK_PIX_RGB24, &eo, &p[0], &size[0], err, sizeof err),
                     EVATOK_OK);
    assert_int_equal(p[0][1], 3);
    assert_int_equal(evatok_packet_is_keyframe(p[0], size[0]), 1);
    assert_int_equal(size[0], size[2]);
    evatok_free(p[0]);
    p[0] = NULL;
    /* stream headers of both versions; v2's names the (here: no) tables */
    uint8_t *ed;
    size_t en;
    assert_int_equal(evatok_extradata_create_version(m, 1, 25, 1, &ed, &en, err, sizeof err), EVATOK_OK);
    assert_int_equal(ed[4], 1);
    assert_int_equal(evatok_extradata_check(m, ed, en, NULL, NULL, err, sizeof err), EVATOK_OK);
    evatok_free(ed);
    assert_int_equal(evatok_extradata_create_version(m, 9, 25, 1, &ed, &en, err, sizeof err), EVATOK_ERR_INVALID_ARGUMENT);
    assert_int_equal(evatok_extradata_create(m, 25, 1, &ed, &en, err, sizeof err), EVATOK_OK);
    assert_int_equal(ed[4], 2);
    assert_int_equal(evatok_extradata_check(m, ed, en, NULL, NULL, err, sizeof err), EVATOK_OK);
    ed[en - 20] ^= 1; /* a byte of the entropy table fingerprint, CRC redone */
    uint32_t c = evbs_crc32(ed, en - 4);
    for (int i = 0; i < 4; i++) ed[en - 4 + i] = (uint8_t)(c >> (24 - 8 * i));
    assert_int_equal(evatok_extradata_check(m, ed, en, NULL, NULL, err, sizeof err), EVATOK_ERR_MODEL_MISMATCH);
    assert_non_null(strstr(err, "entropy-coded"));
    evatok_free(ed);
    evatok_free(p[1]);
    evatok_free(p[2]);
    free(pix);
    free(d1);
    free(d2);
    evatok_model_close(&m);
}

/* Token access: the ids read from a packet rebuild the identical packet, in
 * both versions; bad counts and ids are refused with a reason. */
static void test_packet_tokens(void **state)
{
    (void)state;
    EvatokModel *m = open_model(model_path);
    const EvatokModelInfo *info = evatok_model_get_info(m);
    const int w = 130, h = 64, n = 7;
    EvatokImage in[16];
    uint8_t *pix = make_frames(w, h, n, in);
    EvatokEncodeOptions eo;
    evatok_encode_options_default(&eo);
    eo.mode = EVATOK_ASSIGN_UNIFORM;
    eo.uniform_tokens = info->choices[1 % info->num_choices];
    char err[512];
    for (int v = 1; v <= 2; v++) {
        eo.bitstream_version = v;
        uint8_t *pkt = NULL, *again = NULL;
        size_t size = 0, size2 = 0, nb_ids = 0;
        int nb_entries = 0;
        assert_int_equal(evatok_encode_block(m, in, n, w, h, EVATOK_PIX_RGB24, &eo, &pkt, &size, err, sizeof err), EVATOK_OK);
        /* first call without room: the counts come back */
        assert_int_equal(evatok_packet_tokens(m, pkt, size, NULL, 0, &nb_entries, NULL, 0, &nb_ids, err, sizeof err),
                         EVATOK_ERR_INVALID_ARGUMENT);
        assert_int_equal(nb_entries, 3 * info->num_blocks); /* 130x64: 3 x 1 tiles */
        assert_int_equal(nb_ids, (size_t)nb_entries * (size_t)eo.uniform_tokens);
        int *tpb = malloc(sizeof *tpb * (size_t)nb_entries);
        uint32_t *ids = malloc(sizeof *ids * nb_ids);
        assert_int_equal(evatok_packet_tokens(m, pkt, size, tpb, nb_entries, &nb_entries, ids, nb_ids, &nb_ids, err,
                                              sizeof err), EVATOK_OK);
        assert_int_equal(tpb[0], eo.uniform_tokens);
        assert_int_equal(evatok_packet_build(m, w, h, n, tpb, nb_entries, ids, nb_ids, v, &again, &size2, err, sizeof err),
                         EVATOK_OK);
        assert_int_equal(size2, size);
        assert_memory_equal(again, pkt, size);
        evatok_free(again);
        /* a token id outside the codebook, a count that is not a choice, too few ids */
        uint32_t keep = ids[5];
        ids[5] = (uint32_t)info->codebook_size;
        assert_int_equal(evatok_packet_build(m, w, h, n, tpb, nb_entries, ids, nb_ids, v, &again, &size2, err, sizeof err),
                         EVATOK_ERR_INVALID_ARGUMENT);
        assert_non_null(strstr(err, "outside the codebook"));
        ids[5] = keep;
        tpb[2] = 3;
        assert_int_equal(evatok_packet_build(m, w, h, n, tpb, nb_entries, ids, nb_ids, v, &again, &size2, err, sizeof err),
                         EVATOK_ERR_INVALID_ARGUMENT);
        assert_non_null(strstr(err, "not one of the model's counts"));
        tpb[2] = eo.uniform_tokens;
        assert_int_equal(evatok_packet_build(m, w, h, n, tpb, nb_entries, ids, nb_ids - 1, v, &again, &size2, err,
                                             sizeof err), EVATOK_ERR_INVALID_ARGUMENT);
        assert_int_equal(evatok_packet_build(m, w, h, n, tpb, nb_entries - 1, ids, nb_ids, v, &again, &size2, err,
                                             sizeof err), EVATOK_ERR_INVALID_ARGUMENT);
        assert_non_null(strstr(err, "token counts"));
        assert_int_equal(evatok_packet_build(m, w, h, 17, tpb, nb_entries, ids, nb_ids, v, &again, &size2, err, sizeof err),
                         EVATOK_ERR_INVALID_ARGUMENT);
        assert_null(again);
        /* a corrupt packet gives no tokens */
        pkt[size - 6] ^= 1;
        assert_int_equal(evatok_packet_tokens(m, pkt, size, tpb, nb_entries, &nb_entries, ids, nb_ids, &nb_ids, err,
                                              sizeof err), EVATOK_ERR_BITSTREAM);
        free(tpb);
        free(ids);
        evatok_free(pkt);
    }
    free(pix);
    evatok_model_close(&m);
}

/* Bitstream 3: a still scene gives a keyframe and then inter packets that
 * repeat it; the decoder needs the reference, refuses inter packets without
 * it, and packet tokens / build see the skipped tiles as 0 tokens. */
static void test_inter_packets(void **state)
{
    (void)state;
    EvatokModel *m = open_model(model_path);
    const EvatokModelInfo *info = evatok_model_get_info(m);
    const int w = 130, h = 64, n = 16;
    const size_t frame = (size_t)w * h * 3;
    EvatokImage in[16], out[16];
    uint8_t *pix = make_frames(w, h, 1, in), *dec1 = calloc(frame * 16, 1), *dec2 = calloc(frame * 16, 1);
    for (int t = 1; t < n; t++)
        in[t] = in[0]; /* a still */
    EvatokEncodeOptions eo;
    evatok_encode_options_default(&eo);
    assert_true(eo.inter_tolerance_db > 0.2f && eo.inter_tolerance_db < 0.3f);
    assert_int_equal(eo.inter_motion, 1);
    eo.mode = EVATOK_ASSIGN_UNIFORM;
    eo.uniform_tokens = info->choices[2 % info->num_choices];
    eo.bitstream_version = 3;
    eo.inter_tolerance_db = 20; /* an untrained model: take the reference whenever it is not far worse */
    EvatokReference *enc_ref = NULL, *dec_ref = NULL;
    assert_int_equal(evatok_reference_new(&enc_ref), EVATOK_OK);
    assert_int_equal(evatok_reference_new(&dec_ref), EVATOK_OK);
    char err[512];
    uint8_t *key = NULL, *inter = NULL, *pkt = NULL;
    size_t key_size = 0, inter_size = 0, size = 0;
    /* no reference yet: a keyframe even when an inter packet is allowed */
    assert_int_equal(evatok_encode_packet(m, in, n, w, h, EVATOK_PIX_RGB24, &eo, enc_ref, 0, &key, &key_size, err,
                                          sizeof err), EVATOK_OK);
    assert_int_equal(evatok_packet_is_keyframe(key, key_size), 1);
    assert_int_equal(key[1], 3);
    assert_int_equal(evatok_encode_packet(m, in, n, w, h, EVATOK_PIX_RGB24, &eo, enc_ref, 0, &inter, &inter_size, err,
                                          sizeof err), EVATOK_OK);
    assert_int_equal(evatok_packet_is_keyframe(inter, inter_size), 0);
    assert_true(inter_size < key_size);
    /* keyframe = 1 forces one */
    assert_int_equal(evatok_encode_packet(m, in, n, w, h, EVATOK_PIX_RGB24, &eo, enc_ref, 1, &pkt, &size, err,
                                          sizeof err), EVATOK_OK);
    assert_int_equal(evatok_packet_is_keyframe(pkt, size), 1);
    assert_int_equal(size, key_size);
    assert_memory_equal(pkt, key, size);
    evatok_free(pkt);

    for (int t = 0; t < 16; t++) {
        out[t].data[0] = dec1 + (size_t)t * frame;
        out[t].linesize[0] = w * 3;
    }
    int got = 0;
    /* an inter packet needs its reference */
    assert_int_equal(evatok_decode_block(m, inter, inter_size, out, 16, EVATOK_PIX_RGB24, &got, err, sizeof err),
                     EVATOK_ERR_NO_REFERENCE);
    assert_int_equal(evatok_decode_packet(m, inter, inter_size, dec_ref, out, 16, EVATOK_PIX_RGB24, &got, err,
                                          sizeof err), EVATOK_ERR_NO_REFERENCE);
    assert_non_null(strstr(err, "next keyframe"));
    assert_int_equal(got, 0);
    assert_int_equal(evatok_decode_packet(m, key, key_size, dec_ref, out, 16, EVATOK_PIX_RGB24, &got, err, sizeof err),
                     EVATOK_OK);
    assert_int_equal(got, 16);
    for (int t = 0; t < 16; t++)
        out[t].data[0] = dec2 + (size_t)t * frame;
    assert_int_equal(evatok_decode_packet(m, inter, inter_size, dec_ref, out, 16, EVATOK_PIX_RGB24, &got, err,
                                          sizeof err), EVATOK_OK);
    /* which tiles were skipped: 0 tokens in each of their blocks */
    int tpb[3 * EVATOK_MAX_BLOCKS], nb_entries = 0, skipped = 0;
    uint32_t ids[3 * EVATOK_MAX_BLOCKS * 128];
    size_t nb_ids = 0;
    assert_int_equal(evatok_packet_tokens(m, inter, inter_size, tpb, 3 * EVATOK_MAX_BLOCKS, &nb_entries, ids,
                                          sizeof ids / sizeof *ids, &nb_ids, err, sizeof err), EVATOK_OK);
    assert_int_equal(nb_entries, 3 * info->num_blocks);
    for (int t = 0; t < 3; t++) {
        const int zero = tpb[t * info->num_blocks] == 0;
        skipped += zero;
        for (int b = 1; b < info->num_blocks; b++)
            assert_int_equal(tpb[t * info->num_blocks + b] == 0, zero);
        /* a skipped tile shows the keyframe's mean frame in every frame */
        const int x0 = t * 64, x1 = t * 64 + 64 < w ? t * 64 + 64 : w;
        for (int y = 0; zero && y < h; y++)
            for (int x = x0 * 3; x < x1 * 3; x++) {
                const size_t at = (size_t)y * w * 3 + (size_t)x;
                int sum = 0;
                for (int f = 0; f < 16; f++) {
                    assert_int_equal(dec2[(size_t)f * frame + at], dec2[at]);
                    sum += dec1[(size_t)f * frame + at];
                }
                assert_true(abs(16 * dec2[at] - sum) <= 16); /* within rounding of the mean */
            }
    }
    assert_true(skipped >= 1);
    assert_int_equal(nb_ids, (size_t)(3 - skipped) * info->num_blocks * eo.uniform_tokens);
    /* the tokens rebuild the same inter packet; without version 3 they cannot */
    assert_int_equal(evatok_packet_build(m, w, h, n, tpb, nb_entries, ids, nb_ids, 3, &pkt, &size, err, sizeof err),
                     EVATOK_OK);
    assert_int_equal(size, inter_size);
    assert_memory_equal(pkt, inter, size);
    evatok_free(pkt);
    assert_int_equal(evatok_packet_build(m, w, h, n, tpb, nb_entries, ids, nb_ids, 2, &pkt, &size, err, sizeof err),
                     EVATOK_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "bitstream 3"));
    if (skipped < 3) { /* half a skipped tile is not a tile */
        int k = 0;
        while (tpb[k] == 0)
            k += info->num_blocks;
        const int keep = tpb[k + 1];
        tpb[k + 1] = 0;
        assert_int_not_equal(evatok_packet_build(m, w, h, n, tpb, nb_entries, ids, nb_ids, 3, &pkt, &size, err,
                                                 sizeof err), EVATOK_OK);
        tpb[k + 1] = keep;
    }
    /* after a reset (a seek), inter packets wait for a keyframe */
    evatok_reference_reset(dec_ref);
    assert_int_equal(evatok_decode_packet(m, inter, inter_size, dec_ref, out, 16, EVATOK_PIX_RGB24, &got, err,
                                          sizeof err), EVATOK_ERR_NO_REFERENCE);
    /* another frame size cannot use the reference: a keyframe */
    assert_int_equal(evatok_encode_packet(m, in, n, 64, 64, EVATOK_PIX_RGB24, &eo, enc_ref, 0, &pkt, &size, err,
                                          sizeof err), EVATOK_OK);
    assert_int_equal(evatok_packet_is_keyframe(pkt, size), 1);
    evatok_free(pkt);
    /* below version 3 every packet is a keyframe of that version */
    eo.bitstream_version = 2;
    assert_int_equal(evatok_encode_packet(m, in, n, w, h, EVATOK_PIX_RGB24, &eo, enc_ref, 0, &pkt, &size, err,
                                          sizeof err), EVATOK_OK);
    assert_int_equal(pkt[1], 2);
    assert_int_equal(evatok_packet_is_keyframe(pkt, size), 1);
    evatok_free(pkt);
    eo.inter_tolerance_db = -1;
    assert_int_equal(evatok_encode_packet(m, in, n, w, h, EVATOK_PIX_RGB24, &eo, enc_ref, 0, &pkt, &size, err,
                                          sizeof err), EVATOK_ERR_INVALID_ARGUMENT);
    eo.inter_tolerance_db = 0.25f;
    eo.inter_motion = 2; /* a flag: 0 or 1 */
    assert_int_equal(evatok_encode_packet(m, in, n, w, h, EVATOK_PIX_RGB24, &eo, enc_ref, 0, &pkt, &size, err,
                                          sizeof err), EVATOK_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "inter_motion"));
    assert_int_equal(evatok_packet_is_keyframe((const uint8_t *)"nonsense", 8), -1);
    evatok_free(key);
    evatok_free(inter);
    evatok_reference_free(&enc_ref);
    evatok_reference_free(&dec_ref);
    assert_null(enc_ref);
    evatok_reference_free(&dec_ref); /* twice is harmless */
    free(pix);
    free(dec1);
    free(dec2);
    evatok_model_close(&m);
}

/* Progressive decoding gives evatok_decode_packet's frames, one temporal
 * block per call, for keyframes, inter packets and short packets, and
 * refuses calls out of order. */
static void progressive(EvatokModel *m, const uint8_t *pkt, size_t size, EvatokReference *ref, EvatokImage *out,
                        int want_frames)
{
    const EvatokModelInfo *info = evatok_model_get_info(m);
    const int pt = info->clip_frames / info->num_blocks;
    char err[512];
    int n = 0, ready = 0, calls = 0;
    const EvatokStatus st = evatok_decode_begin(m, pkt, size, ref, out, 16, EVATOK_PIX_RGB24, &n, err, sizeof err);
    if (st != EVATOK_OK)
        fprintf(stderr, "evatok_decode_begin: %s\n", err);
    assert_int_equal(st, EVATOK_OK);
    assert_int_equal(n, want_frames);
    while (ready < n) {
        const int before = ready;
        assert_int_equal(evatok_decode_next(m, ref, &ready, err, sizeof err), EVATOK_OK);
        assert_int_equal(ready, before + pt < n ? before + pt : n);
        calls++;
    }
    assert_int_equal(calls, (n + pt - 1) / pt);
    /* done: nothing is pending */
    assert_int_equal(evatok_decode_next(m, ref, &ready, err, sizeof err), EVATOK_ERR_INVALID_ARGUMENT);
}

static void test_progressive_decode(void **state)
{
    (void)state;
    EvatokModel *m = open_model(model_path), *other = open_model(other_path);
    const EvatokModelInfo *info = evatok_model_get_info(m);
    const int w = 130, h = 64;
    const size_t frame = (size_t)w * h * 3;
    EvatokImage in[16], a[16], b[16];
    uint8_t *pix = make_frames(w, h, 16, in), *da = calloc(frame * 16, 1), *db = calloc(frame * 16, 1);
    for (int t = 0; t < 16; t++) {
        a[t].data[0] = da + (size_t)t * frame;
        b[t].data[0] = db + (size_t)t * frame;
        a[t].linesize[0] = b[t].linesize[0] = w * 3;
    }
    EvatokEncodeOptions eo;
    evatok_encode_options_default(&eo);
    eo.mode = EVATOK_ASSIGN_UNIFORM;
    eo.uniform_tokens = info->choices[1 % info->num_choices];
    eo.bitstream_version = 3;
    eo.inter_tolerance_db = 20;
    EvatokReference *enc = NULL, *ra = NULL, *rb = NULL;
    assert_int_equal(evatok_reference_new(&enc), EVATOK_OK);
    assert_int_equal(evatok_reference_new(&ra), EVATOK_OK);
    assert_int_equal(evatok_reference_new(&rb), EVATOK_OK);
    char err[512];
    int got = 0, ready = 0, n = 0;
    uint8_t *pkts[3];
    size_t sizes[3];
    const int frames[3] = { 16, 16, 5 };
    for (int i = 0; i < 3; i++) {
        for (int t = 0; t < 16 && i == 1; t++)
            in[t] = in[0]; /* the second packet a still: an inter packet */
        assert_int_equal(evatok_encode_packet(m, in, frames[i], w, h, EVATOK_PIX_RGB24, &eo, enc, 0, &pkts[i],
                                              &sizes[i], err, sizeof err), EVATOK_OK);
    }
    assert_int_equal(evatok_packet_is_keyframe(pkts[1], sizes[1]), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(evatok_decode_packet(m, pkts[i], sizes[i], ra, a, 16, EVATOK_PIX_RGB24, &got, err, sizeof err),
                         EVATOK_OK);
        memset(db, 0, frame * 16);
        progressive(m, pkts[i], sizes[i], rb, b, frames[i]);
        assert_memory_equal(da, db, frame * (size_t)frames[i]);
    }
    /* out of order: nothing begun, another model, after a reset */
    evatok_reference_reset(rb);
    assert_int_equal(evatok_decode_next(m, rb, &ready, err, sizeof err), EVATOK_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "evatok_decode_begin"));
    assert_int_equal(evatok_decode_begin(m, pkts[0], sizes[0], rb, b, 16, EVATOK_PIX_RGB24, &n, err, sizeof err),
                     EVATOK_OK);
    assert_int_equal(evatok_decode_next(other, rb, &ready, err, sizeof err), EVATOK_ERR_INVALID_ARGUMENT);
    assert_int_equal(evatok_decode_next(m, rb, &ready, err, sizeof err), EVATOK_OK);
    evatok_reference_reset(rb); /* abandons the packet */
    assert_int_equal(evatok_decode_next(m, rb, &ready, err, sizeof err), EVATOK_ERR_INVALID_ARGUMENT);
    /* an inter packet without its reference; a NULL reference */
    assert_int_equal(evatok_decode_begin(m, pkts[1], sizes[1], rb, b, 16, EVATOK_PIX_RGB24, &n, err, sizeof err),
                     EVATOK_ERR_NO_REFERENCE);
    assert_int_equal(evatok_decode_begin(m, pkts[0], sizes[0], NULL, b, 16, EVATOK_PIX_RGB24, &n, err, sizeof err),
                     EVATOK_ERR_INVALID_ARGUMENT);
    /* a begun packet, then another begin: the first is abandoned; freeing
     * a reference with a packet pending is fine */
    assert_int_equal(evatok_decode_begin(m, pkts[0], sizes[0], rb, b, 16, EVATOK_PIX_RGB24, &n, err, sizeof err),
                     EVATOK_OK);
    progressive(m, pkts[0], sizes[0], rb, b, 16);
    assert_int_equal(evatok_decode_begin(m, pkts[0], sizes[0], rb, b, 16, EVATOK_PIX_RGB24, &n, err, sizeof err),
                     EVATOK_OK);
    for (int i = 0; i < 3; i++)
        evatok_free(pkts[i]);
    evatok_reference_free(&enc);
    evatok_reference_free(&ra);
    evatok_reference_free(&rb);
    free(pix);
    free(da);
    free(db);
    evatok_model_close(&m);
    evatok_model_close(&other);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: test_api MODEL OTHER_MODEL TMPDIR\n");
        return 2;
    }
    model_path = argv[1];
    other_path = argv[2];
    snprintf(tmpdir, sizeof tmpdir, "%s", argv[3]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_version),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_round_trip_and_bad_packets),
        cmocka_unit_test(test_extradata_mismatch),
        cmocka_unit_test(test_bitstream_versions),
        cmocka_unit_test(test_packet_tokens),
        cmocka_unit_test(test_inter_packets),
        cmocka_unit_test(test_progressive_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
