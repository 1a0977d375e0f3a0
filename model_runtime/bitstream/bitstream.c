#include "bitstream/bitstream.h"

#include "bitstream/error.h"
#include "bitstream/token_model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fixed part of a packet: magic, version, width(2), height(2), nb_frames,
 * tiles_x(2), tiles_y(2), num_blocks, bits_per_token. */
#define PKT_HEADER_SIZE 13
/* Versions 2 and 3: magic, version, width(2), height(2), nb_frames, flags;
 * a version-3 inter packet follows it with its skip map. */
#define PKT2_HEADER_SIZE 8
#define PKT_CRC_SIZE 4

static void put16(uint8_t *b, int v) { b[0] = (uint8_t)(v >> 8); b[1] = (uint8_t)v; }
static int get16(const uint8_t *b) { return (b[0] << 8) | b[1]; }
static void put32(uint8_t *b, uint32_t v) { put16(b, (int)(v >> 16)); put16(b + 2, (int)(v & 0xFFFF)); }
static uint32_t get32(const uint8_t *b) { return ((uint32_t)get16(b) << 16) | (uint32_t)get16(b + 2); }

int evbs_fail(char *err, size_t err_size, int code, const char *fmt, ...)
{
    if (err && err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
    }
    return code;
}

uint32_t evbs_crc32(const uint8_t *buf, size_t size)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < size; i++) {
        crc ^= buf[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return crc ^ 0xFFFFFFFFu;
}

int evbs_bits_per_token(int codebook_size)
{
    int bits = 1;
    while ((1L << bits) < codebook_size)
        bits++;
    return bits;
}

int evbs_tiles(int size, int tile)
{
    return tile > 0 ? (size + tile - 1) / tile : 0;
}

static int params_ok(const EvbsParams *p)
{
    if (!p || p->clip_frames < 1 || p->clip_frames > 255 || p->tile_h < 1 || p->tile_w < 1 ||
        p->num_blocks < 1 || p->num_blocks > EVBS_MAX_BLOCKS || p->num_choices < 1 ||
        p->num_choices > EVBS_MAX_CHOICES || p->codebook_size < 2 || p->codebook_size > (1 << 20))
        return 0;
    for (int i = 0; i < p->num_choices; i++)
        if (p->choices[i] < 1 || p->choices[i] > 65535)
            return 0;
    return 1;
}

int evbs_header_init(const EvbsParams *p, int width, int height, int nb_frames, EvbsHeader *h)
{
    if (!params_ok(p) || !h || width < 1 || height < 1 || width > EVBS_MAX_DIM ||
        height > EVBS_MAX_DIM || nb_frames < 1 || nb_frames > p->clip_frames)
        return EVBS_EINVAL;
    h->version = EVBS_VERSION;
    h->width = width;
    h->height = height;
    h->nb_frames = nb_frames;
    h->tiles_x = evbs_tiles(width, p->tile_w);
    h->tiles_y = evbs_tiles(height, p->tile_h);
    h->num_blocks = p->num_blocks;
    h->bits_per_token = evbs_bits_per_token(p->codebook_size);
    h->flags = 0;
    h->skipped = h->carried = h->moved = 0;
    h->skip_map = h->carry_map = h->move_map = NULL;
    h->motion = NULL;
    return EVBS_OK;
}

static int is_inter(const EvbsHeader *h)
{
    return h->version == 3 && (h->flags & EVBS_FLAG_INTER) && h->skip_map;
}

static int map_bit(const uint8_t *map, long t)
{
    return (map[t / 8] >> (7 - t % 8)) & 1;
}

int evbs_tile_skipped(const EvbsHeader *h, long t)
{
    return is_inter(h) && map_bit(h->skip_map, t);
}

int evbs_tile_carried(const EvbsHeader *h, long t)
{
    return is_inter(h) && (h->flags & EVBS_FLAG_CARRY) && h->carry_map && map_bit(h->carry_map, t);
}

int evbs_tile_moved(const EvbsHeader *h, long t)
{
    return is_inter(h) && (h->flags & EVBS_FLAG_MOVE) && h->move_map && map_bit(h->move_map, t);
}

static long num_tiles(const EvbsHeader *h)
{
    return (long)h->tiles_x * h->tiles_y;
}

static long map_size(const EvbsHeader *h)
{
    return (num_tiles(h) + 7) / 8;
}

/* Tile maps of an inter packet with these flags: skip, carry, move. */
static int num_maps(int flags)
{
    return 1 + !!(flags & EVBS_FLAG_CARRY) + !!(flags & EVBS_FLAG_MOVE);
}

/* Bytes after the fixed header: the skip map, the carry map, the move map,
 * then the motion of each moved tile. */
static long maps_size(const EvbsHeader *h)
{
    if (!is_inter(h))
        return 0;
    return map_size(h) * num_maps(h->flags) + ((h->flags & EVBS_FLAG_MOVE) ? EVBS_MOTION_BYTES * h->moved : 0);
}

static long num_entries(const EvbsHeader *h)
{
    return (num_tiles(h) - (is_inter(h) ? h->skipped : 0)) * h->num_blocks;
}

long evbs_num_entries(const EvbsHeader *h)
{
    return num_entries(h);
}

/* The header that the token model codes an inter packet's coded tiles with:
 * they form one run of tiles, in raster order (the model's contexts never
 * reach across tiles). */
static EvbsHeader coded_view(const EvbsHeader *h)
{
    EvbsHeader v = *h;
    v.tiles_x = (int)(num_entries(h) / h->num_blocks);
    v.tiles_y = 1;
    return v;
}

int evbs_packet_is_keyframe(const uint8_t *buf, size_t size)
{
    if (!buf || size < PKT2_HEADER_SIZE || buf[0] != EVBS_PACKET_MAGIC || buf[1] < EVBS_MIN_VERSION ||
        buf[1] > EVBS_MAX_VERSION)
        return EVBS_EINVAL;
    return buf[1] == 3 ? !(buf[7] & EVBS_FLAG_INTER) : 1;
}

long evbs_total_tokens(const EvbsParams *p, const EvbsHeader *h, const uint8_t *choice_idx)
{
    long total = 0, n = num_entries(h);
    for (long i = 0; i < n; i++) {
        if (choice_idx[i] >= p->num_choices)
            return EVBS_EINVAL;
        total += p->choices[choice_idx[i]];
    }
    return total;
}

/* Range-coded payload of a version 2/3 packet: none when every tile of an
 * inter packet is skipped. */
static long payload_encode(const EvbsParams *p, const EvbsHeader *h, const uint8_t *choice_idx,
                           const uint32_t *tokens, uint8_t *out, size_t out_size)
{
    if (num_entries(h) == 0)
        return 0;
    EvbsHeader v = coded_view(h);
    return evtm_encode(p, &v, choice_idx, tokens, out, out_size);
}

static int payload_decode(const EvbsParams *p, const EvbsHeader *h, const uint8_t *in, size_t size,
                          uint8_t *choice_idx, uint32_t *tokens, long max_tokens, long *total,
                          char *err, size_t err_size)
{
    *total = 0;
    if (num_entries(h) == 0)
        return size ? evbs_fail(err, err_size, EVBS_ECORRUPT, "inter packet skips every tile but carries "
                                "%zu payload bytes", size) : EVBS_OK;
    EvbsHeader v = coded_view(h);
    return evtm_decode(p, &v, in, size, choice_idx, tokens, max_tokens, total, err, err_size);
}

static long payload_offset(const EvbsHeader *h)
{
    return PKT2_HEADER_SIZE + maps_size(h);
}

/* A packet's header fields must agree with its version: flags only in
 * version 3, a skip map only with the inter flag. */
static int header_ok(const EvbsHeader *h)
{
    if (h->version != 3)
        return h->flags == 0;
    if (h->flags & ~(EVBS_FLAG_INTER | EVBS_FLAG_CARRY | EVBS_FLAG_MOVE))
        return 0;
    if (!(h->flags & EVBS_FLAG_INTER))
        return h->flags == 0;
    if (!h->skip_map || (!(h->flags & EVBS_FLAG_CARRY) != !h->carry_map))
        return 0;
    if (!(h->flags & EVBS_FLAG_MOVE) != !h->move_map || (h->move_map && !h->motion))
        return 0;
    long skipped = 0, carried = 0, moved = 0;
    for (long t = 0; t < num_tiles(h); t++) {
        skipped += evbs_tile_skipped(h, t);
        carried += evbs_tile_carried(h, t);
        moved += evbs_tile_moved(h, t);
        if (evbs_tile_skipped(h, t) && evbs_tile_carried(h, t))
            return 0;
        if (evbs_tile_moved(h, t) && !evbs_tile_skipped(h, t))
            return 0;
    }
    return skipped + carried >= 1 && skipped == h->skipped && carried == h->carried && moved == h->moved &&
           (!(h->flags & EVBS_FLAG_CARRY) || carried >= 1) && (!(h->flags & EVBS_FLAG_MOVE) || moved >= 1);
}

int evbs_set_inter(EvbsHeader *h, const uint8_t *skip, const uint8_t *carry)
{
    if (h->version != 3 || !skip)
        return EVBS_EINVAL;
    h->flags = EVBS_FLAG_INTER | (carry ? EVBS_FLAG_CARRY : 0);
    h->skip_map = skip;
    h->carry_map = carry;
    h->move_map = NULL;
    h->motion = NULL;
    h->skipped = h->carried = h->moved = 0;
    for (long t = 0; t < num_tiles(h); t++) {
        h->skipped += evbs_tile_skipped(h, t);
        h->carried += evbs_tile_carried(h, t);
    }
    return header_ok(h) ? EVBS_OK : EVBS_EINVAL;
}

int evbs_set_motion(EvbsHeader *h, const uint8_t *move, const int8_t *motion)
{
    if (!is_inter(h) || !move || !motion)
        return EVBS_EINVAL;
    h->flags |= EVBS_FLAG_MOVE;
    h->move_map = move;
    h->motion = motion;
    h->moved = 0;
    for (long t = 0; t < num_tiles(h); t++)
        h->moved += evbs_tile_moved(h, t);
    if (header_ok(h))
        return EVBS_OK;
    h->flags &= ~EVBS_FLAG_MOVE;
    h->move_map = NULL;
    h->motion = NULL;
    h->moved = 0;
    return EVBS_EINVAL;
}

static long v2_size(const EvbsParams *p, const EvbsHeader *h, const uint8_t *choice_idx,
                    const uint32_t *tokens)
{
    long coded = payload_encode(p, h, choice_idx, tokens, NULL, 0);
    return coded < 0 ? coded : payload_offset(h) + coded + PKT_CRC_SIZE;
}

long evbs_packet_size(const EvbsParams *p, const EvbsHeader *h, const uint8_t *choice_idx)
{
    long tokens = evbs_total_tokens(p, h, choice_idx);
    if (tokens < 0)
        return tokens;
    if (h->version != 1)
        return EVBS_EINVAL; /* versions 2 and 3: the size depends on the tokens */
    long assign_bytes = (num_entries(h) + 1) / 2;
    long token_bytes = (tokens * h->bits_per_token + 7) / 8;
    return PKT_HEADER_SIZE + assign_bytes + token_bytes + PKT_CRC_SIZE;
}


long evbs_coded_packet_size(const EvbsParams *p, const EvbsHeader *h, const uint8_t *choice_idx,
                            const uint32_t *tokens)
{
    if (h->version == 1)
        return evbs_packet_size(p, h, choice_idx);
    if ((h->version != 2 && h->version != 3) || !header_ok(h) || evbs_total_tokens(p, h, choice_idx) < 0)
        return EVBS_EINVAL;
    return v2_size(p, h, choice_idx, tokens);
}

static long write_v2(const EvbsParams *p, const EvbsHeader *h, const uint8_t *choice_idx,
                     const uint32_t *tokens, uint8_t *out, size_t out_size)
{
    const long off = payload_offset(h);
    if (out_size < (size_t)off + PKT_CRC_SIZE)
        return EVBS_ESPACE;
    out[0] = EVBS_PACKET_MAGIC;
    out[1] = (uint8_t)h->version;
    put16(out + 2, h->width);
    put16(out + 4, h->height);
    out[6] = (uint8_t)h->nb_frames;
    out[7] = (uint8_t)h->flags; /* version 2: none defined */
    if (off > PKT2_HEADER_SIZE) {
        const long mb = map_size(h);
        uint8_t *o = out + PKT2_HEADER_SIZE;
        const uint8_t *maps[3] = {h->skip_map, h->carry_map, h->move_map};
        for (int i = 0; i < 3; i++) {
            if (!maps[i])
                continue;
            memcpy(o, maps[i], (size_t)mb);
            if (num_tiles(h) % 8) /* bits past the last tile are zero */
                o[mb - 1] &= (uint8_t)(0xFF << (8 - num_tiles(h) % 8));
            o += mb;
        }
        if (h->move_map)
            memcpy(o, h->motion, (size_t)(EVBS_MOTION_BYTES * h->moved));
    }
    long coded = payload_encode(p, h, choice_idx, tokens, out + off, out_size - (size_t)off - PKT_CRC_SIZE);
    if (coded < 0)
        return coded;
    long size = off + coded + PKT_CRC_SIZE;
    put32(out + size - PKT_CRC_SIZE, evbs_crc32(out, (size_t)size - PKT_CRC_SIZE));
    return size;
}

long evbs_write_packet(const EvbsParams *p, const EvbsHeader *h, const uint8_t *choice_idx,
                       const uint32_t *tokens, uint8_t *out, size_t out_size)
{
    if (!params_ok(p) || !header_ok(h) || evbs_total_tokens(p, h, choice_idx) < 0)
        return EVBS_EINVAL;
    if (h->version == 2 || h->version == 3)
        return write_v2(p, h, choice_idx, tokens, out, out_size);
    long size = evbs_packet_size(p, h, choice_idx);
    if (size < 0)
        return size;
    if ((size_t)size > out_size)
        return EVBS_ESPACE;
    memset(out, 0, (size_t)size);
    uint8_t *b = out;
    b[0] = EVBS_PACKET_MAGIC;
    b[1] = (uint8_t)h->version;
    put16(b + 2, h->width);
    put16(b + 4, h->height);
    b[6] = (uint8_t)h->nb_frames;
    put16(b + 7, h->tiles_x);
    put16(b + 9, h->tiles_y);
    b[11] = (uint8_t)h->num_blocks;
    b[12] = (uint8_t)h->bits_per_token;
    b += PKT_HEADER_SIZE;
    long n = num_entries(h);
    for (long i = 0; i < n; i++)  /* two 4-bit choice indices per byte, high first */
        b[i / 2] |= (uint8_t)(choice_idx[i] << ((i & 1) ? 0 : 4));
    b += (n + 1) / 2;
    long total = evbs_total_tokens(p, h, choice_idx);
    uint64_t acc = 0;
    int nbits = 0;
    long pos = 0;
    for (long i = 0; i < total; i++) {  /* MSB-first fixed-width bit packing */
        if (tokens[i] >= (uint32_t)p->codebook_size)
            return EVBS_EINVAL;
        acc = (acc << h->bits_per_token) | tokens[i];
        nbits += h->bits_per_token;
        while (nbits >= 8) {
            b[pos++] = (uint8_t)(acc >> (nbits - 8));
            nbits -= 8;
        }
    }
    if (nbits)
        b[pos++] = (uint8_t)(acc << (8 - nbits));
    put32(out + size - PKT_CRC_SIZE, evbs_crc32(out, (size_t)size - PKT_CRC_SIZE));
    return size;
}

static int parse_v2(const EvbsParams *p, const uint8_t *buf, size_t size, EvbsHeader *h, char *err,
                    size_t err_size)
{
    if (size < PKT2_HEADER_SIZE + PKT_CRC_SIZE)
        return evbs_fail(err, err_size, EVBS_ECORRUPT, "packet too short (%zu bytes)", size);
    h->version = buf[1];
    h->flags = 0;
    h->skipped = h->carried = h->moved = 0;
    h->skip_map = h->carry_map = h->move_map = NULL;
    h->motion = NULL;
    h->width = get16(buf + 2);
    h->height = get16(buf + 4);
    h->nb_frames = buf[6];
    if (h->width < 1 || h->height < 1 || h->width > EVBS_MAX_DIM || h->height > EVBS_MAX_DIM)
        return evbs_fail(err, err_size, EVBS_ECORRUPT, "frame size %dx%d out of range", h->width, h->height);
    if (h->nb_frames < 1 || h->nb_frames > p->clip_frames)
        return evbs_fail(err, err_size, EVBS_ECORRUPT, "frame count %d not in 1..%d", h->nb_frames, p->clip_frames);
    if (h->version == 2 && buf[7] != 0)
        return evbs_fail(err, err_size, EVBS_ECORRUPT, "packet flags 0x%02x: version 2 defines none", buf[7]);
    if (h->version == 3 && ((buf[7] & ~(EVBS_FLAG_INTER | EVBS_FLAG_CARRY | EVBS_FLAG_MOVE)) ||
                            (buf[7] && !(buf[7] & EVBS_FLAG_INTER))))
        return evbs_fail(err, err_size, EVBS_ECORRUPT,
                         "packet flags 0x%02x: version 3 defines 0x01 (inter), and with it 0x02 (carry) and 0x04 (move)",
                         buf[7]);
    h->flags = buf[7];
    h->tiles_x = evbs_tiles(h->width, p->tile_w);
    h->tiles_y = evbs_tiles(h->height, p->tile_h);
    h->num_blocks = p->num_blocks;
    h->bits_per_token = 0;
    if (h->flags & EVBS_FLAG_INTER) {
        const long tiles = num_tiles(h), map = (tiles + 7) / 8, maps = map * num_maps(h->flags);
        if (size < (size_t)(PKT2_HEADER_SIZE + maps + PKT_CRC_SIZE))
            return evbs_fail(err, err_size, EVBS_ECORRUPT, "inter packet truncated in its tile maps");
        h->skip_map = buf + PKT2_HEADER_SIZE;
        h->carry_map = (h->flags & EVBS_FLAG_CARRY) ? h->skip_map + map : NULL;
        h->move_map = (h->flags & EVBS_FLAG_MOVE) ? h->skip_map + maps - map : NULL;
        for (long k = map - 1; tiles % 8 && k < maps; k += map)
            if (h->skip_map[k] & (0xFF >> (tiles % 8)))
                return evbs_fail(err, err_size, EVBS_ECORRUPT, "tile map has bits set past its %ld tiles", tiles);
        for (long t = 0; t < tiles; t++) {
            if (evbs_tile_skipped(h, t) && evbs_tile_carried(h, t))
                return evbs_fail(err, err_size, EVBS_ECORRUPT, "tile %ld both skipped and carrying", t);
            if (h->move_map && map_bit(h->move_map, t) && !evbs_tile_skipped(h, t))
                return evbs_fail(err, err_size, EVBS_ECORRUPT, "tile %ld moved but not skipped", t);
            h->skipped += evbs_tile_skipped(h, t);
            h->carried += evbs_tile_carried(h, t);
            h->moved += evbs_tile_moved(h, t);
        }
        if (h->skipped + h->carried == 0 || ((h->flags & EVBS_FLAG_CARRY) && h->carried == 0))
            return evbs_fail(err, err_size, EVBS_ECORRUPT,
                             "inter packet neither skips nor carries a tile (it must be a keyframe)");
        if ((h->flags & EVBS_FLAG_MOVE) && h->moved == 0)
            return evbs_fail(err, err_size, EVBS_ECORRUPT, "inter packet with a move map that moves no tile");
        if (h->moved) {
            if (size < (size_t)(PKT2_HEADER_SIZE + maps + EVBS_MOTION_BYTES * h->moved + PKT_CRC_SIZE))
                return evbs_fail(err, err_size, EVBS_ECORRUPT, "inter packet truncated in its motion vectors");
            h->motion = (const int8_t *)(h->skip_map + maps);
        }
    }
    if (get32(buf + size - PKT_CRC_SIZE) != evbs_crc32(buf, size - PKT_CRC_SIZE))
        return evbs_fail(err, err_size, EVBS_ECORRUPT, "packet checksum mismatch (corrupt data)");
    /* the whole coded payload is checked here: assignment, token range, end */
    long n = num_entries(h), total = 0;
    uint8_t *ci = malloc((size_t)n + 1);
    if (!ci)
        return evbs_fail(err, err_size, EVBS_ESPACE, "out of memory");
    const long off = payload_offset(h);
    int rc = payload_decode(p, h, buf + off, size - (size_t)off - PKT_CRC_SIZE, ci, NULL, 0, &total, err, err_size);
    free(ci);
    return rc;
}

int evbs_parse_header(const EvbsParams *p, const uint8_t *buf, size_t size, EvbsHeader *h,
                      char *err, size_t err_size)
{
    if (!params_ok(p) || !h)
        return evbs_fail(err, err_size, EVBS_EINVAL, "invalid parser parameters");
    if (!buf || size < PKT2_HEADER_SIZE + PKT_CRC_SIZE)
        return evbs_fail(err, err_size, EVBS_ECORRUPT, "packet too short (%zu bytes)", size);
    if (buf[0] != EVBS_PACKET_MAGIC)
        return evbs_fail(err, err_size, EVBS_ECORRUPT, "not an evatok packet (bad magic 0x%02x)", buf[0]);
    if (buf[1] < EVBS_MIN_VERSION || buf[1] > EVBS_MAX_VERSION)
        return evbs_fail(err, err_size, EVBS_ECORRUPT, "unsupported bitstream version %d (this build reads %d to %d)",
                    buf[1], EVBS_MIN_VERSION, EVBS_MAX_VERSION);
    if (buf[1] == 2 || buf[1] == 3)
        return parse_v2(p, buf, size, h, err, err_size);
    if (size < PKT_HEADER_SIZE + PKT_CRC_SIZE)
        return evbs_fail(err, err_size, EVBS_ECORRUPT, "packet too short (%zu bytes)", size);
    h->version = buf[1];
    h->flags = 0;
    h->skipped = h->carried = h->moved = 0;
    h->skip_map = h->carry_map = h->move_map = NULL;
    h->motion = NULL;
    h->width = get16(buf + 2);
    h->height = get16(buf + 4);
    h->nb_frames = buf[6];
    h->tiles_x = get16(buf + 7);
    h->tiles_y = get16(buf + 9);
    h->num_blocks = buf[11];
    h->bits_per_token = buf[12];
    if (h->width < 1 || h->height < 1 || h->width > EVBS_MAX_DIM || h->height > EVBS_MAX_DIM)
        return evbs_fail(err, err_size, EVBS_ECORRUPT, "frame size %dx%d out of range", h->width, h->height);
    if (h->nb_frames < 1 || h->nb_frames > p->clip_frames)
        return evbs_fail(err, err_size, EVBS_ECORRUPT, "frame count %d not in 1..%d", h->nb_frames, p->clip_frames);
    if (h->tiles_x != evbs_tiles(h->width, p->tile_w) || h->tiles_y != evbs_tiles(h->height, p->tile_h))
        return evbs_fail(err, err_size, EVBS_ECORRUPT, "tile grid %dx%d does not match frame size %dx%d",
                    h->tiles_x, h->tiles_y, h->width, h->height);
    if (h->num_blocks != p->num_blocks)
        return evbs_fail(err, err_size, EVBS_ECORRUPT, "%d blocks per clip, model has %d", h->num_blocks, p->num_blocks);
    if (h->bits_per_token != evbs_bits_per_token(p->codebook_size))
        return evbs_fail(err, err_size, EVBS_ECORRUPT, "%d bits per token, model needs %d", h->bits_per_token,
                    evbs_bits_per_token(p->codebook_size));
    long n = num_entries(h);
    size_t need = PKT_HEADER_SIZE + (size_t)(n + 1) / 2 + PKT_CRC_SIZE;
    if (size < need)
        return evbs_fail(err, err_size, EVBS_ECORRUPT, "packet truncated in its assignment");
    long total = 0;
    const uint8_t *a = buf + PKT_HEADER_SIZE;
    for (long i = 0; i < n; i++) {
        int c = (a[i / 2] >> ((i & 1) ? 0 : 4)) & 15;
        if (c >= p->num_choices)
            return evbs_fail(err, err_size, EVBS_ECORRUPT, "choice index %d out of range (model has %d)", c,
                        p->num_choices);
        total += p->choices[c];
    }
    need += (size_t)((total * h->bits_per_token + 7) / 8);
    if (size != need)
        return evbs_fail(err, err_size, EVBS_ECORRUPT, "packet is %zu bytes, its header describes %zu", size, need);
    if (get32(buf + size - PKT_CRC_SIZE) != evbs_crc32(buf, size - PKT_CRC_SIZE))
        return evbs_fail(err, err_size, EVBS_ECORRUPT, "packet checksum mismatch (corrupt data)");
    return EVBS_OK;
}

int evbs_read_assignment(const EvbsParams *p, const EvbsHeader *h, const uint8_t *buf, size_t size,
                         uint8_t *choice_idx)
{
    if (h->version == 2 || h->version == 3) {
        long total = 0;
        const long off = payload_offset(h);
        return payload_decode(p, h, buf + off, size - (size_t)off - PKT_CRC_SIZE, choice_idx, NULL, 0, &total,
                              NULL, 0);
    }
    const uint8_t *a = buf + PKT_HEADER_SIZE;
    for (long i = 0, n = num_entries(h); i < n; i++)
        choice_idx[i] = (a[i / 2] >> ((i & 1) ? 0 : 4)) & 15;
    return EVBS_OK;
}

int evbs_read_payload(const EvbsParams *p, const EvbsHeader *h, const uint8_t *buf, size_t size,
                      uint8_t *choice_idx, uint32_t *tokens, long max_tokens, char *err, size_t err_size)
{
    if (h->version == 2 || h->version == 3) {
        long total = 0;
        const long off = payload_offset(h);
        return payload_decode(p, h, buf + off, size - (size_t)off - PKT_CRC_SIZE, choice_idx, tokens, max_tokens,
                              &total, err, err_size);
    }
    long n = num_entries(h);
    const uint8_t *a = buf + PKT_HEADER_SIZE;
    evbs_read_assignment(p, h, buf, size, choice_idx);
    long total = evbs_total_tokens(p, h, choice_idx);
    if (total < 0 || total > max_tokens)
        return evbs_fail(err, err_size, EVBS_ESPACE, "token buffer too small");
    const uint8_t *b = a + (n + 1) / 2;
    uint64_t acc = 0;
    int nbits = 0;
    long pos = 0;
    const uint32_t mask = (1u << h->bits_per_token) - 1;
    for (long i = 0; i < total; i++) {
        while (nbits < h->bits_per_token) {
            acc = (acc << 8) | b[pos++];
            nbits += 8;
        }
        uint32_t v = (uint32_t)(acc >> (nbits - h->bits_per_token)) & mask;
        nbits -= h->bits_per_token;
        if (v >= (uint32_t)p->codebook_size)
            return evbs_fail(err, err_size, EVBS_ECORRUPT, "token %u outside codebook of %d", v, p->codebook_size);
        tokens[i] = v;
    }
    return EVBS_OK;
}

/* Extradata: "EVTK", version, reserved, fingerprint[16], clip_frames(2),
 * tile_h(2), tile_w(2), num_blocks, num_choices, choices(2 each),
 * codebook_size(4), fps_num(4), fps_den(4), [versions 2 and 3: entropy
 * fingerprint[16]], crc32(4). */
long evbs_extradata_size(const EvbsParams *p, int version)
{
    return 4 + 2 + EVBS_FINGERPRINT_SIZE + 6 + 2 + 2L * p->num_choices + 12 + 4 +
           (version >= 2 ? EVBS_FINGERPRINT_SIZE : 0);
}

long evbs_write_extradata(const EvbsStreamInfo *s, uint8_t *out, size_t out_size)
{
    const EvbsParams *p = &s->params;
    if (!params_ok(p) || s->version < EVBS_MIN_VERSION || s->version > EVBS_MAX_VERSION)
        return EVBS_EINVAL;
    long size = evbs_extradata_size(p, s->version);
    if ((size_t)size > out_size)
        return EVBS_ESPACE;
    uint8_t *b = out;
    memcpy(b, "EVTK", 4);
    b[4] = (uint8_t)s->version;
    b[5] = 0;
    memcpy(b + 6, s->fingerprint, EVBS_FINGERPRINT_SIZE);
    b += 6 + EVBS_FINGERPRINT_SIZE;
    put16(b, p->clip_frames);
    put16(b + 2, p->tile_h);
    put16(b + 4, p->tile_w);
    b[6] = (uint8_t)p->num_blocks;
    b[7] = (uint8_t)p->num_choices;
    b += 8;
    for (int i = 0; i < p->num_choices; i++, b += 2)
        put16(b, p->choices[i]);
    put32(b, (uint32_t)p->codebook_size);
    put32(b + 4, s->fps_num);
    put32(b + 8, s->fps_den);
    b += 12;
    if (s->version >= 2) {
        memcpy(b, s->entropy_fingerprint, EVBS_FINGERPRINT_SIZE);
        b += EVBS_FINGERPRINT_SIZE;
    }
    put32(b, evbs_crc32(out, (size_t)(b - out)));
    return size;
}

int evbs_parse_extradata(const uint8_t *buf, size_t size, EvbsStreamInfo *s, char *err, size_t err_size)
{
    const size_t fixed = 4 + 2 + EVBS_FINGERPRINT_SIZE + 8;
    if (!buf || size < fixed)
        return evbs_fail(err, err_size, EVBS_ECORRUPT, "evatok extradata missing or too short (%zu bytes)", size);
    if (memcmp(buf, "EVTK", 4))
        return evbs_fail(err, err_size, EVBS_ECORRUPT, "extradata is not an evatok stream header");
    if (buf[4] < EVBS_MIN_VERSION || buf[4] > EVBS_MAX_VERSION)
        return evbs_fail(err, err_size, EVBS_ECORRUPT, "unsupported stream header version %d (this build reads %d to %d)",
                    buf[4], EVBS_MIN_VERSION, EVBS_MAX_VERSION);
    memset(s, 0, sizeof(*s));
    s->version = buf[4];
    memcpy(s->fingerprint, buf + 6, EVBS_FINGERPRINT_SIZE);
    const uint8_t *b = buf + 6 + EVBS_FINGERPRINT_SIZE;
    EvbsParams *p = &s->params;
    p->clip_frames = get16(b);
    p->tile_h = get16(b + 2);
    p->tile_w = get16(b + 4);
    p->num_blocks = b[6];
    p->num_choices = b[7];
    if (p->num_choices < 1 || p->num_choices > EVBS_MAX_CHOICES)
        return evbs_fail(err, err_size, EVBS_ECORRUPT, "stream header has %d choices", p->num_choices);
    if (size != (size_t)evbs_extradata_size(p, s->version))
        return evbs_fail(err, err_size, EVBS_ECORRUPT, "stream header size %zu, expected %ld", size,
                    evbs_extradata_size(p, s->version));
    b += 8;
    for (int i = 0; i < p->num_choices; i++, b += 2)
        p->choices[i] = get16(b);
    p->codebook_size = (int)get32(b);
    s->fps_num = get32(b + 4);
    s->fps_den = get32(b + 8);
    b += 12;
    if (s->version >= 2) {
        memcpy(s->entropy_fingerprint, b, EVBS_FINGERPRINT_SIZE);
        b += EVBS_FINGERPRINT_SIZE;
    }
    if (get32(b) != evbs_crc32(buf, (size_t)(b - buf)))
        return evbs_fail(err, err_size, EVBS_ECORRUPT, "stream header checksum mismatch");
    if (buf[5] != 0)
        return evbs_fail(err, err_size, EVBS_ECORRUPT, "stream header reserved byte is %d, not 0", buf[5]);
    if (!params_ok(p))
        return evbs_fail(err, err_size, EVBS_ECORRUPT, "stream header geometry out of range");
    return EVBS_OK;
}
