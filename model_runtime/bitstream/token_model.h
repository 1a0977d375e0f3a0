/* The probability model that bitstream v2 codes assignments and tokens with
 * (docs/bitstream.md, "Version 2"). Integer-only: the encoder and the decoder
 * compute identical frequencies on every machine. Plain C. */
#ifndef EVATOK_TOKEN_MODEL_H
#define EVATOK_TOKEN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EVTM_ASSIGN_TOTAL (1u << 16)  /* every assignment row sums to it       */
#define EVTM_MAX_BASE_TOTAL (1u << 20)
#define EVTM_MAX_COUNT_W (1u << 16)
#define EVTM_MAX_BOOST_W (1u << 24)
#define EVTM_ADAPT_TOKENS 1024        /* tokens per tile that update the counts */

/* Tables estimated from a model's tokens (`evatok entropy-tables`), stored
 * in its model file. Token row r = block * num_choices + choice. */
typedef struct EvbsEntropy {
    int num_blocks, num_choices, codebook_size;
    uint32_t base_total;        /* every token row's cumulative table ends here */
    const uint32_t *token_cum;  /* [B*C][codebook_size + 1], 0 first, rising    */
    const uint32_t *count_w;    /* [B*C] weight of a token seen earlier in the tile */
    const uint32_t *prev_w;     /* [B*C] boost of the block's previous token     */
    const uint32_t *coloc_w;    /* [B*C] boost of the previous block's token at
                                   the same relative position                   */
    const uint32_t *assign_cum; /* [B*(C+1)][C + 1]: choice given the block and
                                   the tile's previous choice (C for block 0)   */
} EvbsEntropy;

struct EvbsParams;
struct EvbsHeader;

/* Checks tables against the model's geometry; err says what is wrong. */
int evtm_check(const struct EvbsParams *p, const EvbsEntropy *e, char *err, size_t err_size);

/* Range-codes the assignment (tiles*blocks choice indices) and tokens with
 * p->entropy, or with the built-in uniform model when it is NULL. out may be
 * NULL to count. Returns the coded size in bytes, or < 0. */
long evtm_encode(const struct EvbsParams *p, const struct EvbsHeader *h, const uint8_t *choice_idx,
                 const uint32_t *tokens, uint8_t *out, size_t out_size);

/* Decodes what evtm_encode wrote. tokens may be NULL (assignment and
 * validation only). *total_tokens receives the token count. A payload that
 * does not end where the coded stream ends is an error. */
int evtm_decode(const struct EvbsParams *p, const struct EvbsHeader *h, const uint8_t *in, size_t size,
                uint8_t *choice_idx, uint32_t *tokens, long max_tokens, long *total_tokens,
                char *err, size_t err_size);

#ifdef __cplusplus
}
#endif
#endif
