// The C API (include/evatok/evatok.h): validates arguments, converts C
// structs to clips, calls Model, packs packets. No exception crosses it.
#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <sys/stat.h>

#include "api/api_internal.h"
#include "api/tile_motion.h"
#include "bitstream/bitstream.h"
#include "evatok/evatok.h"
#include "core/frames.h"
#include "tokenizer/model.h"
#include "core/safetensors.h"

using namespace evatok;

namespace evatok {

bool file_exists(const char* p) {
  struct stat st;
  return p && stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

EvatokStatus open_device(const EvatokOpenOptions* opts, torch::Device* device, char* err, size_t es) {
  const std::string dev = opts && opts->device && *opts->device ? opts->device : "cpu";
  *device = torch::Device(torch::kCPU);
  if (dev == "cpu") return EVATOK_OK;
  try {
    *device = torch::Device(dev);
  } catch (const std::exception&) {
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "unknown device '%s' (use cpu, cuda or cuda:N)", dev.c_str());
  }
  if (device->is_cuda() && !torch::cuda::is_available())
    return set_err(err, es, EVATOK_ERR_DEVICE, "device '%s' requested but this LibTorch has no usable CUDA", dev.c_str());
  if (!device->is_cpu() && !device->is_cuda())
    return set_err(err, es, EVATOK_ERR_UNSUPPORTED, "device '%s' is not supported", dev.c_str());
  return EVATOK_OK;
}

EvatokStatus check_images(const EvatokImage* frames, int n, int f, char* err, size_t es) {
  if (f != EVATOK_PIX_RGB24 && f != EVATOK_PIX_YUV420P)
    return set_err(err, es, EVATOK_ERR_UNSUPPORTED, "unsupported pixel format %d", f);
  for (int i = 0; i < n; ++i) {
    const int planes = f == EVATOK_PIX_RGB24 ? 1 : 3;
    for (int p = 0; p < planes; ++p)
      if (!frames[i].data[p] || frames[i].linesize[p] <= 0)
        return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "frame %d plane %d has no data", i, p);
  }
  return EVATOK_OK;
}

}  // namespace evatok

namespace {

TileGrid grid_for(const EvatokModel* m, int width, int height) {
  const auto& c = m->model->cfg;
  return TileGrid{width, height, c.clip_width, c.clip_height, evbs_tiles(width, c.clip_width),
                  evbs_tiles(height, c.clip_height)};
}

// Validates a packet against the model; optionally reads its assignment
// (choice index per coded tile and block).
EvatokStatus parse_packet(const EvatokModel* m, const uint8_t* pkt, size_t size, EvbsHeader* h,
                          std::vector<uint8_t>* choice_idx, char* err, size_t es) {
  char msg[256];
  if (evbs_parse_header(&m->params, pkt, size, h, msg, sizeof msg))
    return set_err(err, es, EVATOK_ERR_BITSTREAM, "invalid packet: %s", msg);
  if (choice_idx) {
    choice_idx->resize((size_t)evbs_num_entries(h));
    if (evbs_read_assignment(&m->params, h, pkt, size, choice_idx->data()))
      return set_err(err, es, EVATOK_ERR_BITSTREAM, "invalid packet: unreadable assignment");
  }
  return EVATOK_OK;
}

// Token counts of every (tile, block) of a packet: the coded tiles' from
// their choice indices, 0 for each block of a skipped tile.
std::vector<int> all_tile_counts(const EvatokModel* m, const EvbsHeader& h, const std::vector<uint8_t>& ci) {
  std::vector<int> out;
  const long tiles = (long)h.tiles_x * h.tiles_y;
  size_t k = 0;
  for (long t = 0; t < tiles; ++t)
    for (int b = 0; b < h.num_blocks; ++b) out.push_back(evbs_tile_skipped(&h, t) ? 0 : m->params.choices[ci[k++]]);
  return out;
}

// Tiles per network call: measured fastest on 2 cores (vs 1, 2, 8, 32) and
// bounds memory. Also for small packets: splitting a 128x128 frame (4 tiles)
// into two batches of 2 on two threads was slower (96 frames decoded in 1.57 s
// against 1.36 s, 2026-12-06), and a tile's last bits can change with the size
// of its batch.
constexpr int kTileBatch = 4;

// The assignment and tokens of tiles [n, 3, T, H, W]: tile t's blocks are
// ci[t*nb ..], its tokens tokens[off[t] .. off[t+1]).
struct TileCodes {
  std::vector<uint8_t> ci;
  std::vector<uint32_t> tokens;
  std::vector<size_t> off{0};
};

// Encodes tiles with the assignment o asks for, or with `given` (one per
// tile) when it is not empty.
TileCodes encode_tiles(EvatokModel* m, const torch::Tensor& tiles, const EvatokEncodeOptions& o,
                       const std::vector<Assignment>& given = {}) {
  const auto& cfg = m->model->cfg;
  const int64_t n = tiles.size(0);
  const int batches = (int)((n + kTileBatch - 1) / kTileBatch);
  std::vector<std::vector<Assignment>> as(batches);
  std::vector<std::vector<std::vector<int64_t>>> toks(batches);
  for_each_parallel(m->workers, batches, [&](int j) {
    const int64_t s = (int64_t)j * kTileBatch, e = std::min(n, s + kTileBatch);
    auto batch = tiles.slice(0, s, e);
    if (!given.empty()) {
      as[j].assign(given.begin() + s, given.begin() + e);
    } else if (o.mode == EVATOK_ASSIGN_ROUTER) {
      as[j] = m->model->route(batch, o.wq);
    } else if (o.mode == EVATOK_ASSIGN_SEARCH || o.mode == EVATOK_ASSIGN_EXACT) {
      as[j] = m->model->search(batch, o.wq, o.wl, o.mode == EVATOK_ASSIGN_EXACT);
    } else {
      as[j].assign(batch.size(0), Assignment(cfg.num_blocks(), cfg.choice_index(o.uniform_tokens)));
    }
    toks[j] = m->model->encode(batch, as[j]);
  });
  TileCodes c;
  for (int j = 0; j < batches; ++j)
    for (size_t i = 0; i < as[j].size(); ++i) {
      for (int ch : as[j][i]) c.ci.push_back((uint8_t)ch);
      for (int64_t t : toks[j][i]) c.tokens.push_back((uint32_t)t);
      c.off.push_back(c.tokens.size());
    }
  return c;
}

// Decodes the tiles whose codes are ci (nb entries per tile) and tokens, in
// order, kTileBatch at a time: [tiles, 3, T, H, W] on the CPU. before: each
// tile's previous frame [tiles, 3, H, W] for its first block's carry, or
// undefined.
torch::Tensor decode_tiles(EvatokModel* m, const uint8_t* ci, long tiles, const uint32_t* tokens,
                           const torch::Tensor& before = {}) {
  const auto& cfg = m->model->cfg;
  const int nb = cfg.num_blocks();
  const int batches = (int)((tiles + kTileBatch - 1) / kTileBatch);
  std::vector<std::vector<Assignment>> as(batches);
  std::vector<std::vector<std::vector<int64_t>>> toks(batches);
  size_t tpos = 0;
  for (long t = 0; t < tiles; ++t) {
    Assignment a(ci + t * nb, ci + (t + 1) * nb);
    int len = 0;
    for (int c : a) len += cfg.choices[c];
    toks[t / kTileBatch].emplace_back(tokens + tpos, tokens + tpos + len);
    tpos += len;
    as[t / kTileBatch].push_back(a);
  }
  std::vector<torch::Tensor> outs(batches);
  for_each_parallel(m->workers, batches, [&](int j) {
    const long s = (long)j * kTileBatch, e = std::min(tiles, s + kTileBatch);
    outs[j] = m->model->decode(as[j], toks[j], before.defined() ? before.slice(0, s, e) : before).cpu();
  });
  return torch::cat(outs, 0);
}

// Checks and completes encoder options (defaults when opts is NULL).
EvatokStatus encode_options(const EvatokModel* m, const EvatokEncodeOptions* opts, EvatokEncodeOptions* o, char* err,
                            size_t es) {
  const auto& cfg = m->model->cfg;
  evatok_encode_options_default(o);
  if (opts) memcpy(o, opts, sizeof *o);
  if (const int mode = enum_value(o->mode); mode < EVATOK_ASSIGN_ROUTER || mode > EVATOK_ASSIGN_EXACT)
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "unknown assignment mode %d", mode);
  if (o->mode == EVATOK_ASSIGN_UNIFORM && cfg.choice_index(o->uniform_tokens) < 0) {
    std::string list;
    for (int c : cfg.choices) list += (list.empty() ? "" : ", ") + std::to_string(c);
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "uniform token count %d is not one of the model's choices (%s)",
                   o->uniform_tokens, list.c_str());
  }
  if (o->mode == EVATOK_ASSIGN_ROUTER && !m->model->has_router)
    return set_err(err, es, EVATOK_ERR_UNSUPPORTED, "model '%s' has no trained router; use the uniform or search assignment",
                   cfg.name.c_str());
  if (!(o->wq >= 0 && o->wq <= 100) || !(o->wl >= 0 && o->wl <= 100))
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "reward weights must be in 0..100");
  if (!(o->inter_tolerance_db >= 0 && o->inter_tolerance_db <= 20))
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "inter tolerance must be in 0..20 dB");
  if (o->inter_motion != 0 && o->inter_motion != 1)
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "inter_motion must be 0 or 1, not %d", o->inter_motion);
  if (o->bitstream_version == 0) o->bitstream_version = EVBS_VERSION;
  if (o->bitstream_version < EVBS_MIN_VERSION || o->bitstream_version > EVBS_MAX_VERSION)
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "bitstream version %d: this build writes %d to %d",
                   o->bitstream_version, EVBS_MIN_VERSION, EVBS_MAX_VERSION);
  return EVATOK_OK;
}

// The caller's pixel format is taken by reference until check_images has
// seen its value: a C caller may pass any int, and loading one outside the
// enum's range as the enum is undefined behaviour in C++.
EvatokStatus check_frames_args(const EvatokModel* m, const EvatokImage* frames, int nb_frames, int width, int height,
                               const EvatokPixelFormat& fmt, char* err, size_t es) {
  const auto& cfg = m->model->cfg;
  if (nb_frames < 1 || nb_frames > cfg.clip_frames)
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "frame count %d not in 1..%d", nb_frames, cfg.clip_frames);
  if (width < 1 || height < 1 || width > EVBS_MAX_DIM || height > EVBS_MAX_DIM)
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "frame size %dx%d not in 1..%d", width, height, EVBS_MAX_DIM);
  return check_images(frames, nb_frames, enum_value(fmt), err, es);
}

EvatokStatus write_packet(const EvatokModel* m, const EvbsHeader& h, const uint8_t* ci, const uint32_t* tokens,
                          uint8_t** packet, size_t* packet_size, char* err, size_t es) {
  const long size = evbs_coded_packet_size(&m->params, &h, ci, tokens);
  if (size <= 0) return set_err(err, es, EVATOK_ERR_INTERNAL, "packet size computation failed");
  auto* buf = static_cast<uint8_t*>(malloc((size_t)size));
  if (!buf) return set_err(err, es, EVATOK_ERR_NO_MEMORY, "out of memory");
  if (evbs_write_packet(&m->params, &h, ci, tokens, buf, (size_t)size) != size) {
    free(buf);
    return set_err(err, es, EVATOK_ERR_INTERNAL, "packet writing failed");
  }
  *packet = buf;
  *packet_size = (size_t)size;
  return EVATOK_OK;
}

}  // namespace

// A stream's reference for the next inter packet, per tile, from the
// previous packet's decoded frames (as shown, i.e. clamped): their mean,
// which skipped tiles repeat, and the last frame, which carrying tiles'
// first block carries from. For a still tile the mean is at least as close
// to the source as the frames themselves are on average, so repeating it
// never loses to coding the tile again. `model` and the size say which
// stream it belongs to.
namespace {

// A packet being decoded one temporal block at a time (evatok_decode_begin,
// evatok_decode_next; evatok_decode_packet runs both). `out` holds every
// tile's frames as they are decoded, the skipped tiles' from the start: the
// next reference is made from it. Each group is a batch of coded tiles
// decoded together (at most kTileBatch), `where` their tile indices.
struct PacketDecode {
  const EvatokModel* model = nullptr;
  EvbsHeader h{};
  TileGrid grid{};
  EvatokPixelFormat fmt = EVATOK_PIX_RGB24;
  std::vector<EvatokImage> frames;
  torch::Tensor out;  // [tiles, 3, T, H, W]
  struct Group {
    torch::Tensor where;
    std::unique_ptr<BlockDecoder> dec;
  };
  std::vector<Group> groups;
  int block = 0, blocks = 0;  // next block; blocks that hold shown frames
  bool keep = true;           // update the reference when done
  int ready() const { return std::min(block * model->model->cfg.patch_t, h.nb_frames); }
};

}  // namespace

struct EvatokReference {
  torch::Tensor mean, last;  // [tiles, 3, H, W]; undefined: none yet (wait for a keyframe)
  const EvatokModel* model = nullptr;
  int width = 0, height = 0;
  std::unique_ptr<PacketDecode> pending;  // a packet begun and not finished
  bool valid(const EvatokModel* m, int w, int h) const {
    return mean.defined() && model == m && width == w && height == h;
  }
};

namespace {

void set_reference(EvatokReference* ref, const EvatokModel* m, int w, int h, const torch::Tensor& tiles, int nb_frames) {
  if (!ref) return;
  auto shown = tiles.slice(2, 0, nb_frames).clamp(-0.5, 0.5);
  ref->mean = shown.mean(2).contiguous();
  ref->last = shown.select(2, nb_frames - 1).contiguous();
  ref->model = m;
  ref->width = w;
  ref->height = h;
}

// Checks a packet and the caller's images, reads its assignment and tokens,
// and sets up ref->pending: one BlockDecoder per batch of coded tiles (the
// carrying tiles of an inter packet apart, with the reference's last frame).
// No block is decoded yet. keep = false: ref is private (keyframes only).
EvatokStatus decode_begin(EvatokModel* m, const uint8_t* pkt, size_t size, EvatokReference* ref, bool keep,
                          const EvatokImage* frames, int max_frames, const EvatokPixelFormat& fmt, int* nb_frames,
                          char* err, size_t es) {
  *nb_frames = 0;
  ref->pending.reset();  // abandons an unfinished packet
  EvbsHeader h;
  if (EvatokStatus st = parse_packet(m, pkt, size, &h, nullptr, err, es)) return st;
  if (max_frames < h.nb_frames)
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "packet holds %d frames, room for %d", h.nb_frames, max_frames);
  if (EvatokStatus st = check_images(frames, h.nb_frames, enum_value(fmt), err, es)) return st;
  const bool inter = (h.flags & EVBS_FLAG_INTER) != 0;
  if (inter && !keep)
    return set_err(err, es, EVATOK_ERR_NO_REFERENCE,
                   "inter packet: it refers to %ld tiles of the previous packet; decode the stream with "
                   "evatok_decode_packet and a reference",
                   h.skipped + h.carried);
  if (inter && !ref->valid(m, h.width, h.height))
    return set_err(err, es, EVATOK_ERR_NO_REFERENCE,
                   "inter packet without its reference (the previous packet's %dx%d frame): after a seek or a lost "
                   "packet, decoding resumes at the next keyframe",
                   h.width, h.height);
  return guarded(err, es, [&]() -> EvatokStatus {
    std::lock_guard<std::mutex> g(m->lock);
    c10::InferenceMode inference;  // no autograd records or version counters
    const auto& cfg = m->model->cfg;
    const long n_entries = evbs_num_entries(&h);
    std::vector<uint8_t> ci((size_t)n_entries + 1);
    const long max_tokens = n_entries * cfg.max_choice();
    std::vector<uint32_t> tokens((size_t)max_tokens + 1);
    char msg[256];
    if (evbs_read_payload(&m->params, &h, pkt, size, ci.data(), tokens.data(), max_tokens, msg, sizeof msg))
      return set_err(err, es, EVATOK_ERR_BITSTREAM, "invalid packet: %s", msg);
    auto p = std::make_unique<PacketDecode>();
    p->model = m;
    p->h = h;
    p->grid = grid_for(m, h.width, h.height);
    p->fmt = fmt;
    p->frames.assign(frames, frames + h.nb_frames);
    p->keep = keep;
    p->blocks = (h.nb_frames + cfg.patch_t - 1) / cfg.patch_t;  // later blocks are never shown
    const long n = (long)h.tiles_x * h.tiles_y;
    const int nb = h.num_blocks;
    // Skipped tiles hold the reference's mean frame in every frame.
    p->out = inter ? ref->mean.unsqueeze(2).expand({n, 3, cfg.clip_frames, cfg.clip_height, cfg.clip_width}).clone()
                   : torch::empty({n, 3, cfg.clip_frames, cfg.clip_height, cfg.clip_width});
    if (h.moved) {  // moved tiles: the reference's last frame, moved
      auto canvas = reference_canvas(ref->last, h.tiles_x, h.tiles_y);
      for (long t = 0, k = 0; t < n; ++t)
        if (evbs_tile_moved(&h, t)) {
          const int8_t* b = h.motion + EVBS_MOTION_BYTES * k;
          p->out[t].copy_(moved_tile(canvas, h.width, h.height, cfg.clip_width, cfg.clip_height, (int)(t % h.tiles_x),
                                     (int)(t / h.tiles_x), TileMotion{b[0], b[1], b[2], b[3]}, cfg.clip_frames));
          ++k;
        }
    }
    struct Spec {
      std::vector<Assignment> as;
      std::vector<std::vector<int64_t>> toks;
      torch::Tensor where, before;
    };
    std::vector<Spec> specs;
      for (int pass = 0; pass < (inter ? 2 : 1); ++pass) {
      std::vector<Assignment> as;
      std::vector<std::vector<int64_t>> toks;
      std::vector<int64_t> where;
      size_t tpos = 0;
      auto flush = [&]() {
        if (where.empty()) return;
        auto idx = torch::tensor(where, torch::kInt64);
        specs.push_back({std::move(as), std::move(toks), idx, pass ? ref->last.index_select(0, idx) : torch::Tensor()});
        as.clear(), toks.clear(), where.clear();
      };
      for (long t = 0, k = 0; t < n; ++t) {
        if (evbs_tile_skipped(&h, t)) continue;
        Assignment a(ci.begin() + k * nb, ci.begin() + (k + 1) * nb);
        size_t len = 0;
        for (int c : a) len += (size_t)cfg.choices[c];
        if (evbs_tile_carried(&h, t) == pass) {
          as.push_back(a);
          toks.emplace_back(tokens.begin() + (long)tpos, tokens.begin() + (long)(tpos + len));
          where.push_back(t);
          if ((int)where.size() == kTileBatch) flush();
        }
        tpos += len;
        ++k;
      }
      flush();
    }
    // A decoder's setup already runs the tokens through the cross-attention
    // projections: worth spreading over the threads too.
    p->groups.resize(specs.size());
    for_each_parallel(m->workers, (int)specs.size(), [&](int j) {
      p->groups[j] = {specs[j].where, m->model->block_decoder(specs[j].as, specs[j].toks, specs[j].before)};
    });
    ref->pending = std::move(p);
    *nb_frames = h.nb_frames;
    return EVATOK_OK;
  });
}

}  // namespace

extern "C" {

const char* evatok_status_string(EvatokStatus s) {
  switch (s) {
    case EVATOK_OK: return "success";
    case EVATOK_ERR_INVALID_ARGUMENT: return "invalid argument";
    case EVATOK_ERR_IO: return "I/O error";
    case EVATOK_ERR_MODEL_FORMAT: return "invalid model file";
    case EVATOK_ERR_MODEL_MISMATCH: return "model mismatch";
    case EVATOK_ERR_BITSTREAM: return "invalid bitstream";
    case EVATOK_ERR_DEVICE: return "device unavailable";
    case EVATOK_ERR_NO_MEMORY: return "out of memory";
    case EVATOK_ERR_UNSUPPORTED: return "unsupported";
    case EVATOK_ERR_INTERNAL: return "internal error";
    case EVATOK_ERR_NO_REFERENCE: return "inter packet without its reference";
  }
  return "unknown status";
}

const char* evatok_default_model_path(void) {
  const char* env = getenv("EVATOK_MODEL");
  if (env && *env) return env;
  if (file_exists(EVATOK_INSTALLED_MODEL)) return EVATOK_INSTALLED_MODEL;
  return EVATOK_SOURCE_MODEL;
}

const char* evatok_version(void) { return EVATOK_VERSION; }

void evatok_open_options_default(EvatokOpenOptions* o) {
  if (!o) return;
  memset(o, 0, sizeof *o);
  o->device = "cpu";
}

void evatok_encode_options_default(EvatokEncodeOptions* o) {
  if (!o) return;
  memset(o, 0, sizeof *o);
  o->mode = EVATOK_ASSIGN_ROUTER;
  o->uniform_tokens = 0;
  o->wq = 1.2f;
  o->wl = 0.8f;
  o->bitstream_version = EVBS_VERSION;
  o->inter_tolerance_db = 0.25f;
  o->inter_carry = 0;  // the shipped model is not trained to carry across packets (docs/benchmarks.md)
  o->inter_motion = 1;
}

EvatokStatus evatok_model_open(const char* path, const EvatokOpenOptions* opts, EvatokModel** out, char* err,
                               size_t es) {
  if (!out) return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "out pointer is NULL");
  *out = nullptr;
  if (!path || !*path) path = evatok_default_model_path();
  return guarded(err, es, [&]() -> EvatokStatus {
    std::unique_ptr<Model> m;
    int workers = 1;
    if (EvatokStatus st = load_network(path, "model", "set the model option or EVATOK_MODEL", opts, &m, err, es, &workers))
      return st;
    auto h = std::make_unique<EvatokModel>();
    const auto& c = m->cfg;
    auto& info = h->info;
    snprintf(info.name, sizeof info.name, "%s", c.name.c_str());
    info.clip_frames = c.clip_frames;
    info.clip_height = c.clip_height;
    info.clip_width = c.clip_width;
    info.patch_t = c.patch_t;
    info.patch_s = c.patch_s;
    info.num_blocks = c.num_blocks();
    info.num_choices = (int)c.choices.size();
    for (size_t i = 0; i < c.choices.size(); ++i) info.choices[i] = c.choices[i];
    info.codebook_size = c.codebook_size;
    info.has_router = m->has_router;
    info.num_parameters = m->num_parameters();
    memcpy(info.fingerprint, m->fp.data(), 16);
    snprintf(info.fingerprint_hex, sizeof info.fingerprint_hex, "%s", to_hex(m->fp.data(), 16).c_str());
    memcpy(info.codec_fingerprint, m->codec_fp.data(), 16);
    snprintf(info.codec_fingerprint_hex, sizeof info.codec_fingerprint_hex, "%s",
             to_hex(m->codec_fp.data(), 16).c_str());
    auto& p = h->params;
    p.clip_frames = c.clip_frames;
    p.tile_h = c.clip_height;
    p.tile_w = c.clip_width;
    p.num_blocks = c.num_blocks();
    p.num_choices = info.num_choices;
    for (int i = 0; i < p.num_choices; ++i) p.choices[i] = c.choices[i];
    p.codebook_size = c.codebook_size;
    if (m->entropy) {
      h->entropy = m->entropy->view();
      p.entropy = &h->entropy;
      info.has_entropy_tables = 1;
      memcpy(info.entropy_fingerprint, m->entropy->fp.data(), 16);
    }
    snprintf(info.entropy_fingerprint_hex, sizeof info.entropy_fingerprint_hex, "%s",
             to_hex(info.entropy_fingerprint, 16).c_str());
    h->workers = workers;
    h->model = std::move(m);
    *out = h.release();
    return EVATOK_OK;
  });
}

void evatok_model_close(EvatokModel** m) {
  if (!m || !*m) return;
  delete *m;
  *m = nullptr;
}

const EvatokModelInfo* evatok_model_get_info(const EvatokModel* m) { return m ? &m->info : nullptr; }

void evatok_free(void* p) { free(p); }

EvatokStatus evatok_reference_new(EvatokReference** out) {
  if (!out) return EVATOK_ERR_INVALID_ARGUMENT;
  *out = new (std::nothrow) EvatokReference();
  return *out ? EVATOK_OK : EVATOK_ERR_NO_MEMORY;
}

void evatok_reference_reset(EvatokReference* ref) {
  if (ref) *ref = EvatokReference();
}

void evatok_reference_free(EvatokReference** ref) {
  if (!ref || !*ref) return;
  delete *ref;
  *ref = nullptr;
}

int evatok_packet_is_keyframe(const uint8_t* pkt, size_t size) { return evbs_packet_is_keyframe(pkt, size); }

static EvatokStatus encode_packet_impl(EvatokModel* m, const EvatokImage* frames, int nb_frames, int width, int height,
                                       const EvatokPixelFormat& fmt, const EvatokEncodeOptions* opts,
                                       EvatokReference* ref, int keyframe, uint8_t** packet, size_t* packet_size,
                                       char* err, size_t es) {
  *packet = nullptr;
  *packet_size = 0;
  if (EvatokStatus st = check_frames_args(m, frames, nb_frames, width, height, fmt, err, es)) return st;
  EvatokEncodeOptions o;
  if (EvatokStatus st = encode_options(m, opts, &o, err, es)) return st;
  return guarded(err, es, [&]() -> EvatokStatus {
    std::lock_guard<std::mutex> g(m->lock);
    c10::InferenceMode inference;  // no autograd records or version counters
    const auto& cfg = m->model->cfg;
    EvbsHeader h;
    if (evbs_header_init(&m->params, width, height, nb_frames, &h))
      return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "cannot describe a %dx%d packet", width, height);
    h.version = o.bitstream_version;
    const TileGrid grid = grid_for(m, width, height);
    auto tiles = frames_to_tiles(frames, nb_frames, cfg.clip_frames, fmt, grid);
    TileCodes c = encode_tiles(m, tiles, o);
    // Without a reference (or below version 3) every packet is a keyframe.
    if (!ref || o.bitstream_version < 3) {
      if (ref) evatok_reference_reset(ref);
      return write_packet(m, h, c.ci.data(), c.tokens.data(), packet, packet_size, err, es);
    }
    // The encoder decodes what it coded, as the decoder will, to choose the
    // tiles to skip and to keep the reference the decoder will have.
    const long n = (long)tiles.size(0);
    const int nb = cfg.num_blocks();
    auto rec = decode_tiles(m, c.ci.data(), n, c.tokens.data()).clamp(-0.5, 0.5);
    const bool inter = !keyframe && ref->valid(m, width, height);
    const size_t map_bytes = (size_t)(n + 7) / 8;
    std::vector<uint8_t> skip_map(map_bytes, 0), carry_map(map_bytes, 0), move_map(map_bytes, 0), ci;
    std::vector<int8_t> motion;
    std::vector<uint32_t> tokens;
    auto out = rec;
    long skipped = 0, carried = 0, moved = 0;
    if (inter) {
      // Per tile, at most inter_tolerance_db worse than coding it afresh:
      // - skip: repeat the reference's mean frame (costs nothing; a still
      //   tile is never worse);
      // - move: show the reference's last frame moved by the offset and
      //   velocity that predict the tile best (four bytes; a pan);
      // - carry: its first block takes the fewest tokens and carries from
      //   the reference's last frame, as later blocks carry within a packet
      //   (taken when that spends fewer tokens);
      // - else coded as in a keyframe.
      auto src = tiles.slice(2, 0, nb_frames);
      auto err_of = [&](const torch::Tensor& r) { return (r.slice(2, 0, nb_frames) - src).pow(2).mean({1, 2, 3, 4}); };
      const double tol = std::pow(10.0, o.inter_tolerance_db / 10.0);
      auto coded = err_of(rec);
      auto skip = (ref->mean.unsqueeze(2) - src).pow(2).mean({1, 2, 3, 4}) <= coded * tol;
      auto ps = skip.accessor<bool, 1>();
      TileCodes c2;
      torch::Tensor rec2, carry_ok;
      if (cfg.temporal_carry && o.inter_carry) {
        std::vector<Assignment> fewer;
        for (long t = 0; t < n; ++t) {
          Assignment a(c.ci.begin() + t * nb, c.ci.begin() + (t + 1) * nb);
          a[0] = (int)cfg.choices.size() - 1;  // choices descend: the last is the fewest
          fewer.push_back(a);
        }
        c2 = encode_tiles(m, tiles, o, fewer);
        rec2 = decode_tiles(m, c2.ci.data(), n, c2.tokens.data(), ref->last).clamp(-0.5, 0.5);
        carry_ok = (err_of(rec2) <= coded * tol).contiguous();
      }
      const bool* can_carry = carry_ok.defined() ? carry_ok.data_ptr<bool>() : nullptr;
      std::vector<TileMotion> mv(n);
      std::vector<char> can_move(n, 0);
      torch::Tensor canvas;
      if (o.inter_motion) {
        canvas = reference_canvas(ref->last, h.tiles_x, h.tiles_y);
        auto pc = coded.contiguous();
        const float* ce = pc.data_ptr<float>();
        for_each_parallel(m->workers, (int)n, [&](int t) {
          if (ps[t]) return;
          mv[t] = search_motion(canvas, width, height, (int)(t % h.tiles_x), (int)(t / h.tiles_x), src[t], ce[t] * tol);
          can_move[t] = mv[t].mse <= ce[t] * tol;
        });
      }
      out = rec.clone();
      for (long t = 0; t < n; ++t) {
        if (ps[t] || can_move[t]) {
          skip_map[(size_t)t / 8] |= (uint8_t)(0x80 >> (t % 8));
          if (ps[t]) {
            out[t].copy_(ref->mean[t].unsqueeze(1).expand_as(out[t]));
          } else {
            move_map[(size_t)t / 8] |= (uint8_t)(0x80 >> (t % 8));
            for (int b : {mv[t].vx, mv[t].vy, mv[t].ox, mv[t].oy}) motion.push_back((int8_t)b);
            out[t].copy_(moved_tile(canvas, width, height, cfg.clip_width, cfg.clip_height, (int)(t % h.tiles_x),
                                    (int)(t / h.tiles_x), mv[t], cfg.clip_frames));
            ++moved;
          }
          ++skipped;
          continue;
        }
        const TileCodes* from = &c;
        if (can_carry && can_carry[t] && c2.off[t + 1] - c2.off[t] < c.off[t + 1] - c.off[t]) {
          carry_map[(size_t)t / 8] |= (uint8_t)(0x80 >> (t % 8));
          out[t].copy_(rec2[t]);
          ++carried;
          from = &c2;
        }
        ci.insert(ci.end(), from->ci.begin() + t * nb, from->ci.begin() + (t + 1) * nb);
        tokens.insert(tokens.end(), from->tokens.begin() + (long)from->off[t], from->tokens.begin() + (long)from->off[t + 1]);
      }
    }
    EvatokStatus st;
    if (skipped || carried) {
      evbs_set_inter(&h, skip_map.data(), carried ? carry_map.data() : nullptr);
      if (moved) evbs_set_motion(&h, move_map.data(), motion.data());
      st = write_packet(m, h, ci.data(), tokens.data(), packet, packet_size, err, es);
    } else {
      st = write_packet(m, h, c.ci.data(), c.tokens.data(), packet, packet_size, err, es);
    }
    if (st == EVATOK_OK) set_reference(ref, m, width, height, out, nb_frames);
    return st;
  });
}

EvatokStatus evatok_encode_packet(EvatokModel* m, const EvatokImage* frames, int nb_frames, int width, int height,
                                  EvatokPixelFormat fmt, const EvatokEncodeOptions* opts, EvatokReference* ref,
                                  int keyframe, uint8_t** packet, size_t* packet_size, char* err, size_t es) {
  if (!m || !frames || !packet || !packet_size)
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "NULL argument to evatok_encode_packet");
  return encode_packet_impl(m, frames, nb_frames, width, height, fmt, opts, ref, keyframe, packet, packet_size, err, es);
}

EvatokStatus evatok_encode_block(EvatokModel* m, const EvatokImage* frames, int nb_frames, int width, int height,
                                 EvatokPixelFormat fmt, const EvatokEncodeOptions* opts, uint8_t** packet,
                                 size_t* packet_size, char* err, size_t es) {
  if (!m || !frames || !packet || !packet_size)
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "NULL argument to evatok_encode_block");
  return encode_packet_impl(m, frames, nb_frames, width, height, fmt, opts, nullptr, 1, packet, packet_size, err, es);
}

EvatokStatus evatok_packet_probe(const EvatokModel* m, const uint8_t* pkt, size_t size, EvatokPacketInfo* info,
                                 char* err, size_t es) {
  if (!m || !pkt || !info) return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "NULL argument to evatok_packet_probe");
  EvbsHeader h;
  std::vector<uint8_t> ci;
  if (EvatokStatus st = parse_packet(m, pkt, size, &h, &ci, err, es)) return st;
  info->version = h.version;
  info->width = h.width;
  info->height = h.height;
  info->nb_frames = h.nb_frames;
  info->tiles_x = h.tiles_x;
  info->tiles_y = h.tiles_y;
  info->num_blocks = h.num_blocks;
  info->total_tokens = (int)evbs_total_tokens(&m->params, &h, ci.data());
  return EVATOK_OK;
}

EvatokStatus evatok_packet_assignment(const EvatokModel* m, const uint8_t* pkt, size_t size, int* tokens_per_block,
                                      int max_entries, int* count, char* err, size_t es) {
  if (!m || !pkt || !count || (max_entries > 0 && !tokens_per_block))
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "NULL argument to evatok_packet_assignment");
  EvbsHeader h;
  std::vector<uint8_t> ci;
  if (EvatokStatus st = parse_packet(m, pkt, size, &h, &ci, err, es)) return st;
  const auto counts = all_tile_counts(m, h, ci);
  for (size_t i = 0; i < counts.size() && (long)i < max_entries; ++i) tokens_per_block[i] = counts[i];
  *count = (int)counts.size();
  return EVATOK_OK;
}

EvatokStatus evatok_packet_tokens(const EvatokModel* m, const uint8_t* pkt, size_t size, int* tokens_per_block,
                                  int max_entries, int* nb_entries, uint32_t* ids, size_t max_ids, size_t* nb_ids,
                                  char* err, size_t es) {
  if (!m || !pkt || !nb_entries || !nb_ids || (max_entries > 0 && !tokens_per_block) || (max_ids > 0 && !ids))
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "NULL argument to evatok_packet_tokens");
  EvbsHeader h;
  std::vector<uint8_t> ci;
  if (EvatokStatus st = parse_packet(m, pkt, size, &h, &ci, err, es)) return st;
  const long total = evbs_total_tokens(&m->params, &h, ci.data());
  const auto counts = all_tile_counts(m, h, ci);
  *nb_entries = (int)counts.size();
  *nb_ids = (size_t)total;
  if (max_entries < (long)counts.size() || max_ids < (size_t)total)
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "packet holds %zu blocks and %ld tokens, room for %d and %zu",
                   counts.size(), total, max_entries, max_ids);
  return guarded(err, es, [&]() -> EvatokStatus {
    char msg[256];
    if (evbs_read_payload(&m->params, &h, pkt, size, ci.data(), ids, total, msg, sizeof msg))
      return set_err(err, es, EVATOK_ERR_BITSTREAM, "invalid packet: %s", msg);
    std::copy(counts.begin(), counts.end(), tokens_per_block);
    return EVATOK_OK;
  });
}

EvatokStatus evatok_packet_build(const EvatokModel* m, int width, int height, int nb_frames, const int* tokens_per_block,
                                 int nb_entries, const uint32_t* ids, size_t nb_ids, int version, uint8_t** packet,
                                 size_t* packet_size, char* err, size_t es) {
  if (!m || !tokens_per_block || !packet || !packet_size || (nb_ids > 0 && !ids))
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "NULL argument to evatok_packet_build");
  *packet = nullptr;
  *packet_size = 0;
  const EvbsParams& p = m->params;
  if (version == 0) version = EVBS_VERSION;
  if (version < EVBS_MIN_VERSION || version > EVBS_MAX_VERSION)
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "bitstream version %d: this build writes %d to %d", version,
                   EVBS_MIN_VERSION, EVBS_MAX_VERSION);
  EvbsHeader h;
  if (evbs_header_init(&p, width, height, nb_frames, &h))
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "frame size %dx%d or frame count %d out of range (1..%d frames)",
                   width, height, nb_frames, p.clip_frames);
  h.version = version;
  const long tiles = (long)h.tiles_x * h.tiles_y, entries = tiles * h.num_blocks;
  if (nb_entries != entries)
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT,
                   "a %dx%d frame has %d x %d tiles of %d blocks: %ld token counts, not %d", width, height, h.tiles_x,
                   h.tiles_y, h.num_blocks, entries, nb_entries);
  return guarded(err, es, [&]() -> EvatokStatus {
    std::vector<uint8_t> ci, map((size_t)(tiles + 7) / 8, 0);
    size_t total = 0;
    long skipped = 0;
    for (long t = 0; t < tiles; ++t) {
      // A tile whose blocks all have 0 tokens repeats the reference.
      int zeros = 0;
      for (int b = 0; b < h.num_blocks; ++b) zeros += tokens_per_block[t * h.num_blocks + b] == 0;
      if (zeros == h.num_blocks) {
        if (version < 3)
          return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT,
                         "tile %ld has 0 tokens (skipped): only bitstream 3 inter packets skip tiles", t);
        map[(size_t)t / 8] |= (uint8_t)(0x80 >> (t % 8));
        ++skipped;
        continue;
      }
      for (int b = 0; b < h.num_blocks; ++b) {
        const long i = t * h.num_blocks + b;
        int c = -1;
        for (int k = 0; k < p.num_choices; ++k)
          if (p.choices[k] == tokens_per_block[i]) c = k;
        if (c < 0)
          return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "block %ld: %d tokens is not one of the model's counts%s",
                         i, tokens_per_block[i], zeros ? " (a skipped tile has 0 in every block)" : "");
        ci.push_back((uint8_t)c);
        total += (size_t)p.choices[c];
      }
    }
    if (skipped) evbs_set_inter(&h, map.data(), nullptr);
    if (nb_ids != total)
      return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "the token counts add up to %zu ids, %zu given", total, nb_ids);
    for (size_t i = 0; i < nb_ids; ++i)
      if (ids[i] >= (uint32_t)p.codebook_size)
        return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "id %u at %zu is outside the codebook of %d", ids[i], i,
                       p.codebook_size);
    return write_packet(m, h, ci.data(), ids, packet, packet_size, err, es);
  });
}

static EvatokStatus decode_packet_impl(EvatokModel* m, const uint8_t* pkt, size_t size, EvatokReference* ref,
                                       const EvatokImage* frames, int max_frames, const EvatokPixelFormat& fmt,
                                       int* nb_frames, char* err, size_t es) {
  // Without a reference (keyframes only) a private one holds the packet.
  EvatokReference own;
  EvatokReference* r = ref ? ref : &own;
  int n = 0, ready = 0;
  EvatokStatus st = decode_begin(m, pkt, size, r, ref != nullptr, frames, max_frames, fmt, &n, err, es);
  while (st == EVATOK_OK && ready < n) st = evatok_decode_next(m, r, &ready, err, es);
  *nb_frames = st == EVATOK_OK ? n : 0;
  return st;
}

EvatokStatus evatok_decode_block(EvatokModel* m, const uint8_t* pkt, size_t size, const EvatokImage* frames,
                                 int max_frames, EvatokPixelFormat fmt, int* nb_frames, char* err, size_t es) {
  if (!m || !pkt || !frames || !nb_frames)
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "NULL argument to evatok_decode_block");
  return decode_packet_impl(m, pkt, size, nullptr, frames, max_frames, fmt, nb_frames, err, es);
}

EvatokStatus evatok_decode_packet(EvatokModel* m, const uint8_t* pkt, size_t size, EvatokReference* ref,
                                  const EvatokImage* frames, int max_frames, EvatokPixelFormat fmt, int* nb_frames,
                                  char* err, size_t es) {
  if (!m || !pkt || !frames || !nb_frames)
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "NULL argument to evatok_decode_packet");
  return decode_packet_impl(m, pkt, size, ref, frames, max_frames, fmt, nb_frames, err, es);
}

EvatokStatus evatok_decode_begin(EvatokModel* m, const uint8_t* pkt, size_t size, EvatokReference* ref,
                                 const EvatokImage* frames, int max_frames, EvatokPixelFormat fmt, int* nb_frames,
                                 char* err, size_t es) {
  if (!m || !pkt || !ref || !frames || !nb_frames)
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "NULL argument to evatok_decode_begin");
  return decode_begin(m, pkt, size, ref, true, frames, max_frames, fmt, nb_frames, err, es);
}

EvatokStatus evatok_decode_next(EvatokModel* m, EvatokReference* ref, int* nb_ready, char* err, size_t es) {
  if (!m || !ref || !nb_ready) return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "NULL argument to evatok_decode_next");
  PacketDecode* p = ref->pending.get();
  if (!p) return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "evatok_decode_next: no packet begun (evatok_decode_begin)");
  if (p->model != m)
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "evatok_decode_next: the packet was begun with another model");
  const EvatokStatus st = guarded(err, es, [&]() -> EvatokStatus {
    std::lock_guard<std::mutex> g(m->lock);
    c10::InferenceMode inference;
    const int64_t pt = m->model->cfg.patch_t, b = p->block;
    auto frames = p->out.narrow(2, b * pt, pt);
    std::vector<torch::Tensor> outs(p->groups.size());
    for_each_parallel(m->workers, (int)outs.size(), [&](int j) { outs[j] = p->groups[j].dec->next().cpu(); });
    for (size_t j = 0; j < outs.size(); ++j) frames.index_copy_(0, p->groups[j].where, outs[j]);
    const int first = (int)(b * pt), shown = std::min<int>((int)pt, p->h.nb_frames - first);
    tiles_to_frames(frames, p->frames.data() + first, shown, p->fmt, p->grid);
    ++p->block;
    return EVATOK_OK;
  });
  if (st != EVATOK_OK) {
    *nb_ready = 0;
    *ref = EvatokReference();  // the next inter packet would repeat a frame we do not have
    return st;
  }
  *nb_ready = p->ready();
  if (p->block == p->blocks) {
    std::unique_ptr<PacketDecode> done = std::move(ref->pending);
    const EvatokStatus fin = guarded(err, es, [&]() -> EvatokStatus {
      if (done->keep) set_reference(ref, m, done->h.width, done->h.height, done->out, done->h.nb_frames);
      return EVATOK_OK;
    });
    if (fin != EVATOK_OK) *ref = EvatokReference();
    return fin;
  }
  return EVATOK_OK;
}

EvatokStatus evatok_extradata_create(const EvatokModel* m, int fps_num, int fps_den, uint8_t** data, size_t* size,
                                     char* err, size_t es) {
  return evatok_extradata_create_version(m, 0, fps_num, fps_den, data, size, err, es);
}

EvatokStatus evatok_extradata_create_version(const EvatokModel* m, int version, int fps_num, int fps_den,
                                             uint8_t** data, size_t* size, char* err, size_t es) {
  if (!m || !data || !size) return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "NULL argument to evatok_extradata_create");
  if (fps_num < 0 || fps_den < 0) return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "negative frame rate");
  if (version == 0) version = EVBS_VERSION;
  if (version < EVBS_MIN_VERSION || version > EVBS_MAX_VERSION)
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "bitstream version %d: this build writes %d to %d", version,
                   EVBS_MIN_VERSION, EVBS_MAX_VERSION);
  EvbsStreamInfo s{};
  s.version = version;
  memcpy(s.fingerprint, m->info.codec_fingerprint, 16);
  memcpy(s.entropy_fingerprint, m->info.entropy_fingerprint, 16);
  s.params = m->params;
  s.fps_num = (uint32_t)fps_num;
  s.fps_den = (uint32_t)fps_den;
  const long n = evbs_extradata_size(&m->params, version);
  auto* buf = static_cast<uint8_t*>(calloc(1, (size_t)n + 64));  // +padding for hosts that over-read
  if (!buf) return set_err(err, es, EVATOK_ERR_NO_MEMORY, "out of memory");
  if (evbs_write_extradata(&s, buf, (size_t)n) != n) {
    free(buf);
    return set_err(err, es, EVATOK_ERR_INTERNAL, "extradata writing failed");
  }
  *data = buf;
  *size = (size_t)n;
  return EVATOK_OK;
}

EvatokStatus evatok_extradata_check(const EvatokModel* m, const uint8_t* data, size_t size, int* fps_num,
                                    int* fps_den, char* err, size_t es) {
  EvbsStreamInfo s;
  char msg[256];
  if (evbs_parse_extradata(data, size, &s, msg, sizeof msg))
    return set_err(err, es, EVATOK_ERR_BITSTREAM, "%s", msg);
  if (m) {
    // Older streams recorded the whole-file fingerprint.
    if (memcmp(s.fingerprint, m->info.codec_fingerprint, 16) && memcmp(s.fingerprint, m->info.fingerprint, 16)) {
      return set_err(err, es, EVATOK_ERR_MODEL_MISMATCH,
                     "stream was encoded with model %s, but the loaded model '%s' is %s; pass the matching model file",
                     to_hex(s.fingerprint, 16).c_str(), m->info.name, m->info.codec_fingerprint_hex);
    }
    s.params.entropy = m->params.entropy;  // not in the header: compared by fingerprint below
    if (memcmp(&s.params, &m->params, sizeof s.params))
      return set_err(err, es, EVATOK_ERR_MODEL_MISMATCH, "stream geometry differs from the model's");
    if (s.version >= 2 && memcmp(s.entropy_fingerprint, m->info.entropy_fingerprint, 16)) {
      static const uint8_t none[16] = {0};
      const bool stream_has = memcmp(s.entropy_fingerprint, none, 16) != 0;
      return set_err(err, es, EVATOK_ERR_MODEL_MISMATCH,
                     "stream was entropy-coded with %s %s, but the loaded model '%s' has %s %s; pass the model file "
                     "the stream was made with",
                     stream_has ? "tables" : "the built-in model", stream_has ? to_hex(s.entropy_fingerprint, 16).c_str() : "",
                     m->info.name, m->info.has_entropy_tables ? "tables" : "no tables",
                     m->info.has_entropy_tables ? m->info.entropy_fingerprint_hex : "");
    }
  }
  if (fps_num) *fps_num = (int)std::min<uint32_t>(s.fps_num, INT32_MAX);
  if (fps_den) *fps_den = (int)std::min<uint32_t>(s.fps_den, INT32_MAX);
  return EVATOK_OK;
}

}  // extern "C"
