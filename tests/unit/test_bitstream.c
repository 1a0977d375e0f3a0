/* Unit tests for the packet and extradata format (model_runtime/bitstream/),
 * versions 1 to 3 (3's inter packets), and version 2's range coder and token
 * model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bitstream/bitstream.h"
#include "bitstream/range_coder.h"
#include "bitstream/token_model.h"

static EvbsParams small_params(void)
{
    EvbsParams p = {.clip_frames = 16, .tile_h = 64, .tile_w = 64, .num_blocks = 4, .num_choices = 5,
                    .choices = {128, 64, 32, 16, 8}, .codebook_size = 4096};
    return p;
}

/* 200x150 frame -> 4x3 tiles, random assignment and tokens, in the version
 * that test_version says. */
static int test_version = 1;
static uint8_t *make_packet(const EvbsParams *p, EvbsHeader *h, uint8_t *ci, uint32_t **tokens, long *size)
{
    assert_int_equal(evbs_header_init(p, 200, 150, 5, h), EVBS_OK);
    assert_int_equal(h->version, EVBS_VERSION);
    h->version = test_version;
    long n = (long)h->tiles_x * h->tiles_y * h->num_blocks;
    for (long i = 0; i < n; i++)
        ci[i] = (uint8_t)((i * 7 + 3) % p->num_choices);
    long total = evbs_total_tokens(p, h, ci);
    *tokens = malloc(sizeof(uint32_t) * (size_t)total);
    for (long i = 0; i < total; i++)
        (*tokens)[i] = (uint32_t)((i * 2654435761u) % (uint32_t)p->codebook_size);
    *size = evbs_coded_packet_size(p, h, ci, *tokens);
    assert_true(*size > 0);
    if (test_version == 1)
        assert_int_equal(*size, evbs_packet_size(p, h, ci));
    uint8_t *buf = malloc((size_t)*size);
    assert_int_equal(evbs_write_packet(p, h, ci, *tokens, buf, (size_t)*size), *size);
    return buf;
}

/* Rewrites the last 4 bytes as the CRC of the rest: a damaged field then
 * has to be caught by the field checks, not the checksum. */
static void reseal(uint8_t *buf, long size)
{
    uint32_t crc = evbs_crc32(buf, (size_t)size - 4);
    for (int i = 0; i < 4; i++)
        buf[size - 4 + i] = (uint8_t)(crc >> (24 - 8 * i));
}

/* Every truncation of a valid packet and every single-bit flip in it is
 * refused (checksum or field checks). */
static void assert_damage_refused(const EvbsParams *p, uint8_t *buf, long size)
{
    EvbsHeader h;
    char err[160];
    for (long n = 0; n < size; n++)
        assert_int_not_equal(evbs_parse_header(p, buf, (size_t)n, &h, err, sizeof err), EVBS_OK);
    for (long i = 0; i < size; i++)
        for (int b = 0; b < 8; b++) {
            buf[i] ^= (uint8_t)(1 << b);
            assert_int_not_equal(evbs_parse_header(p, buf, (size_t)size, &h, err, sizeof err), EVBS_OK);
            buf[i] ^= (uint8_t)(1 << b);
        }
}

static void test_round_trip(void **state)
{
    (void)state;
    EvbsParams p = small_params();
    EvbsHeader h, h2;
    uint8_t ci[64], ci2[64];
    uint32_t *tokens;
    long size;
    uint8_t *buf = make_packet(&p, &h, ci, &tokens, &size);
    assert_int_equal(h.tiles_x, 4);
    assert_int_equal(h.tiles_y, 3);
    char err[128];
    assert_int_equal(evbs_parse_header(&p, buf, (size_t)size, &h2, err, sizeof err), EVBS_OK);
    assert_int_equal(h2.width, 200);
    assert_int_equal(h2.height, 150);
    assert_int_equal(h2.nb_frames, 5);
    assert_int_equal(h2.version, test_version);
    assert_int_equal(h2.tiles_x, 4);
    long total = evbs_total_tokens(&p, &h, ci);
    uint32_t *t2 = calloc((size_t)total, sizeof(uint32_t));
    assert_int_equal(evbs_read_payload(&p, &h2, buf, (size_t)size, ci2, t2, total, err, sizeof err), EVBS_OK);
    assert_memory_equal(ci, ci2, 48);
    assert_memory_equal(tokens, t2, sizeof(uint32_t) * (size_t)total);
    free(t2);
    free(tokens);
    free(buf);
}

static void test_rejects_damage(void **state)
{
    (void)state;
    EvbsParams p = small_params();
    EvbsHeader h, h2;
    uint8_t ci[64];
    uint32_t *tokens;
    long size;
    uint8_t *buf = make_packet(&p, &h, ci, &tokens, &size);
    char err[128];
    assert_damage_refused(&p, buf, size);
    /* Oversized: trailing bytes. */
    uint8_t *big = calloc((size_t)size + 100, 1);
    memcpy(big, buf, (size_t)size);
    assert_int_not_equal(evbs_parse_header(&p, big, (size_t)size + 100, &h2, err, sizeof err), EVBS_OK);
    if (test_version == 1) {
        assert_non_null(strstr(err, "bytes"));
        /* A packet from a model with another codebook is refused before any read. */
        EvbsParams other = p;
        other.codebook_size = 1024;
        assert_int_not_equal(evbs_parse_header(&other, buf, (size_t)size, &h2, err, sizeof err), EVBS_OK);
        assert_non_null(strstr(err, "bits per token"));
    }
    free(big);
    free(tokens);
    free(buf);
}

static void test_field_bounds(void **state)
{
    (void)state;
    EvbsParams p = small_params();
    EvbsHeader h;
    assert_int_not_equal(evbs_header_init(&p, 0, 10, 1, &h), EVBS_OK);
    assert_int_not_equal(evbs_header_init(&p, 10, EVBS_MAX_DIM + 1, 1, &h), EVBS_OK);
    assert_int_not_equal(evbs_header_init(&p, 10, 10, 0, &h), EVBS_OK);
    assert_int_not_equal(evbs_header_init(&p, 10, 10, 17, &h), EVBS_OK);
    assert_int_equal(evbs_header_init(&p, 1, 1, 16, &h), EVBS_OK);
    h.version = 1;
    uint8_t ci[4] = {0, 1, 2, 9}; /* 9 is not a choice */
    assert_true(evbs_total_tokens(&p, &h, ci) < 0);
    uint32_t tok[1024] = {0};
    uint8_t ok_ci[4] = {4, 4, 4, 4};
    tok[3] = 4096; /* outside the codebook */
    uint8_t out[256];
    assert_true(evbs_write_packet(&p, &h, ok_ci, tok, out, sizeof out) < 0);
    tok[3] = 5;
    assert_int_equal(evbs_write_packet(&p, &h, ok_ci, tok, out, 8), EVBS_ESPACE);
    assert_true(evbs_write_packet(&p, &h, ok_ci, tok, out, sizeof out) > 0);
    assert_int_equal(evbs_bits_per_token(4096), 12);
    assert_int_equal(evbs_bits_per_token(4097), 13);
    assert_int_equal(evbs_bits_per_token(2), 1);
}

static void test_extradata(void **state)
{
    (void)state;
    EvbsStreamInfo s = {.version = test_version, .params = small_params(), .fps_num = 30000, .fps_den = 1001};
    for (int i = 0; i < EVBS_FINGERPRINT_SIZE; i++) {
        s.fingerprint[i] = (uint8_t)(i * 17);
        if (test_version >= 2)
            s.entropy_fingerprint[i] = (uint8_t)(i * 5 + 1);
    }
    uint8_t buf[128];
    long n = evbs_write_extradata(&s, buf, sizeof buf);
    assert_int_equal(n, evbs_extradata_size(&s.params, test_version));
    EvbsStreamInfo r;
    char err[128];
    assert_int_equal(evbs_parse_extradata(buf, (size_t)n, &r, err, sizeof err), EVBS_OK);
    assert_memory_equal(r.fingerprint, s.fingerprint, EVBS_FINGERPRINT_SIZE);
    assert_memory_equal(r.entropy_fingerprint, s.entropy_fingerprint, EVBS_FINGERPRINT_SIZE);
    assert_int_equal(r.version, test_version);
    assert_memory_equal(&r.params, &s.params, sizeof s.params);
    assert_int_equal(r.fps_num, 30000);
    assert_int_equal(r.fps_den, 1001);
    for (long i = 0; i < n; i++) { /* every corrupted byte is rejected */
        buf[i] ^= 0x5a;
        assert_int_not_equal(evbs_parse_extradata(buf, (size_t)n, &r, err, sizeof err), EVBS_OK);
        buf[i] ^= 0x5a;
    }
    for (long k = 0; k < n; k++)
        assert_int_not_equal(evbs_parse_extradata(buf, (size_t)k, &r, err, sizeof err), EVBS_OK);
    assert_int_not_equal(evbs_parse_extradata((const uint8_t *)"garbage garbage garbage garbage garbage", 39, &r, err,
                                              sizeof err), EVBS_OK);
    assert_non_null(strstr(err, "not an evatok"));
    /* a non-zero reserved byte is refused even with a valid checksum */
    buf[5] = 1;
    reseal(buf, n);
    assert_int_not_equal(evbs_parse_extradata(buf, (size_t)n, &r, err, sizeof err), EVBS_OK);
    assert_non_null(strstr(err, "reserved"));
}

static int setup_v1(void **state) { (void)state; test_version = 1; return 0; }
static int setup_v2(void **state) { (void)state; test_version = 2; return 0; }
static int setup_v3(void **state) { (void)state; test_version = 3; return 0; }

/* Version 3 inter packets: 200x150 = 12 tiles, tiles 0, 5, 9 and 11 coded;
 * the skip map, the coded tiles' payload and every damage check. */
static void test_v3_inter(void **state)
{
    (void)state;
    EvbsParams p = small_params();
    EvbsHeader h, h2;
    char err[160];
    assert_int_equal(evbs_header_init(&p, 200, 150, 16, &h), EVBS_OK);
    h.version = 3;
    const uint8_t map[2] = {0x7B, 0xA0}; /* 0111 1011 1010: tiles 0, 5, 9, 11 coded */
    assert_int_equal(evbs_set_inter(&h, map, NULL), EVBS_OK);
    assert_int_equal(h.skipped, 8);
    assert_int_equal(evbs_num_entries(&h), 16);
    assert_true(evbs_tile_skipped(&h, 1) && !evbs_tile_skipped(&h, 0) && !evbs_tile_skipped(&h, 11));
    uint8_t ci[16];
    for (int i = 0; i < 16; i++)
        ci[i] = (uint8_t)(i % 5);
    long total = evbs_total_tokens(&p, &h, ci);
    uint32_t *tok = malloc(sizeof(uint32_t) * (size_t)total), *t2 = calloc((size_t)total, sizeof(uint32_t));
    for (long i = 0; i < total; i++)
        tok[i] = (uint32_t)((i * 40503u) % 4096u);
    long size = evbs_coded_packet_size(&p, &h, ci, tok);
    assert_true(size > 0);
    uint8_t *buf = malloc((size_t)size);
    assert_int_equal(evbs_write_packet(&p, &h, ci, tok, buf, (size_t)size), size);
    assert_int_equal(buf[7], EVBS_FLAG_INTER);
    assert_int_equal(evbs_packet_is_keyframe(buf, (size_t)size), 0);
    assert_int_equal(evbs_parse_header(&p, buf, (size_t)size, &h2, err, sizeof err), EVBS_OK);
    assert_int_equal(h2.skipped, 8);
    uint8_t ci2[16];
    assert_int_equal(evbs_read_payload(&p, &h2, buf, (size_t)size, ci2, t2, total, err, sizeof err), EVBS_OK);
    assert_memory_equal(ci, ci2, 16);
    assert_memory_equal(tok, t2, sizeof(uint32_t) * (size_t)total);
    assert_damage_refused(&p, buf, size);
    /* Fields that a valid checksum does not excuse. */
    uint8_t *bad = malloc((size_t)size);
    struct { int at; uint8_t value; const char *msg; } cases[] = {
        {7, 0x09, "version 3 defines"},   /* an unknown flag */
        {7, 0x02, "version 3 defines"},   /* carry without the inter flag */
        {9, 0xA8, "past its"},            /* a map bit for tile 12 of 12 */
        {1, 2, "version 2 defines none"}, /* the inter flag in a version-2 packet */
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        memcpy(bad, buf, (size_t)size);
        bad[cases[k].at] = cases[k].value;
        reseal(bad, size);
        assert_int_not_equal(evbs_parse_header(&p, bad, (size_t)size, &h2, err, sizeof err), EVBS_OK);
        assert_non_null(strstr(err, cases[k].msg));
    }
    free(bad);
    free(buf);
    /* Every tile skipped: no payload at all. */
    const uint8_t all[2] = {0xFF, 0xF0};
    assert_int_equal(evbs_header_init(&p, 200, 150, 16, &h), EVBS_OK);
    h.version = 3;
    assert_int_equal(evbs_set_inter(&h, all, NULL), EVBS_OK);
    assert_int_equal(evbs_num_entries(&h), 0);
    uint8_t small[32];
    size = evbs_write_packet(&p, &h, ci, tok, small, sizeof small);
    assert_int_equal(size, 8 + 2 + 4);
    assert_int_equal(evbs_parse_header(&p, small, (size_t)size, &h2, err, sizeof err), EVBS_OK);
    assert_int_equal(h2.skipped, 12);
    /* Carry: tiles 0 and 11 carry, tiles 1..8 are skipped; the carry map
     * follows the skip map, and no tile may be in both. */
    const uint8_t carry[2] = {0x80, 0x10}, clash[2] = {0xC0, 0x10};
    assert_int_equal(evbs_header_init(&p, 200, 150, 16, &h), EVBS_OK);
    h.version = 3;
    assert_int_equal(evbs_set_inter(&h, map, carry), EVBS_OK);
    assert_int_equal(h.flags, EVBS_FLAG_INTER | EVBS_FLAG_CARRY);
    assert_int_equal(h.carried, 2);
    assert_int_equal(evbs_num_entries(&h), 16); /* carrying tiles are coded */
    size = evbs_coded_packet_size(&p, &h, ci, tok);
    uint8_t *cbuf = malloc((size_t)size);
    assert_int_equal(evbs_write_packet(&p, &h, ci, tok, cbuf, (size_t)size), size);
    assert_int_equal(evbs_parse_header(&p, cbuf, (size_t)size, &h2, err, sizeof err), EVBS_OK);
    assert_true(evbs_tile_carried(&h2, 0) && evbs_tile_carried(&h2, 11) && !evbs_tile_carried(&h2, 5));
    assert_true(evbs_tile_skipped(&h2, 1) && !evbs_tile_skipped(&h2, 0));
    assert_int_equal(evbs_read_payload(&p, &h2, cbuf, (size_t)size, ci2, t2, total, err, sizeof err), EVBS_OK);
    assert_memory_equal(tok, t2, sizeof(uint32_t) * (size_t)total);
    cbuf[10] = clash[0]; /* tile 1 skipped and carrying, CRC redone */
    reseal(cbuf, size);
    assert_int_not_equal(evbs_parse_header(&p, cbuf, (size_t)size, &h2, err, sizeof err), EVBS_OK);
    assert_non_null(strstr(err, "both skipped and carrying"));
    free(cbuf);
    assert_int_equal(evbs_header_init(&p, 200, 150, 16, &h), EVBS_OK);
    h.version = 3;
    assert_int_not_equal(evbs_set_inter(&h, map, clash), EVBS_OK);
    /* Motion: skipped tiles 2 and 7 show the last frame moved; the move map
     * follows the skip map, then four signed bytes per moved tile. */
    const uint8_t move[2] = {0x21, 0x00}, move_coded[2] = {0x80, 0x00}, no_move[2] = {0, 0};
    const int8_t motion[8] = {3, -5, -128, 127, 0, 1, -1, 64};
    assert_int_equal(evbs_header_init(&p, 200, 150, 16, &h), EVBS_OK);
    h.version = 3;
    assert_int_equal(evbs_set_inter(&h, map, NULL), EVBS_OK);
    assert_int_not_equal(evbs_set_motion(&h, move_coded, motion), EVBS_OK); /* tile 0 is coded */
    assert_int_equal(h.flags, EVBS_FLAG_INTER);
    assert_int_not_equal(evbs_set_motion(&h, no_move, motion), EVBS_OK);
    assert_int_equal(evbs_set_motion(&h, move, motion), EVBS_OK);
    assert_int_equal(h.flags, EVBS_FLAG_INTER | EVBS_FLAG_MOVE);
    assert_int_equal(h.moved, 2);
    assert_int_equal(evbs_num_entries(&h), 16);
    size = evbs_coded_packet_size(&p, &h, ci, tok);
    uint8_t *mbuf = malloc((size_t)size);
    assert_int_equal(evbs_write_packet(&p, &h, ci, tok, mbuf, (size_t)size), size);
    assert_memory_equal(mbuf + 10, move, 2);
    assert_memory_equal(mbuf + 12, motion, 8);
    assert_int_equal(evbs_parse_header(&p, mbuf, (size_t)size, &h2, err, sizeof err), EVBS_OK);
    assert_int_equal(h2.moved, 2);
    assert_true(evbs_tile_moved(&h2, 2) && evbs_tile_moved(&h2, 7) && !evbs_tile_moved(&h2, 1));
    assert_memory_equal(h2.motion, motion, 8);
    assert_int_equal(evbs_read_payload(&p, &h2, mbuf, (size_t)size, ci2, t2, total, err, sizeof err), EVBS_OK);
    assert_memory_equal(tok, t2, sizeof(uint32_t) * (size_t)total);
    assert_damage_refused(&p, mbuf, size);
    uint8_t *mbad = malloc((size_t)size);
    memcpy(mbad, mbuf, (size_t)size);
    mbad[10] = 0xA1; /* tile 0, coded, marked moved */
    reseal(mbad, size);
    assert_int_not_equal(evbs_parse_header(&p, mbad, (size_t)size, &h2, err, sizeof err), EVBS_OK);
    assert_non_null(strstr(err, "moved but not skipped"));
    memcpy(mbad, mbuf, (size_t)size);
    mbad[10] = 0; /* a move flag that moves nothing */
    reseal(mbad, size);
    assert_int_not_equal(evbs_parse_header(&p, mbad, (size_t)size, &h2, err, sizeof err), EVBS_OK);
    assert_non_null(strstr(err, "moves no tile"));
    free(mbad);
    free(mbuf);
    /* Every tile skipped and one moved: maps and vectors, no payload; cut short, refused. */
    assert_int_equal(evbs_header_init(&p, 200, 150, 16, &h), EVBS_OK);
    h.version = 3;
    assert_int_equal(evbs_set_inter(&h, all, NULL), EVBS_OK);
    assert_int_equal(evbs_set_motion(&h, move_coded, motion), EVBS_OK);
    size = evbs_write_packet(&p, &h, ci, tok, small, sizeof small);
    assert_int_equal(size, 8 + 2 + 2 + 4 + 4);
    assert_int_equal(evbs_parse_header(&p, small, (size_t)size, &h2, err, sizeof err), EVBS_OK);
    assert_true(evbs_tile_moved(&h2, 0) && h2.motion[0] == 3 && h2.motion[1] == -5);
    uint8_t cut[16];
    memcpy(cut, small, 12);
    reseal(cut, 16); /* 12 bytes of header and maps + CRC: the motion is missing */
    assert_int_not_equal(evbs_parse_header(&p, cut, 16, &h2, err, sizeof err), EVBS_OK);
    assert_non_null(strstr(err, "truncated in its motion"));
    /* An inter packet must skip or carry something; writers cannot make one that does not. */
    const uint8_t none[2] = {0, 0};
    assert_int_equal(evbs_header_init(&p, 200, 150, 16, &h), EVBS_OK);
    h.version = 3;
    assert_int_not_equal(evbs_set_inter(&h, none, NULL), EVBS_OK);
    assert_int_equal(evbs_set_inter(&h, none, carry), EVBS_OK); /* carrying alone is an inter packet */
    assert_int_not_equal(evbs_set_inter(&h, none, none), EVBS_OK);
    h.flags = EVBS_FLAG_INTER; /* a header made by hand that refers to nothing */
    h.skip_map = none;
    h.carry_map = NULL;
    h.skipped = h.carried = 0;
    assert_true(evbs_write_packet(&p, &h, ci, tok, small, sizeof small) < 0);
    /* A keyframe's flags are 0; version 2 knows no flags. */
    assert_int_equal(evbs_header_init(&p, 200, 150, 16, &h), EVBS_OK);
    h.version = 2;
    h.flags = EVBS_FLAG_INTER;
    h.skip_map = all;
    assert_true(evbs_write_packet(&p, &h, ci, tok, small, sizeof small) < 0);
    assert_int_equal(evbs_packet_is_keyframe((const uint8_t *)"\xEA\x02", 2), EVBS_EINVAL); /* too short */
    free(tok);
    free(t2);
}

static uint32_t lcg(uint32_t *x)
{
    *x = *x * 1664525u + 1013904223u;
    return *x >> 8;
}

/* The coder alone: random intervals of random totals, up to the largest
 * total, round-trip; so does a run of near-certain symbols. */
static void test_range_coder(void **state)
{
    (void)state;
    enum { N = 20000 };
    static uint32_t start[N], freq[N], total[N];
    uint32_t x = 7;
    for (int i = 0; i < N; i++) {
        total[i] = i % 97 == 0 ? EVRC_MAX_TOTAL : 2 + lcg(&x) % (i % 3 ? 4096u : (1u << 24));
        if (i % 5 == 0) { /* near-certain symbol */
            start[i] = 0;
            freq[i] = total[i] - 1;
        } else {
            freq[i] = 1 + lcg(&x) % (total[i] / 8 + 1);
            start[i] = lcg(&x) % (total[i] - freq[i] + 1);
        }
    }
    static uint8_t buf[N * 8];
    EvrcEncoder e;
    evrc_enc_init(&e, buf, sizeof buf);
    for (int i = 0; i < N; i++)
        evrc_encode(&e, start[i], freq[i], total[i]);
    size_t n = evrc_enc_finish(&e);
    assert_false(e.overflow);
    EvrcEncoder count;
    evrc_enc_init(&count, NULL, 0);
    for (int i = 0; i < N; i++)
        evrc_encode(&count, start[i], freq[i], total[i]);
    assert_int_equal(evrc_enc_finish(&count), n);
    EvrcDecoder d;
    evrc_dec_init(&d, buf, n);
    for (int i = 0; i < N; i++) {
        uint32_t v = evrc_decode_target(&d, total[i]);
        assert_true(v >= start[i] && v < start[i] + freq[i]);
        evrc_decode_consume(&d, start[i], freq[i], total[i]);
    }
    assert_true(evrc_dec_consumed(&d) >= n && evrc_dec_consumed(&d) <= n + 7);
    /* a too-small buffer is reported, not overrun */
    uint8_t small[16];
    evrc_enc_init(&e, small, sizeof small);
    for (int i = 0; i < N; i++)
        evrc_encode(&e, start[i], freq[i], total[i]);
    assert_int_equal(evrc_enc_finish(&e), n);
    assert_true(e.overflow);
}

/* Skewed tables for small_params(): token s gets weight 1 + 4096/(s+1). */
typedef struct TestTables {
    uint32_t token_cum[20][4097];
    uint32_t count_w[20], prev_w[20], coloc_w[20];
    uint32_t assign_cum[25][6];
    EvbsEntropy e;
} TestTables;

static void make_tables(TestTables *t)
{
    memset(t, 0, sizeof *t);
    uint32_t w[4096], sum = 0;
    for (int s = 0; s < 4096; s++)
        sum += w[s] = 1 + 4096 / (s + 1);
    for (int r = 0; r < 20; r++) {
        uint32_t acc = 0;
        for (int s = 0; s < 4096; s++) {
            t->token_cum[r][s] = (uint32_t)((uint64_t)acc * (1u << 16) / sum) + (uint32_t)s; /* rising */
            acc += w[s];
        }
        t->token_cum[r][4096] = (1u << 16) + 4096;
        t->count_w[r] = 2000 + 100 * (uint32_t)r;
        t->prev_w[r] = r % 2 ? 5000 : 0;
        t->coloc_w[r] = 60000;
    }
    for (int r = 0; r < 25; r++)
        for (int i = 0; i <= 5; i++)
            t->assign_cum[r][i] = i == 5 ? EVTM_ASSIGN_TOTAL : (uint32_t)(i * (1000 + 50 * r));
    t->e = (EvbsEntropy){.num_blocks = 4, .num_choices = 5, .codebook_size = 4096, .base_total = (1u << 16) + 4096,
                         .token_cum = &t->token_cum[0][0], .count_w = t->count_w, .prev_w = t->prev_w,
                         .coloc_w = t->coloc_w, .assign_cum = &t->assign_cum[0][0]};
}

/* Version 2 with tables and with the built-in model: round trip, smaller
 * than version 1 on repetitive tokens, identical bytes when coded twice. */
static void test_v2_tables(void **state)
{
    (void)state;
    static TestTables t;
    make_tables(&t);
    EvbsParams p = small_params();
    char err[160];
    assert_int_equal(evtm_check(&p, &t.e, err, sizeof err), EVBS_OK);
    for (int with = 0; with < 2; with++) {
        p.entropy = with ? &t.e : NULL;
        EvbsHeader h, h2;
        assert_int_equal(evbs_header_init(&p, 200, 150, 16, &h), EVBS_OK);
        uint8_t ci[48], ci2[48];
        for (int i = 0; i < 48; i++)
            ci[i] = (uint8_t)(i % 4 == 0 ? 1 : 3);
        long total = evbs_total_tokens(&p, &h, ci);
        uint32_t *tok = malloc(sizeof *tok * (size_t)total), *tok2 = calloc((size_t)total, sizeof *tok2);
        uint32_t x = 3;
        for (long i = 0; i < total; i++) /* a few tokens, repeated: like a flat picture */
            tok[i] = i % 3 ? tok[i - 1] : lcg(&x) % 40;
        long size = evbs_coded_packet_size(&p, &h, ci, tok);
        uint8_t *buf = malloc((size_t)size), *again = malloc((size_t)size);
        assert_int_equal(evbs_write_packet(&p, &h, ci, tok, buf, (size_t)size), size);
        assert_int_equal(evbs_write_packet(&p, &h, ci, tok, again, (size_t)size), size);
        assert_memory_equal(buf, again, (size_t)size);
        assert_int_equal(evbs_write_packet(&p, &h, ci, tok, again, (size_t)size - 1), EVBS_ESPACE);
        EvbsHeader v1 = h;
        v1.version = 1;
        assert_true(size * 5 < evbs_packet_size(&p, &v1, ci) * 3);
        assert_int_equal(evbs_parse_header(&p, buf, (size_t)size, &h2, err, sizeof err), EVBS_OK);
        assert_int_equal(evbs_read_assignment(&p, &h2, buf, (size_t)size, ci2), EVBS_OK);
        assert_memory_equal(ci, ci2, 48);
        memset(ci2, 0, sizeof ci2);
        assert_int_equal(evbs_read_payload(&p, &h2, buf, (size_t)size, ci2, tok2, total, err, sizeof err), EVBS_OK);
        assert_memory_equal(ci, ci2, 48);
        assert_memory_equal(tok, tok2, sizeof *tok * (size_t)total);
        /* too small a token buffer is an error, not an overrun */
        assert_int_not_equal(evbs_read_payload(&p, &h2, buf, (size_t)size, ci2, tok2, total - 1, err, sizeof err),
                             EVBS_OK);
        /* tables other than the encoder's: the coded stream does not end at
         * the checksum, or (rarely) decodes to other tokens; never a crash */
        p.entropy = with ? NULL : &t.e;
        if (evbs_parse_header(&p, buf, (size_t)size, &h2, err, sizeof err) == EVBS_OK)
            assert_true(evbs_read_payload(&p, &h2, buf, (size_t)size, ci2, tok2, total, err, sizeof err) != EVBS_OK ||
                        memcmp(tok, tok2, sizeof *tok * (size_t)total) != 0 || memcmp(ci, ci2, 48) != 0);
        free(tok);
        free(tok2);
        free(buf);
        free(again);
    }
}

/* Hostile tables are refused with a reason. */
static void test_table_checks(void **state)
{
    (void)state;
    static TestTables t;
    EvbsParams p = small_params();
    char err[160];
    make_tables(&t);
    t.token_cum[3][100] = t.token_cum[3][99];
    assert_int_not_equal(evtm_check(&p, &t.e, err, sizeof err), EVBS_OK);
    assert_non_null(strstr(err, "row 3"));
    make_tables(&t);
    t.token_cum[0][4096] += 1;
    assert_int_not_equal(evtm_check(&p, &t.e, err, sizeof err), EVBS_OK);
    make_tables(&t);
    t.coloc_w[5] = EVTM_MAX_BOOST_W + 1;
    assert_int_not_equal(evtm_check(&p, &t.e, err, sizeof err), EVBS_OK);
    make_tables(&t);
    t.assign_cum[2][3] = t.assign_cum[2][2];
    assert_int_not_equal(evtm_check(&p, &t.e, err, sizeof err), EVBS_OK);
    make_tables(&t);
    t.e.codebook_size = 1024;
    assert_int_not_equal(evtm_check(&p, &t.e, err, sizeof err), EVBS_OK);
    assert_non_null(strstr(err, "codebook"));
}

/* Random payloads behind a valid header and checksum end with a clear
 * error or decode; the decoder stops soon after the data run out. */
static void test_v2_garbage(void **state)
{
    (void)state;
    EvbsParams p = small_params();
    uint8_t buf[300];
    uint32_t x = 11;
    int refused = 0;
    for (int k = 0; k < 2000; k++) {
        size_t size = 12 + lcg(&x) % 280;
        buf[0] = EVBS_PACKET_MAGIC;
        buf[1] = 2;
        buf[2] = 0, buf[3] = (uint8_t)(1 + lcg(&x) % 255);
        buf[4] = 0, buf[5] = (uint8_t)(1 + lcg(&x) % 255);
        buf[6] = 16;
        buf[7] = 0;
        for (size_t i = 8; i < size - 4; i++)
            buf[i] = (uint8_t)lcg(&x);
        reseal(buf, (long)size);
        EvbsHeader h;
        char err[160] = "";
        if (evbs_parse_header(&p, buf, size, &h, err, sizeof err) != EVBS_OK) {
            refused++;
            assert_true(strlen(err) > 0);
        }
    }
    assert_true(refused > 1900);
}

/* A few bytes claiming the largest frame are refused as truncated: the
 * parser stops once it has read past the data (hardening.md). */
static void test_v2_huge_claim(void **state)
{
    (void)state;
    EvbsParams p = small_params();
    uint8_t buf[19] = {EVBS_PACKET_MAGIC, 2, 0x40, 0x00, 0x40, 0x00, 16, 0};
    for (int i = 8; i < 15; i++)
        buf[i] = (uint8_t)(0x5a + 31 * i);
    reseal(buf, sizeof buf);
    EvbsHeader h;
    char err[160] = "";
    assert_int_not_equal(evbs_parse_header(&p, buf, sizeof buf, &h, err, sizeof err), EVBS_OK);
    assert_non_null(strstr(err, "truncated"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_round_trip, setup_v1),
        cmocka_unit_test_setup(test_rejects_damage, setup_v1),
        cmocka_unit_test_setup(test_extradata, setup_v1),
        cmocka_unit_test_setup(test_round_trip, setup_v2),
        cmocka_unit_test_setup(test_rejects_damage, setup_v2),
        cmocka_unit_test_setup(test_extradata, setup_v2),
        cmocka_unit_test_setup(test_round_trip, setup_v3),
        cmocka_unit_test_setup(test_rejects_damage, setup_v3),
        cmocka_unit_test_setup(test_extradata, setup_v3),
        cmocka_unit_test(test_v3_inter),
        cmocka_unit_test(test_field_bounds),
        cmocka_unit_test(test_range_coder),
        cmocka_unit_test(test_v2_tables),
        cmocka_unit_test(test_table_checks),
        cmocka_unit_test(test_v2_garbage),
        cmocka_unit_test(test_v2_huge_claim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
