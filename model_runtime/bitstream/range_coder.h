/* A byte-oriented range coder on 64-bit integers (docs/bitstream.md, "Range
 * coder"). Integer-only, so every machine and compiler codes identical
 * bytes. Plain C; the decoder never reads past its buffer and never loops
 * more than a fixed number of times per symbol, whatever the input. */
#ifndef EVATOK_RANGE_CODER_H
#define EVATOK_RANGE_CODER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest total frequency a symbol may be coded with. */
#define EVRC_MAX_TOTAL (1u << 28)

typedef struct EvrcEncoder {
    uint64_t low, range;
    uint8_t *out;
    size_t size, pos;
    int overflow;   /* set when out was too small; pos keeps counting */
} EvrcEncoder;

typedef struct EvrcDecoder {
    uint64_t code, range, r;
    const uint8_t *in;
    size_t size, pos;  /* pos may pass size: missing bytes read as 0 */
} EvrcDecoder;

/* out may be NULL (size 0) to count bytes only (overflow stays 0). */
void evrc_enc_init(EvrcEncoder *e, uint8_t *out, size_t size);
/* Codes the interval [start, start + freq) of total; 0 < freq, start + freq
 * <= total <= EVRC_MAX_TOTAL (the caller guarantees it). */
void evrc_encode(EvrcEncoder *e, uint32_t start, uint32_t freq, uint32_t total);
/* Writes the fewest bytes that end the stream; returns the coded size in
 * bytes (also when it overflowed: compare it with the buffer size). */
size_t evrc_enc_finish(EvrcEncoder *e);

void evrc_dec_init(EvrcDecoder *d, const uint8_t *in, size_t size);
/* The value in [0, total) that the next symbol's interval holds. */
uint32_t evrc_decode_target(EvrcDecoder *d, uint32_t total);
/* After evrc_decode_target: consumes the symbol whose interval it found. */
void evrc_decode_consume(EvrcDecoder *d, uint32_t start, uint32_t freq, uint32_t total);
/* Bytes the decoder consumed; a valid stream ends within [size, size + 7]. */
size_t evrc_dec_consumed(const EvrcDecoder *d);

#ifdef __cplusplus
}
#endif
#endif
