/* Fuzz target for the packet (versions 1 and 2) and extradata parsers.
 * With clang: clang -g -fsanitize=fuzzer,address -DEVATOK_LIBFUZZER
 *   -Imodel_runtime tests/fuzz/fuzz_bitstream.c model_runtime/bitstream/{bitstream,range_coder,token_model}.c
 * Without (the meson test): a deterministic driver feeds random bytes and
 * random mutations of valid packets; any accepted packet must read back in
 * bounds. Every input is also tried with its checksum made valid, so that
 * hostile range-coder payloads reach the version-2 decoder. Run it under
 * valgrind or -fsanitize=address for memory checks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitstream/bitstream.h"

static const EvbsParams params = {.clip_frames = 16, .tile_h = 64, .tile_w = 64, .num_blocks = 4,
                                  .num_choices = 5, .choices = {128, 64, 32, 16, 8}, .codebook_size = 4096};

static int parse_one(const uint8_t *data, size_t size)
{
    EvbsHeader h;
    int accepted = 0;
    char err[256];
    if (evbs_parse_header(&params, data, size, &h, err, sizeof err) == EVBS_OK) {
        long n = evbs_num_entries(&h); /* coded tiles only in an inter packet */
        long max_tokens = n * params.choices[0];
        uint8_t *ci = malloc((size_t)n + 1);
        uint32_t *tok = malloc(sizeof(uint32_t) * (size_t)max_tokens + 1);
        if (ci && tok && evbs_read_payload(&params, &h, data, size, ci, tok, max_tokens, err, sizeof err) == EVBS_OK) {
            for (long i = 0; i < n; i++)
                if (ci[i] >= params.num_choices)
                    abort();
            long total = evbs_total_tokens(&params, &h, ci);
            for (long i = 0; i < total; i++)
                if (tok[i] >= (uint32_t)params.codebook_size)
                    abort();
            /* what was accepted re-encodes, and that decodes to the same
             * tokens (the bytes may differ: padding, the coder's last bytes) */
            long n2 = evbs_coded_packet_size(&params, &h, ci, tok);
            uint8_t *again = n2 > 0 ? malloc((size_t)n2) : NULL, *ci2 = malloc((size_t)n + 1);
            uint32_t *tok2 = malloc(sizeof(uint32_t) * (size_t)max_tokens + 1);
            EvbsHeader h2;
            if (!again || !ci2 || !tok2 || evbs_write_packet(&params, &h, ci, tok, again, (size_t)n2) != n2 ||
                evbs_parse_header(&params, again, (size_t)n2, &h2, err, sizeof err) != EVBS_OK ||
                evbs_read_payload(&params, &h2, again, (size_t)n2, ci2, tok2, max_tokens, err, sizeof err) != EVBS_OK ||
                memcmp(ci, ci2, (size_t)n) || memcmp(tok, tok2, sizeof(uint32_t) * (size_t)total))
                abort();
            free(again);
            free(ci2);
            free(tok2);
        }
        free(ci);
        free(tok);
        accepted = 1;
    }
    EvbsStreamInfo s;
    if (evbs_parse_extradata(data, size, &s, err, sizeof err) == EVBS_OK && s.params.num_choices > EVBS_MAX_CHOICES)
        abort();
    return accepted;
}

/* The input as is, and with a valid packet checksum. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    parse_one(data, size);
    if (size >= 4) {
        uint8_t *fixed = malloc(size);
        if (!fixed)
            return 0;
        memcpy(fixed, data, size);
        uint32_t crc = evbs_crc32(fixed, size - 4);
        for (int i = 0; i < 4; i++)
            fixed[size - 4 + i] = (uint8_t)(crc >> (24 - 8 * i));
        parse_one(fixed, size);
        free(fixed);
    }
    return 0;
}

#ifndef EVATOK_LIBFUZZER
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t next(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)rng;
}

static void write_file(const char *dir, const char *name, const uint8_t *data, size_t size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

/* fuzz_bitstream [ITERATIONS] | fuzz_bitstream --write-seed DIR (the valid
 * v1 and v2 packets, a v3 inter packet with a moved tile and a v2 stream header:
 * tests/fuzz/corpus/bitstream) */
int main(int argc, char **argv)
{
    const char *seed_dir = argc > 2 && !strcmp(argv[1], "--write-seed") ? argv[2] : NULL;
    const int iterations = seed_dir ? 0 : argc > 1 ? atoi(argv[1]) : 200000;
    if (seed_dir) {
        EvbsStreamInfo s;
        memset(&s, 0, sizeof s);
        s.version = 2, s.params = params, s.fps_num = 25, s.fps_den = 1;
        for (int i = 0; i < EVBS_FINGERPRINT_SIZE; i++)
            s.fingerprint[i] = (uint8_t)(17 * i + 3);
        uint8_t ed[256];
        long n = evbs_write_extradata(&s, ed, sizeof ed);
        if (n <= 0)
            return 1;
        write_file(seed_dir, "extradata-v2.bin", ed, (size_t)n);
    }
    long accepted = 0, fixed_accepted = 0;
    int ok = 1;
    for (int version = 1; version <= 3; version++) {
    EvbsHeader h;
    evbs_header_init(&params, 130, 70, 16, &h); /* 3x2 tiles */
    h.version = version;
    /* v3: an inter packet, tiles 1 and 4 skipped, tile 4 moved */
    static const uint8_t skip[1] = {0x48}, move[1] = {0x08};
    static const int8_t motion[EVBS_MOTION_BYTES] = {-6, 0, -12, 1};
    if (version == 3 && (evbs_set_inter(&h, skip, NULL) != EVBS_OK || evbs_set_motion(&h, move, motion) != EVBS_OK))
        return 1;
    uint8_t ci[24];
    for (int i = 0; i < 24; i++)
        ci[i] = (uint8_t)(i % 5);
    long total = evbs_total_tokens(&params, &h, ci);
    uint32_t *tok = calloc((size_t)total, sizeof(uint32_t));
    for (long i = 0; i < total; i++) /* some runs of repeats, as real tokens have */
        tok[i] = i % 4 && next() % 2 ? tok[i - 1] : next() % 4096;
    long size = evbs_coded_packet_size(&params, &h, ci, tok);
    uint8_t *valid = malloc((size_t)size), *buf = malloc((size_t)size + 64);
    if (evbs_write_packet(&params, &h, ci, tok, valid, (size_t)size) != size)
        return 1;
    if (seed_dir)
        write_file(seed_dir, version == 1 ? "packet-v1.bin" : version == 2 ? "packet-v2.bin" : "packet-v3-inter.bin",
                   valid, (size_t)size);
    for (int it = 0; it < iterations / 3; it++) {
        size_t n;
        if (it % 4 == 0) { /* pure noise of random length */
            n = next() % (size_t)(size + 64);
            for (size_t i = 0; i < n; i++)
                buf[i] = (uint8_t)next();
        } else {           /* a valid packet with a few mutations and a random cut */
            memcpy(buf, valid, (size_t)size);
            n = (size_t)size;
            for (int k = 0, m = 1 + (int)(next() % 4); k < m; k++)
                buf[next() % (uint32_t)size] ^= (uint8_t)(1 + next() % 255);
            if (next() % 3 == 0)
                n = next() % (size_t)(size + 1);
        }
        accepted += parse_one(buf, n);
        if (n >= 4) {
            uint32_t crc = evbs_crc32(buf, n - 4);
            for (int i = 0; i < 4; i++)
                buf[n - 4 + i] = (uint8_t)(crc >> (24 - 8 * i));
            fixed_accepted += parse_one(buf, n);
        }
    }
    /* the valid packet itself must still be accepted */
    LLVMFuzzerTestOneInput(valid, (size_t)size);
    ok = ok && parse_one(valid, (size_t)size);
    free(tok);
    free(valid);
    free(buf);
    }
    printf("%d inputs, %ld accepted (mutations that pass the checksum are expected to be ~0), "
           "%ld accepted with the checksum made valid\n", iterations, accepted, fixed_accepted);
    return ok && accepted <= iterations / 1000 ? 0 : 1;
}
#endif
