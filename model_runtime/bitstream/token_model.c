#include "bitstream/token_model.h"

#include <stdlib.h>

#include "bitstream/bitstream.h"
#include "bitstream/error.h"
#include "bitstream/range_coder.h"

/* Weights of the built-in model (no tables), in units of a base total of
 * 2^16; chosen on held-out tokens of the default model (docs/bitstream.md). */
#define FALLBACK_COUNT_W 3277u   /* 0.05 */
#define FALLBACK_PREV_W 6554u    /* 0.1  */
#define FALLBACK_COLOC_W 65536u  /* 1.0  */

/* What one token is coded with: the row's base table plus the tile's counts
 * (a Fenwick tree) and two boosted symbols. */
typedef struct Model {
    const EvbsEntropy *e;
    int V;
    uint32_t base_total, fb_scale;
    uint32_t *fen;      /* [V + 1], 1-based Fenwick tree of the tile's counts */
    uint32_t seen;      /* tokens counted in this tile                        */
} Model;

static uint32_t base_cum(const Model *m, int row, int s)
{
    if (m->e && m->e->token_cum)
        return m->e->token_cum[(size_t)row * (m->V + 1) + s];
    return (uint32_t)((uint64_t)s * m->base_total / (uint64_t)m->V);
}

static uint32_t fen_prefix(const Model *m, int s)  /* counts of symbols < s */
{
    uint32_t sum = 0;
    for (int i = s; i > 0; i -= i & -i)
        sum += m->fen[i];
    return sum;
}

static void fen_add(Model *m, int s, int32_t d)
{
    for (int i = s + 1; i <= m->V; i += i & -i)
        m->fen[i] += (uint32_t)d;
}

typedef struct Ctx {
    int row;
    uint32_t wk, wp, wc;
    int prev, coloc;    /* boosted symbols, -1 when absent */
    uint32_t total;
} Ctx;

static void ctx_init(const Model *m, Ctx *c, int row, int prev, int coloc)
{
    const EvbsEntropy *e = m->e;
    c->row = row;
    c->wk = e && e->count_w ? e->count_w[row] : FALLBACK_COUNT_W * m->fb_scale;
    c->wp = e && e->prev_w ? e->prev_w[row] : FALLBACK_PREV_W * m->fb_scale;
    c->wc = e && e->coloc_w ? e->coloc_w[row] : FALLBACK_COLOC_W * m->fb_scale;
    c->prev = c->wp ? prev : -1;
    c->coloc = c->wc ? coloc : -1;
    c->total = m->base_total + c->wk * m->seen + (c->prev >= 0 ? c->wp : 0) + (c->coloc >= 0 ? c->wc : 0);
}

static uint32_t cum(const Model *m, const Ctx *c, int s)
{
    uint32_t v = base_cum(m, c->row, s) + c->wk * fen_prefix(m, s);
    if (c->prev >= 0 && c->prev < s)
        v += c->wp;
    if (c->coloc >= 0 && c->coloc < s)
        v += c->wc;
    return v;
}

static void count(Model *m, int s)
{
    if (m->seen < EVTM_ADAPT_TOKENS) {
        fen_add(m, s, 1);
        m->seen++;
    }
}

static int model_init(Model *m, const EvbsParams *p)
{
    m->e = p->entropy;
    m->V = p->codebook_size;
    m->seen = 0;
    if (m->e && m->e->token_cum) {
        m->base_total = m->e->base_total;
        m->fb_scale = 1;
    } else {
        m->base_total = m->V <= (1 << 16) ? (1u << 16) : EVTM_MAX_BASE_TOTAL;
        m->fb_scale = m->base_total >> 16;
    }
    m->fen = calloc((size_t)m->V + 1, sizeof *m->fen);
    return m->fen ? 0 : -1;
}

/* Undoes a tile's counts: cheaper than clearing V entries per tile. */
static void tile_reset(Model *m, const uint32_t *tokens, long n)
{
    for (long i = 0; i < n && i < EVTM_ADAPT_TOKENS; i++)
        fen_add(m, (int)tokens[i], -1);
    m->seen = 0;
}

static uint32_t assign_cum(const EvbsParams *p, int row, int i)
{
    const EvbsEntropy *e = p->entropy;
    if (e && e->assign_cum)
        return e->assign_cum[(size_t)row * (p->num_choices + 1) + i];
    return (uint32_t)((uint64_t)i * EVTM_ASSIGN_TOTAL / (uint64_t)p->num_choices);
}

static int assign_row(const EvbsParams *p, int block, int prev_choice)
{
    return block * (p->num_choices + 1) + (prev_choice < 0 ? p->num_choices : prev_choice);
}

/* Position in the previous block that token i of a block of n tokens sits
 * at, when that block had np tokens. */
static long coloc_pos(long i, long n, long np)
{
    return i * np / n;
}

long evtm_encode(const EvbsParams *p, const EvbsHeader *h, const uint8_t *ci, const uint32_t *tokens,
                 uint8_t *out, size_t out_size)
{
    const int B = h->num_blocks, C = p->num_choices;
    const long tiles = (long)h->tiles_x * h->tiles_y;
    EvrcEncoder enc;
    evrc_enc_init(&enc, out, out_size);
    for (long t = 0; t < tiles; t++)
        for (int b = 0, prev = -1; b < B; b++) {
            int c = ci[t * B + b];
            if (c >= C)
                return EVBS_EINVAL;
            int row = assign_row(p, b, prev);
            uint32_t lo = assign_cum(p, row, c), hi = assign_cum(p, row, c + 1);
            evrc_encode(&enc, lo, hi - lo, EVTM_ASSIGN_TOTAL);
            prev = c;
        }
    Model m;
    if (model_init(&m, p))
        return EVBS_ESPACE;
    const uint32_t *tile_tokens = tokens;
    for (long t = 0; t < tiles; t++) {
        const uint32_t *blk = tile_tokens, *prev_blk = NULL;
        long prev_n = 0;
        for (int b = 0; b < B; b++) {
            int c = ci[t * B + b];
            long n = p->choices[c];
            for (long i = 0; i < n; i++) {
                int s = (int)blk[i];
                if (blk[i] >= (uint32_t)m.V) {
                    free(m.fen);
                    return EVBS_EINVAL;
                }
                Ctx x;
                ctx_init(&m, &x, b * C + c, i > 0 ? (int)blk[i - 1] : -1,
                         prev_blk ? (int)prev_blk[coloc_pos(i, n, prev_n)] : -1);
                uint32_t lo = cum(&m, &x, s), hi = cum(&m, &x, s + 1);
                evrc_encode(&enc, lo, hi - lo, x.total);
                count(&m, s);
            }
            prev_blk = blk;
            prev_n = n;
            blk += n;
        }
        tile_reset(&m, tile_tokens, (long)(blk - tile_tokens));
        tile_tokens = blk;
    }
    free(m.fen);
    size_t size = evrc_enc_finish(&enc);
    if (enc.overflow)
        return EVBS_ESPACE;
    return (long)size;
}

int evtm_decode(const EvbsParams *p, const EvbsHeader *h, const uint8_t *in, size_t size, uint8_t *ci,
                uint32_t *tokens, long max_tokens, long *total_tokens, char *err, size_t err_size)
{
    const int B = h->num_blocks, C = p->num_choices;
    const long tiles = (long)h->tiles_x * h->tiles_y;
    EvrcDecoder dec;
    evrc_dec_init(&dec, in, size);
    long total = 0;
    for (long t = 0; t < tiles; t++) {
        for (int b = 0, prev = -1; b < B; b++) {
            int row = assign_row(p, b, prev);
            uint32_t v = evrc_decode_target(&dec, EVTM_ASSIGN_TOTAL);
            int c = 0;
            while (c + 1 < C && assign_cum(p, row, c + 1) <= v)
                c++;
            uint32_t lo = assign_cum(p, row, c), hi = assign_cum(p, row, c + 1);
            evrc_decode_consume(&dec, lo, hi - lo, EVTM_ASSIGN_TOTAL);
            ci[t * B + b] = (uint8_t)c;
            total += p->choices[c];
            prev = c;
        }
        /* past the data the decoder reads zeros: stop at once, so that a few
         * bytes claiming a huge frame cost time in their bytes, not in the claim */
        if (dec.pos > size + 7)
            return evbs_fail(err, err_size, EVBS_ECORRUPT, "packet truncated in its assignment");
    }
    *total_tokens = total;
    if (tokens && total > max_tokens)
        return evbs_fail(err, err_size, EVBS_ESPACE, "token buffer too small");
    /* without a token buffer, decode into a tile-sized scratch one */
    long tile_max = (long)B * p->choices[0];
    for (int i = 1; i < C; i++)
        if (p->choices[i] > p->choices[0])
            tile_max = (long)B * p->choices[i];
    uint32_t *scratch = NULL;
    if (!tokens && !(scratch = malloc((size_t)tile_max * sizeof *scratch)))
        return evbs_fail(err, err_size, EVBS_ESPACE, "out of memory");
    Model m;
    if (model_init(&m, p)) {
        free(scratch);
        return evbs_fail(err, err_size, EVBS_ESPACE, "out of memory");
    }
    int rc = EVBS_OK;
    uint32_t *tile_tokens = tokens ? tokens : scratch;
    for (long t = 0; t < tiles && rc == EVBS_OK; t++) {
        uint32_t *blk = tile_tokens, *prev_blk = NULL;
        long prev_n = 0;
        for (int b = 0; b < B; b++) {
            int c = ci[t * B + b];
            long n = p->choices[c];
            for (long i = 0; i < n; i++) {
                Ctx x;
                ctx_init(&m, &x, b * C + c, i > 0 ? (int)blk[i - 1] : -1,
                         prev_blk ? (int)prev_blk[coloc_pos(i, n, prev_n)] : -1);
                uint32_t v = evrc_decode_target(&dec, x.total);
                int lo = 0, hi = m.V - 1;  /* largest s with cum(s) <= v */
                while (lo < hi) {
                    int mid = lo + (hi - lo + 1) / 2;
                    if (cum(&m, &x, mid) <= v)
                        lo = mid;
                    else
                        hi = mid - 1;
                }
                uint32_t a = cum(&m, &x, lo), z = cum(&m, &x, lo + 1);
                evrc_decode_consume(&dec, a, z - a, x.total);
                blk[i] = (uint32_t)lo;
                count(&m, lo);
            }
            prev_blk = blk;
            prev_n = n;
            blk += n;
        }
        tile_reset(&m, tile_tokens, (long)(blk - tile_tokens));
        if (tokens)
            tile_tokens = blk;
        /* a corrupt stream reads zeros past its end; stop early */
        if (evrc_dec_consumed(&dec) > size + 7)
            rc = evbs_fail(err, err_size, EVBS_ECORRUPT, "packet truncated in its tokens");
    }
    free(m.fen);
    free(scratch);
    if (rc)
        return rc;
    size_t used = evrc_dec_consumed(&dec);
    if (used < size || used > size + 7)
        return evbs_fail(err, err_size, EVBS_ECORRUPT, "coded tokens end %s the packet (%zu of %zu bytes)",
                    used < size ? "before the end of" : "past", used, size);
    return EVBS_OK;
}

int evtm_check(const EvbsParams *p, const EvbsEntropy *e, char *err, size_t err_size)
{
    const int B = p->num_blocks, C = p->num_choices, V = p->codebook_size;
    if (e->num_blocks != B || e->num_choices != C || e->codebook_size != V)
        return evbs_fail(err, err_size, EVBS_EINVAL, "entropy tables are for %d blocks, %d choices, codebook %d; the model has %d, %d, %d",
                    e->num_blocks, e->num_choices, e->codebook_size, B, C, V);
    if (e->base_total < (uint32_t)V || e->base_total > EVTM_MAX_BASE_TOTAL)
        return evbs_fail(err, err_size, EVBS_EINVAL, "entropy base total %u not in %d..%u", e->base_total, V,
                    EVTM_MAX_BASE_TOTAL);
    if (!e->token_cum || !e->count_w || !e->prev_w || !e->coloc_w || !e->assign_cum)
        return evbs_fail(err, err_size, EVBS_EINVAL, "entropy tables incomplete");
    for (int r = 0; r < B * C; r++) {
        const uint32_t *row = e->token_cum + (size_t)r * (V + 1);
        if (row[0] != 0 || row[V] != e->base_total)
            return evbs_fail(err, err_size, EVBS_EINVAL, "token table row %d does not run from 0 to %u", r, e->base_total);
        for (int s = 0; s < V; s++)
            if (row[s + 1] <= row[s])
                return evbs_fail(err, err_size, EVBS_EINVAL, "token table row %d gives token %d no probability", r, s);
        if (e->count_w[r] > EVTM_MAX_COUNT_W || e->prev_w[r] > EVTM_MAX_BOOST_W || e->coloc_w[r] > EVTM_MAX_BOOST_W)
            return evbs_fail(err, err_size, EVBS_EINVAL, "adaptation weights of row %d out of range", r);
    }
    for (int r = 0; r < B * (C + 1); r++) {
        const uint32_t *row = e->assign_cum + (size_t)r * (C + 1);
        if (row[0] != 0 || row[C] != EVTM_ASSIGN_TOTAL)
            return evbs_fail(err, err_size, EVBS_EINVAL, "assignment table row %d does not run from 0 to %u", r, EVTM_ASSIGN_TOTAL);
        for (int i = 0; i < C; i++)
            if (row[i + 1] <= row[i])
                return evbs_fail(err, err_size, EVBS_EINVAL, "assignment table row %d gives choice %d no probability", r, i);
    }
    return EVBS_OK;
}
