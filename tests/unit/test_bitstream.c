/* Unit tests for the packet and extradata format (model_runtime/bitstream/bitstream.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bitstream/bitstream.h"

static EvbsParams small_params(void)
{
    EvbsParams p = {.clip_frames = 16, .tile_h = 64, .tile_w = 64, .num_blocks = 4, .num_choices = 5,
                    .choices = {128, 64, 32, 16, 8}, .codebook_size = 4096};
    return p;
}

/* 200x150 frame -> 4x3 tiles, random assignment and tokens. */
static uint8_t *make_packet(const EvbsParams *p, EvbsHeader *h, uint8_t *ci, uint32_t **tokens, long *size)
{
    assert_int_equal(evbs_header_init(p, 200, 150, 5, h), EVBS_OK);
    long n = (long)h->tiles_x * h->tiles_y * h->num_blocks;
    for (long i = 0; i < n; i++)
        ci[i] = (uint8_t)((i * 7 + 3) % p->num_choices);
    long total = evbs_total_tokens(p, h, ci);
    *tokens = malloc(sizeof(uint32_t) * (size_t)total);
    for (long i = 0; i < total; i++)
        (*tokens)[i] = (uint32_t)((i * 2654435761u) % (uint32_t)p->codebook_size);
    *size = evbs_packet_size(p, h, ci);
    uint8_t *buf = malloc((size_t)*size);
    assert_int_equal(evbs_write_packet(p, h, ci, *tokens, buf, (size_t)*size), *size);
    return buf;
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
    assert_int_equal(h.bits_per_token, 12);
    char err[128];
    assert_int_equal(evbs_parse_header(&p, buf, (size_t)size, &h2, err, sizeof err), EVBS_OK);
    assert_int_equal(h2.width, 200);
    assert_int_equal(h2.height, 150);
    assert_int_equal(h2.nb_frames, 5);
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
    /* Every truncation fails cleanly. */
    for (long n = 0; n < size; n++)
        assert_int_not_equal(evbs_parse_header(&p, buf, (size_t)n, &h2, err, sizeof err), EVBS_OK);
    /* Every single-bit flip is caught (checksum or field checks). */
    for (long i = 0; i < size; i++)
        for (int b = 0; b < 8; b++) {
            buf[i] ^= (uint8_t)(1 << b);
            assert_int_not_equal(evbs_parse_header(&p, buf, (size_t)size, &h2, err, sizeof err), EVBS_OK);
            buf[i] ^= (uint8_t)(1 << b);
        }
    /* Oversized: trailing bytes. */
    uint8_t *big = calloc((size_t)size + 100, 1);
    memcpy(big, buf, (size_t)size);
    assert_int_not_equal(evbs_parse_header(&p, big, (size_t)size + 100, &h2, err, sizeof err), EVBS_OK);
    assert_non_null(strstr(err, "bytes"));
    /* A packet from a model with another codebook is refused before any read. */
    EvbsParams other = p;
    other.codebook_size = 1024;
    assert_int_not_equal(evbs_parse_header(&other, buf, (size_t)size, &h2, err, sizeof err), EVBS_OK);
    assert_non_null(strstr(err, "bits per token"));
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
    EvbsStreamInfo s = {.version = 1, .params = small_params(), .fps_num = 30000, .fps_den = 1001};
    for (int i = 0; i < EVBS_FINGERPRINT_SIZE; i++)
        s.fingerprint[i] = (uint8_t)(i * 17);
    uint8_t buf[128];
    long n = evbs_write_extradata(&s, buf, sizeof buf);
    assert_int_equal(n, evbs_extradata_size(&s.params));
    EvbsStreamInfo r;
    char err[128];
    assert_int_equal(evbs_parse_extradata(buf, (size_t)n, &r, err, sizeof err), EVBS_OK);
    assert_memory_equal(r.fingerprint, s.fingerprint, EVBS_FINGERPRINT_SIZE);
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
    uint32_t crc = evbs_crc32(buf, (size_t)n - 4);
    for (int i = 0; i < 4; i++)
        buf[n - 4 + i] = (uint8_t)(crc >> (24 - 8 * i));
    assert_int_not_equal(evbs_parse_extradata(buf, (size_t)n, &r, err, sizeof err), EVBS_OK);
    assert_non_null(strstr(err, "reserved"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_rejects_damage),
        cmocka_unit_test(test_field_bounds),
        cmocka_unit_test(test_extradata),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
