#include "bitstream/range_coder.h"

/* State: low and range are 64-bit; after every symbol the range is
 * renormalised to at least 2^56 by shifting out the top byte of low. A carry
 * out of low propagates into the bytes already written (the whole packet is
 * in memory, so no cache byte is needed). With total <= 2^28, range / total
 * >= 2^28: the rounding loss is below 2^-28 of a symbol's width. */
#define TOP (1ull << 56)

static void put_byte(EvrcEncoder *e, uint8_t b)
{
    if (e->pos < e->size)
        e->out[e->pos] = b;
    else if (e->out)
        e->overflow = 1;
    e->pos++;
}

static void carry(EvrcEncoder *e)
{
    /* The interval never leaves [0, 1), so a carry always finds a byte that
     * is not 0xFF before the start. */
    for (size_t i = e->pos; i-- > 0;) {
        if (i >= e->size)
            continue;
        if (++e->out[i] != 0)
            break;
    }
}

void evrc_enc_init(EvrcEncoder *e, uint8_t *out, size_t size)
{
    e->low = 0;
    e->range = ~0ull;
    e->out = out;
    e->size = out ? size : 0;
    e->pos = 0;
    e->overflow = 0;
}

void evrc_encode(EvrcEncoder *e, uint32_t start, uint32_t freq, uint32_t total)
{
    uint64_t r = e->range / total;
    uint64_t old = e->low;
    e->low += r * start;
    if (e->low < old)
        carry(e);
    /* the last symbol also takes the division's remainder */
    e->range = (start + freq == total) ? e->range - r * start : r * freq;
    while (e->range < TOP) {
        put_byte(e, (uint8_t)(e->low >> 56));
        e->low <<= 8;
        e->range <<= 8;
    }
}

size_t evrc_enc_finish(EvrcEncoder *e)
{
    /* Any value in [low, low + range) ends the stream; pick the one with the
     * most trailing zero bytes (the decoder reads missing bytes as 0). */
    for (int drop = 7; drop >= 0; drop--) {
        uint64_t mask = drop ? (~0ull >> (64 - 8 * drop)) : 0;
        uint64_t v = (e->low + mask) & ~mask;
        int wrapped = v < e->low;
        /* v - low < range, computed without overflow */
        if ((uint64_t)(v - e->low) < e->range) {
            if (wrapped)
                carry(e);
            for (int k = 0; k < 8 - drop; k++)
                put_byte(e, (uint8_t)(v >> (56 - 8 * k)));
            return e->pos;
        }
    }
    return e->pos; /* not reached: drop 0 always fits */
}

static uint8_t get_byte(EvrcDecoder *d)
{
    uint8_t b = d->pos < d->size ? d->in[d->pos] : 0;
    d->pos++;
    return b;
}

void evrc_dec_init(EvrcDecoder *d, const uint8_t *in, size_t size)
{
    d->in = in;
    d->size = in ? size : 0;
    d->pos = 0;
    d->code = 0;
    d->range = ~0ull;
    d->r = 1;
    for (int i = 0; i < 8; i++)
        d->code = (d->code << 8) | get_byte(d);
}

uint32_t evrc_decode_target(EvrcDecoder *d, uint32_t total)
{
    d->r = d->range / total;
    uint64_t v = d->code / d->r;
    /* v can pass total only in the last symbol's remainder, or in a corrupt
     * stream; either way the last symbol is decoded. */
    return v >= total ? total - 1 : (uint32_t)v;
}

void evrc_decode_consume(EvrcDecoder *d, uint32_t start, uint32_t freq, uint32_t total)
{
    d->code -= d->r * start;
    d->range = (start + freq == total) ? d->range - d->r * start : d->r * freq;
    while (d->range < TOP) {
        d->code = (d->code << 8) | get_byte(d);
        d->range <<= 8;
    }
}

size_t evrc_dec_consumed(const EvrcDecoder *d)
{
    return d->pos;
}
