/* Prints version-2 packets of fixed assignments and tokens as hex, one per
 * line, with skewed tables and with the built-in model. same_bytes.sh builds
 * it with other optimisation levels and compilers and compares the output:
 * the coder is integer-only, so the bytes must not change. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitstream/bitstream.h"
#include "bitstream/token_model.h"

static uint32_t lcg(uint32_t *x)
{
    *x = *x * 1664525u + 1013904223u;
    return *x >> 8;
}

static uint32_t token_cum[20][4097], weights[3][20], assign_tab[25][6];

int main(void)
{
    EvbsParams p = {.clip_frames = 16, .tile_h = 64, .tile_w = 64, .num_blocks = 4, .num_choices = 5,
                    .choices = {128, 64, 32, 16, 8}, .codebook_size = 4096};
    uint32_t x = 5;
    for (int r = 0; r < 20; r++) {
        uint32_t acc = 0;
        for (int s = 0; s <= 4096; s++) {
            token_cum[r][s] = acc;
            acc += 1 + (s < 512 ? lcg(&x) % 200 : lcg(&x) % 20);
        }
        token_cum[r][4096] = 1u << 18; /* last symbol takes the rest */
        weights[0][r] = 5000 + 300 * (uint32_t)r;
        weights[1][r] = r % 3 ? 20000 : 0;
        weights[2][r] = 100000 + 7000 * (uint32_t)r;
    }
    for (int r = 0; r < 25; r++)
        for (int i = 0; i <= 5; i++)
            assign_tab[r][i] = i == 5 ? (1u << 16) : (uint32_t)(i * (3000 + 500 * r));
    EvbsEntropy e = {.num_blocks = 4, .num_choices = 5, .codebook_size = 4096, .base_total = 1u << 18,
                     .token_cum = &token_cum[0][0], .count_w = weights[0], .prev_w = weights[1],
                     .coloc_w = weights[2], .assign_cum = &assign_tab[0][0]};
    char err[200];
    if (evtm_check(&p, &e, err, sizeof err)) {
        fprintf(stderr, "tables: %s\n", err);
        return 1;
    }
    for (int k = 0; k < 40; k++) {
        p.entropy = k % 2 ? &e : NULL;
        EvbsHeader h;
        int w = 1 + (int)(lcg(&x) % 300), hh = 1 + (int)(lcg(&x) % 200);
        if (evbs_header_init(&p, w, hh, 1 + (int)(lcg(&x) % 16), &h))
            return 1;
        long n = (long)h.tiles_x * h.tiles_y * h.num_blocks;
        uint8_t *ci = malloc((size_t)n);
        for (long i = 0; i < n; i++)
            ci[i] = (uint8_t)(lcg(&x) % 5);
        long total = evbs_total_tokens(&p, &h, ci);
        uint32_t *tok = malloc(sizeof *tok * (size_t)total);
        for (long i = 0; i < total; i++)
            tok[i] = i > 0 && lcg(&x) % 3 ? tok[i - 1 - (long)(lcg(&x) % (uint32_t)(i < 50 ? i : 50))]
                                          : lcg(&x) % (k % 4 ? 600u : 4096u);
        long size = evbs_coded_packet_size(&p, &h, ci, tok);
        uint8_t *buf = malloc((size_t)size);
        if (size <= 0 || evbs_write_packet(&p, &h, ci, tok, buf, (size_t)size) != size)
            return 1;
        for (long i = 0; i < size; i++)
            printf("%02x", buf[i]);
        printf("\n");
        free(ci);
        free(tok);
        free(buf);
    }
    return 0;
}
