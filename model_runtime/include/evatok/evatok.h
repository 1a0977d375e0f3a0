/*
 * libevatok: adaptive-length video tokenization (EVATok) behind a small C API.
 *
 * Plain C so FFmpeg's C code (and any other host) can call it. Every call that
 * can fail returns an EvatokStatus; a human-readable message goes into the
 * caller's `err` buffer when one is given. Nothing here aborts the host.
 *
 * Typical use:
 *   EvatokModel *m;  evatok_model_open(path, &opts, &m, err, sizeof err);
 *   evatok_encode_block(m, frames, n, &enc_opts, &pkt, &pkt_size, ...);
 *   evatok_decode_block(m, pkt, pkt_size, out_frames, n_out, ...);
 *   evatok_model_close(&m);
 *
 * Long videos: evatok_encode_packet / evatok_decode_packet with an
 * EvatokReference per stream write and read bitstream 3, where inter packets
 * repeat tiles of the previous packet's last decoded frame (docs/bitstream.md).
 *
 * Options structs: fill them with their *_default() call, then change the
 * fields you need; each ends in reserved bytes, so fields can be added
 * without breaking callers that do this.
 *
 * Threads: calls on different EvatokModel handles may run concurrently; calls
 * on one handle are serialised by a lock inside it (one inference at a time).
 * The *_default, *_string, *_get_info and evatok_version calls are
 * thread-safe. The `threads` open option (0 = every core) is how many
 * threads of its own a handle runs a packet's batches of tiles on; LibTorch
 * and OpenBLAS then compute in those threads (one intra-op thread each, set
 * process-wide at every open). The first
 * open also installs a caching allocator for LibTorch's CPU tensors and, where
 * OpenBLAS fell back to SSE3 kernels on a newer CPU, re-selects its kernels.
 *
 * Only the functions declared here and in evatok_ar.h are exported from
 * libevatok.so.
 */
#ifndef EVATOK_EVATOK_H
#define EVATOK_EVATOK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(EVATOK_BUILDING) && defined(__GNUC__)
#define EVATOK_API __attribute__((visibility("default")))
#else
#define EVATOK_API
#endif

#define EVATOK_API_VERSION 7      /* 2: *_default() for every options struct, reserved bytes;
                                     3: bitstream version 2 (entropy-coded), its option and calls;
                                        token access (evatok_packet_tokens, evatok_packet_build);
                                     4: bitstream version 3 (inter packets): EvatokReference,
                                        evatok_encode_packet, evatok_decode_packet,
                                        evatok_packet_is_keyframe, EVATOK_ERR_NO_REFERENCE;
                                     5: progressive decoding: evatok_decode_begin, evatok_decode_next;
                                     6: moved tiles in inter packets: EvatokEncodeOptions.inter_motion;
                                     7: EvatokSampleOptions.sample_known (prediction takes the blocks
                                        that the condition frames fill from the tokenizer by default) */
#define EVATOK_BITSTREAM_VERSION 2 /* what encoders write by default; 1 is still read and written */
#define EVATOK_BITSTREAM_MAX_VERSION 3 /* 3: keyframes as in 2, plus inter packets               */
#define EVATOK_MAX_CHOICES 8      /* token-count options per block            */
#define EVATOK_MAX_BLOCKS 16      /* temporal blocks per clip                 */
#define EVATOK_FINGERPRINT_SIZE 16

typedef enum EvatokStatus {
    EVATOK_OK = 0,
    EVATOK_ERR_INVALID_ARGUMENT = -1, /* bad option value, NULL pointer, bad size   */
    EVATOK_ERR_IO = -2,               /* file missing or unreadable                  */
    EVATOK_ERR_MODEL_FORMAT = -3,     /* not a valid evatok model file               */
    EVATOK_ERR_MODEL_MISMATCH = -4,   /* stream made with another model              */
    EVATOK_ERR_BITSTREAM = -5,        /* packet/extradata corrupt or out of bounds   */
    EVATOK_ERR_DEVICE = -6,           /* requested device unavailable                */
    EVATOK_ERR_NO_MEMORY = -7,
    EVATOK_ERR_UNSUPPORTED = -8,      /* valid but not supported by this build/model */
    EVATOK_ERR_INTERNAL = -9,         /* unexpected runtime failure (message says)   */
    EVATOK_ERR_NO_REFERENCE = -10     /* inter packet whose reference is missing (a
                                         seek or a lost packet): wait for a keyframe */
} EvatokStatus;

/* Short static name of a status code ("invalid argument", ...). */
EVATOK_API const char *evatok_status_string(EvatokStatus status);

/* The library's version, "MAJOR.MINOR.PATCH" (static string). */
EVATOK_API const char *evatok_version(void);

typedef struct EvatokModel EvatokModel;

/* Geometry and vocabulary of a loaded tokenizer model (read-only). */
typedef struct EvatokModelInfo {
    char name[64];
    int clip_frames;                 /* frames per clip, e.g. 16                 */
    int clip_height, clip_width;     /* native tile size, e.g. 64x64 or 128x128  */
    int patch_t, patch_s;            /* 3D patch: frames, pixels                 */
    int num_blocks;                  /* clip_frames / patch_t                    */
    int num_choices;
    int choices[EVATOK_MAX_CHOICES]; /* tokens per block, descending             */
    int codebook_size;
    int has_router;                  /* router weights present in the file       */
    int64_t num_parameters;
    uint8_t fingerprint[EVATOK_FINGERPRINT_SIZE];  /* the whole file             */
    char fingerprint_hex[2 * EVATOK_FINGERPRINT_SIZE + 1];
    /* Tokens and decoding only (no router, reward statistics or name): what
     * stream headers and AR models record, so a retrained router keeps them
     * valid. */
    uint8_t codec_fingerprint[EVATOK_FINGERPRINT_SIZE];
    char codec_fingerprint_hex[2 * EVATOK_FINGERPRINT_SIZE + 1];
    /* Bitstream v2's probability tables (`evatok entropy-tables`): 0 means v2
     * codes with the built-in model (see docs/bitstream.md). The fingerprint
     * (all zero without tables) is what v2 stream headers carry. */
    int has_entropy_tables;
    uint8_t entropy_fingerprint[EVATOK_FINGERPRINT_SIZE];
    char entropy_fingerprint_hex[2 * EVATOK_FINGERPRINT_SIZE + 1];
} EvatokModelInfo;

typedef struct EvatokOpenOptions {
    const char *device; /* "cpu" (default, NULL), "cuda", "cuda:N"               */
    int threads;        /* CPU threads over a packet's tiles; 0 = every core     */
    uint8_t reserved[32];
} EvatokOpenOptions;

/* Fills defaults: cpu, threads 0. */
EVATOK_API void evatok_open_options_default(EvatokOpenOptions *opts);

/* Path used when the caller gives none: $EVATOK_MODEL if set, else the
 * build's installed default model (see docs/user-guide.md). */
EVATOK_API const char *evatok_default_model_path(void);

EVATOK_API EvatokStatus evatok_model_open(const char *path, const EvatokOpenOptions *opts,
                               EvatokModel **out, char *err, size_t err_size);
EVATOK_API void evatok_model_close(EvatokModel **model);
EVATOK_API const EvatokModelInfo *evatok_model_get_info(const EvatokModel *model);

/* ---- images -------------------------------------------------------------- */

typedef enum EvatokPixelFormat {
    EVATOK_PIX_RGB24 = 0,   /* packed R,G,B bytes; data[0]/linesize[0]          */
    EVATOK_PIX_YUV420P = 1  /* planar 8-bit 4:2:0, BT.601 limited range          */
} EvatokPixelFormat;

typedef struct EvatokImage {
    uint8_t *data[3];
    int linesize[3];
} EvatokImage;

/* ---- assignment (how many tokens each block gets) ------------------------ */

typedef enum EvatokAssignMode {
    EVATOK_ASSIGN_ROUTER = 0,  /* router network predicts the assignment       */
    EVATOK_ASSIGN_UNIFORM = 1, /* every block gets uniform_tokens              */
    EVATOK_ASSIGN_SEARCH = 2,  /* max proxy reward, separable score: one pass
                                  per token count (about 5x ROUTER's work)     */
    EVATOK_ASSIGN_EXACT = 3    /* max proxy reward, every candidate decoded
                                  (shared prefixes; seconds per tile-clip)     */
} EvatokAssignMode;

typedef struct EvatokEncodeOptions {
    EvatokAssignMode mode;
    int uniform_tokens;  /* for EVATOK_ASSIGN_UNIFORM: one of info->choices    */
    float wq, wl;        /* reward weights for SEARCH/EXACT (defaults 1.2, 0.8);
                            ROUTER takes wq as its rate input                  */
    int bitstream_version; /* packet version: 2 (entropy-coded, the default),
                              1 (fixed-width tokens, for older decoders), or
                              3 (inter packets, with evatok_encode_packet)   */
    float inter_tolerance_db; /* evatok_encode_packet: a tile repeats the
                              reference when that costs at most this much
                              PSNR against coding it (default 0.25)          */
    int inter_carry;      /* evatok_encode_packet, models with temporal carry:
                              1: a tile of an inter packet may code its first
                              block with the fewest tokens and carry it from
                              the previous packet's last frame (one more
                              encode and decode per packet); 0 (default): no,
                              as the shipped model was not trained for it    */
    int inter_motion;     /* evatok_encode_packet: 1 (default): a tile of an
                              inter packet may show the previous packet's last
                              frame moved at a constant velocity (2 bytes, no
                              tokens) when that costs at most
                              inter_tolerance_db; 0: tiles only repeat it    */
    uint8_t reserved[16];
} EvatokEncodeOptions;

/* Fills defaults: router, wq=1.2, wl=0.8, bitstream version 2, inter
 * tolerance 0.25 dB, inter carry off. */
EVATOK_API void evatok_encode_options_default(EvatokEncodeOptions *opts);

/* ---- packets --------------------------------------------------------------
 * One packet = one clip_frames-frame group of a whole frame (all tiles). The
 * calls here make and read self-contained keyframes; inter packets (bitstream
 * 3) are below. Layout: docs/bitstream.md. */

typedef struct EvatokPacketInfo {
    int version;
    int width, height;            /* output frame size                          */
    int nb_frames;                /* true frames in this packet (1..clip_frames) */
    int tiles_x, tiles_y;
    int num_blocks;
    int total_tokens;             /* sum over tiles and blocks                   */
} EvatokPacketInfo;

/* Encodes nb_frames (1..clip_frames) frames of width x height. Fewer frames
 * than clip_frames are padded (last frame repeated) and their true count is
 * stored. On success *packet is allocated with evatok_free-able memory. */
EVATOK_API EvatokStatus evatok_encode_block(EvatokModel *model, const EvatokImage *frames, int nb_frames,
                                 int width, int height, EvatokPixelFormat fmt,
                                 const EvatokEncodeOptions *opts,
                                 uint8_t **packet, size_t *packet_size,
                                 char *err, size_t err_size);

/* Parses and validates a packet header against the model (no network run). */
EVATOK_API EvatokStatus evatok_packet_probe(const EvatokModel *model, const uint8_t *packet, size_t size,
                                 EvatokPacketInfo *info, char *err, size_t err_size);

/* Writes the token count of every (tile, block) of a packet into
 * tokens_per_block (tiles in raster order, blocks inner), at most max_entries
 * values; *count receives tiles * blocks. */
EVATOK_API EvatokStatus evatok_packet_assignment(const EvatokModel *model, const uint8_t *packet, size_t size,
                                      int *tokens_per_block, int max_entries, int *count,
                                      char *err, size_t err_size);

/* Reads a packet's tokens: tokens_per_block gets the token count of every
 * (tile, block) as evatok_packet_assignment writes it (at most max_entries),
 * ids every token id (tiles in raster order, then blocks, then tokens; at most
 * max_ids). *nb_entries and *nb_ids receive the packet's counts, also when an
 * array is too small (then EVATOK_ERR_INVALID_ARGUMENT: call again with room).
 * In an inter packet every block of a skipped tile counts 0 tokens. */
EVATOK_API EvatokStatus evatok_packet_tokens(const EvatokModel *model, const uint8_t *packet, size_t size,
                                  int *tokens_per_block, int max_entries, int *nb_entries,
                                  uint32_t *ids, size_t max_ids, size_t *nb_ids,
                                  char *err, size_t err_size);
/* Builds a packet from tokens made elsewhere (sampled by another model, read
 * from a token dataset): a frame of width x height, nb_frames frames
 * (1..clip_frames), tokens_per_block for every (tile, block) of that frame's
 * tile grid (each one of the model's choices), and ids in the order above
 * (each below the codebook size). version: bitstream version, 0 = default.
 * With version 3, a tile with 0 tokens in every block is skipped: the packet
 * is then an inter packet. Every count and id is checked; *packet is
 * evatok_free-able. */
EVATOK_API EvatokStatus evatok_packet_build(const EvatokModel *model, int width, int height, int nb_frames,
                                 const int *tokens_per_block, int nb_entries,
                                 const uint32_t *ids, size_t nb_ids, int version,
                                 uint8_t **packet, size_t *packet_size, char *err, size_t err_size);
/* Decodes a keyframe packet into up to max_frames caller-owned images of the
 * packet's width x height in `fmt`. *nb_frames receives the true frame count.
 * An inter packet is EVATOK_ERR_NO_REFERENCE: use evatok_decode_packet. */
EVATOK_API EvatokStatus evatok_decode_block(EvatokModel *model, const uint8_t *packet, size_t size,
                                 const EvatokImage *frames, int max_frames, EvatokPixelFormat fmt,
                                 int *nb_frames, char *err, size_t err_size);

/* ---- inter packets (bitstream 3) -----------------------------------------
 * An inter packet codes some tiles as a keyframe does and marks the others
 * as repeating the stream's reference: per tile, the mean of the previous
 * packet's decoded frames. The encoder and the decoder each keep one
 * EvatokReference per stream, and the packet calls update it. */

typedef struct EvatokReference EvatokReference;

EVATOK_API EvatokStatus evatok_reference_new(EvatokReference **ref);
/* Forgets the reference (after a seek): inter packets are refused with
 * EVATOK_ERR_NO_REFERENCE until the next keyframe. */
EVATOK_API void evatok_reference_reset(EvatokReference *ref);
EVATOK_API void evatok_reference_free(EvatokReference **ref);

/* Encodes like evatok_encode_block. With ref and bitstream version 3 (in
 * opts), and keyframe == 0, the packet is an inter packet if some tile of it
 * is best repeated from ref (see inter_tolerance_db), else a keyframe; the
 * call then decodes what it coded to update ref, which costs about one
 * decode. keyframe != 0 forces a keyframe. ref == NULL or a version below 3:
 * keyframes only (ref, if given, is reset). */
EVATOK_API EvatokStatus evatok_encode_packet(EvatokModel *model, const EvatokImage *frames, int nb_frames,
                                  int width, int height, EvatokPixelFormat fmt,
                                  const EvatokEncodeOptions *opts, EvatokReference *ref, int keyframe,
                                  uint8_t **packet, size_t *packet_size, char *err, size_t err_size);

/* Decodes like evatok_decode_block, and updates ref (may be NULL for a
 * keyframe). An inter packet without its reference (none yet, a frame size
 * change, another model) is EVATOK_ERR_NO_REFERENCE and writes no frame. */
EVATOK_API EvatokStatus evatok_decode_packet(EvatokModel *model, const uint8_t *packet, size_t size,
                                  EvatokReference *ref, const EvatokImage *frames, int max_frames,
                                  EvatokPixelFormat fmt, int *nb_frames, char *err, size_t err_size);

/* Progressive decoding, for players: evatok_decode_packet's work one
 * temporal block at a time, so that a packet's first frames are ready after
 * a fraction of it (the default model: 4 of 16 frames per block).
 * evatok_decode_begin checks the packet and the images as evatok_decode_packet
 * does, sets *nb_frames and keeps the decoding state in ref; the packet may
 * be freed then, the images must stay valid until the packet is done. Each
 * evatok_decode_next decodes the next block into its frames and sets
 * *nb_ready to the number of the packet's first frames that are complete;
 * when it reaches *nb_frames the packet is done and ref is updated as
 * evatok_decode_packet updates it. A new begin or evatok_reference_reset
 * abandons an unfinished packet; an error forgets the reference. Memory: the
 * state of every coded tile lives until the packet is done (about 1 MB per
 * 64x64 tile with the default model, on top of its decoded frames). */
EVATOK_API EvatokStatus evatok_decode_begin(EvatokModel *model, const uint8_t *packet, size_t size,
                                 EvatokReference *ref, const EvatokImage *frames, int max_frames,
                                 EvatokPixelFormat fmt, int *nb_frames, char *err, size_t err_size);
EVATOK_API EvatokStatus evatok_decode_next(EvatokModel *model, EvatokReference *ref, int *nb_ready,
                                char *err, size_t err_size);

/* 1: the packet is a keyframe (every version-1 and -2 packet is); 0: an
 * inter packet; < 0: not a packet of a known version. Reads the first bytes
 * only: for demuxers and parsers, no model needed. */
EVATOK_API int evatok_packet_is_keyframe(const uint8_t *packet, size_t size);

/* ---- extradata (codec private data, identifies the model) ---------------- */

/* Writes the stream header for `model` and the stream's frame rate
 * (fps_num/fps_den, frames per second; 0/0 if unknown); *data is
 * evatok_free-able. The decoder needs the rate to time frames 2..N of a packet,
 * because containers keep only one timestamp per packet. */
EVATOK_API EvatokStatus evatok_extradata_create(const EvatokModel *model, int fps_num, int fps_den,
                                     uint8_t **data, size_t *size, char *err, size_t err_size);
/* The same for a stream of packets of bitstream `version` (1 to 3; 0 = the
 * default): the header's version must match its packets'. A version-2 or -3
 * header also names the model's entropy tables. */
EVATOK_API EvatokStatus evatok_extradata_create_version(const EvatokModel *model, int version, int fps_num,
                                             int fps_den, uint8_t **data, size_t *size,
                                             char *err, size_t err_size);
/* Checks that a stream header was made with `model` (codec fingerprint, or the
 * whole-file one that older streams carry, + geometry; for version 2 also the
 * entropy tables)
 * and returns the stored frame rate (either pointer may be NULL). Works with
 * model == NULL to validate the header alone. */
EVATOK_API EvatokStatus evatok_extradata_check(const EvatokModel *model, const uint8_t *data, size_t size,
                                    int *fps_num, int *fps_den, char *err, size_t err_size);

EVATOK_API void evatok_free(void *ptr);

#ifdef __cplusplus
}
#endif
#endif /* EVATOK_EVATOK_H */
