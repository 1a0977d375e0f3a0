/* EVATok bitstream: packet and extradata layout, versions 1 to 3
 * (docs/bitstream.md).
 * Plain C, no LibTorch: the parser is unit-tested and fuzzed on its own. */
#ifndef EVATOK_BITSTREAM_H
#define EVATOK_BITSTREAM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EVBS_PACKET_MAGIC 0xEA
#define EVBS_VERSION 2            /* written by default (keyframe-only streams) */
#define EVBS_MIN_VERSION 1        /* oldest version read (and written on request) */
#define EVBS_MAX_VERSION 3        /* newest version read and written: inter packets */
#define EVBS_FLAG_INTER 1         /* version 3 packet flag: refers to the previous
                                     packet (skipped or carrying tiles)       */
#define EVBS_FLAG_CARRY 2         /* with EVBS_FLAG_INTER: a carry map follows the
                                     skip map (tiles whose first block carries
                                     from the previous packet's last frame)   */
#define EVBS_FLAG_MOVE 4          /* with EVBS_FLAG_INTER: a move map and motion
                                     follow (skipped tiles that show the
                                     previous packet's last frame, moved)     */
#define EVBS_MOTION_BYTES 4       /* per moved tile: velocity x, y in 1/16
                                     pixel per frame, offset x, y in 1/4 pixel,
                                     signed bytes                              */
#define EVBS_MAX_DIM 16384       /* frame width/height limit                 */
#define EVBS_MAX_CHOICES 8
#define EVBS_MAX_BLOCKS 16
#define EVBS_FINGERPRINT_SIZE 16

struct EvbsEntropy;

/* What the model fixes; every packet field is checked against it. */
typedef struct EvbsParams {
    int clip_frames, tile_h, tile_w;
    int num_blocks;
    int num_choices;
    int choices[EVBS_MAX_CHOICES];
    int codebook_size;
    /* version 2's tables (token_model.h); NULL: the built-in uniform model */
    const struct EvbsEntropy *entropy;
} EvbsParams;

typedef struct EvbsHeader {
    int version;                  /* 1..3; evbs_header_init sets EVBS_VERSION */
    int width, height, nb_frames;
    int tiles_x, tiles_y;
    int num_blocks, bits_per_token;
    /* Version 3 inter packets (flags & EVBS_FLAG_INTER): skip_map has one bit
     * per tile, most significant bit first, 1 = the tile repeats the
     * reference; carry_map (flags & EVBS_FLAG_CARRY, else NULL) the same for
     * coded tiles whose first block carries from the previous packet's last
     * frame. They point into the parsed packet, or at the writer's maps.
     * skipped and carried count the set bits. Keyframes: flags 0, maps NULL.
     * move_map (flags & EVBS_FLAG_MOVE, else NULL): skipped tiles that show the
     * previous packet's last frame moved by a vector instead of repeating the
     * reference's mean; motion holds EVBS_MOTION_BYTES per moved tile, raster
     * order: (vx, vy, ox, oy), and frame f of the packet (from 0) is the last
     * frame moved by (ox, oy) / 4 + (f + 1) * (vx, vy) / 16 pixels. */
    int flags;
    long skipped, carried, moved;
    const uint8_t *skip_map, *carry_map, *move_map;
    const int8_t *motion;
} EvbsHeader;

/* Result codes; 0 is success. */
enum { EVBS_OK = 0, EVBS_EINVAL = -1, EVBS_ECORRUPT = -2, EVBS_ESPACE = -3 };

int evbs_bits_per_token(int codebook_size);
int evbs_tiles(int size, int tile);

/* Fills a header for a frame of width x height with nb_frames frames. */
int evbs_header_init(const EvbsParams *p, int width, int height, int nb_frames, EvbsHeader *h);

/* Whether tile t of an inter packet repeats the reference, or carries from
 * the previous packet (0 in keyframes). */
int evbs_tile_skipped(const EvbsHeader *h, long t);
int evbs_tile_carried(const EvbsHeader *h, long t);
int evbs_tile_moved(const EvbsHeader *h, long t);

/* Makes a version-3 header an inter packet's: skip and carry (NULL: none)
 * have one bit per tile (see EvbsHeader); no tile in both, at least one bit
 * set in all. The maps must outlive the writing. */
int evbs_set_inter(EvbsHeader *h, const uint8_t *skip, const uint8_t *carry);
/* After evbs_set_inter: moved tiles (a map like the others, only skipped
 * tiles, at least one) and their motion (EVBS_MOTION_BYTES per moved tile,
 * raster order). */
int evbs_set_motion(EvbsHeader *h, const uint8_t *move, const int8_t *motion);

/* Assignment entries of a packet: coded tiles times blocks (skipped tiles of
 * an inter packet have none). choice_idx arrays hold this many. */
long evbs_num_entries(const EvbsHeader *h);

/* 1 for a keyframe packet, 0 for an inter packet, < 0 if buf does not start
 * like a packet of a known version. Reads two bytes of header only. */
int evbs_packet_is_keyframe(const uint8_t *buf, size_t size);

/* Total tokens of an assignment (evbs_num_entries choice indices). */
long evbs_total_tokens(const EvbsParams *p, const EvbsHeader *h, const uint8_t *choice_idx);

/* Exact version-1 packet size in bytes for this header and assignment, or < 0
 * (for version 2, which depends on the tokens: evbs_coded_packet_size). */
long evbs_packet_size(const EvbsParams *p, const EvbsHeader *h, const uint8_t *choice_idx);

/* Exact size of the packet that evbs_write_packet writes (version 2 codes
 * the tokens to count them). */
long evbs_coded_packet_size(const EvbsParams *p, const EvbsHeader *h, const uint8_t *choice_idx,
                            const uint32_t *tokens);

/* Writes a packet of h->version. tokens holds evbs_total_tokens() indices, coded
 * tiles in raster order, blocks in order, tokens in order. Returns bytes
 * written or < 0. */
long evbs_write_packet(const EvbsParams *p, const EvbsHeader *h, const uint8_t *choice_idx,
                       const uint32_t *tokens, uint8_t *out, size_t out_size);

/* Validates a whole packet (header, assignment, size, checksum; in version 2
 * also that the coded tokens end exactly at the checksum) and fills h.
 * err receives a readable reason on failure. */
int evbs_parse_header(const EvbsParams *p, const uint8_t *buf, size_t size, EvbsHeader *h,
                      char *err, size_t err_size);

/* After evbs_parse_header: copies the assignment (evbs_num_entries indices). */
int evbs_read_assignment(const EvbsParams *p, const EvbsHeader *h, const uint8_t *buf, size_t size,
                         uint8_t *choice_idx);

/* After evbs_parse_header: copies the assignment (evbs_num_entries) and the
 * tokens (at most max_tokens). Token values are checked against the codebook. */
int evbs_read_payload(const EvbsParams *p, const EvbsHeader *h, const uint8_t *buf, size_t size,
                      uint8_t *choice_idx, uint32_t *tokens, long max_tokens,
                      char *err, size_t err_size);

/* ---- extradata ---- */
typedef struct EvbsStreamInfo {
    int version;                  /* 1..3: the packets' version               */
    uint8_t fingerprint[EVBS_FINGERPRINT_SIZE];
    /* versions 2, 3: fingerprint of the entropy tables, all zero for the built-in
     * model */
    uint8_t entropy_fingerprint[EVBS_FINGERPRINT_SIZE];
    EvbsParams params;
    uint32_t fps_num, fps_den;
} EvbsStreamInfo;

long evbs_extradata_size(const EvbsParams *p, int version);
long evbs_write_extradata(const EvbsStreamInfo *s, uint8_t *out, size_t out_size);
int evbs_parse_extradata(const uint8_t *buf, size_t size, EvbsStreamInfo *s, char *err, size_t err_size);

uint32_t evbs_crc32(const uint8_t *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
