// The C API (include/evatok/evatok.h): validates arguments, converts C
// structs to clips, calls Model, packs packets. No exception crosses it.
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <sys/stat.h>

#include "api/api_internal.h"
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
// (choice index per tile and block).
EvatokStatus parse_packet(const EvatokModel* m, const uint8_t* pkt, size_t size, EvbsHeader* h,
                          std::vector<uint8_t>* choice_idx, char* err, size_t es) {
  char msg[256];
  if (evbs_parse_header(&m->params, pkt, size, h, msg, sizeof msg))
    return set_err(err, es, EVATOK_ERR_BITSTREAM, "invalid packet: %s", msg);
  if (choice_idx) {
    choice_idx->resize((size_t)h->tiles_x * h->tiles_y * h->num_blocks);
    if (evbs_read_assignment(&m->params, h, pkt, size, choice_idx->data()))
      return set_err(err, es, EVATOK_ERR_BITSTREAM, "invalid packet: unreadable assignment");
  }
  return EVATOK_OK;
}

constexpr int kTileBatch = 4;  // tiles per network call: measured fastest on 2 cores (vs 1, 2, 8, 32) and bounds memory

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
}

EvatokStatus evatok_model_open(const char* path, const EvatokOpenOptions* opts, EvatokModel** out, char* err,
                               size_t es) {
  if (!out) return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "out pointer is NULL");
  *out = nullptr;
  if (!path || !*path) path = evatok_default_model_path();
  return guarded(err, es, [&]() -> EvatokStatus {
    std::unique_ptr<Model> m;
    if (EvatokStatus st = load_network(path, "model", "set the model option or EVATOK_MODEL", opts, &m, err, es))
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

EvatokStatus evatok_encode_block(EvatokModel* m, const EvatokImage* frames, int nb_frames, int width, int height,
                                 EvatokPixelFormat fmt, const EvatokEncodeOptions* opts, uint8_t** packet,
                                 size_t* packet_size, char* err, size_t es) {
  if (!m || !frames || !packet || !packet_size)
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "NULL argument to evatok_encode_block");
  *packet = nullptr;
  *packet_size = 0;
  const auto& cfg = m->model->cfg;
  if (nb_frames < 1 || nb_frames > cfg.clip_frames)
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "frame count %d not in 1..%d", nb_frames, cfg.clip_frames);
  if (width < 1 || height < 1 || width > EVBS_MAX_DIM || height > EVBS_MAX_DIM)
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "frame size %dx%d not in 1..%d", width, height, EVBS_MAX_DIM);
  EvatokStatus st = check_images(frames, nb_frames, enum_value(fmt), err, es);
  if (st) return st;
  EvatokEncodeOptions o;
  evatok_encode_options_default(&o);
  if (opts) memcpy(&o, opts, sizeof o);
  if (const int mode = enum_value(o.mode); mode < EVATOK_ASSIGN_ROUTER || mode > EVATOK_ASSIGN_EXACT)
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "unknown assignment mode %d", mode);
  if (o.mode == EVATOK_ASSIGN_UNIFORM && cfg.choice_index(o.uniform_tokens) < 0) {
    std::string list;
    for (int c : cfg.choices) list += (list.empty() ? "" : ", ") + std::to_string(c);
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "uniform token count %d is not one of the model's choices (%s)",
                   o.uniform_tokens, list.c_str());
  }
  if (o.mode == EVATOK_ASSIGN_ROUTER && !m->model->has_router)
    return set_err(err, es, EVATOK_ERR_UNSUPPORTED, "model '%s' has no trained router; use the uniform or search assignment",
                   cfg.name.c_str());
  if (!(o.wq >= 0 && o.wq <= 100) || !(o.wl >= 0 && o.wl <= 100))
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "reward weights must be in 0..100");
  if (o.bitstream_version == 0) o.bitstream_version = EVBS_VERSION;
  if (o.bitstream_version < EVBS_MIN_VERSION || o.bitstream_version > EVBS_VERSION)
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "bitstream version %d: this build writes %d to %d",
                   o.bitstream_version, EVBS_MIN_VERSION, EVBS_VERSION);
  return guarded(err, es, [&]() -> EvatokStatus {
    std::lock_guard<std::mutex> g(m->lock);
    c10::InferenceMode inference;  // no autograd records or version counters
    EvbsHeader h;
    if (evbs_header_init(&m->params, width, height, nb_frames, &h))
      return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "cannot describe a %dx%d packet", width, height);
    h.version = o.bitstream_version;
    const TileGrid grid = grid_for(m, width, height);
    auto tiles = frames_to_tiles(frames, nb_frames, cfg.clip_frames, fmt, grid);
    const int64_t n = tiles.size(0);
    std::vector<uint8_t> choice_idx;
    std::vector<uint32_t> tokens;
    for (int64_t s = 0; s < n; s += kTileBatch) {
      auto batch = tiles.slice(0, s, std::min(n, s + kTileBatch));
      std::vector<Assignment> as;
      if (o.mode == EVATOK_ASSIGN_ROUTER) {
        as = m->model->route(batch, o.wq);
      } else if (o.mode == EVATOK_ASSIGN_SEARCH || o.mode == EVATOK_ASSIGN_EXACT) {
        as = m->model->search(batch, o.wq, o.wl, o.mode == EVATOK_ASSIGN_EXACT);
      } else {
        as.assign(batch.size(0), Assignment(cfg.num_blocks(), cfg.choice_index(o.uniform_tokens)));
      }
      auto toks = m->model->encode(batch, as);
      for (size_t i = 0; i < as.size(); ++i) {
        for (int c : as[i]) choice_idx.push_back((uint8_t)c);
        for (int64_t t : toks[i]) tokens.push_back((uint32_t)t);
      }
    }
    long size = evbs_coded_packet_size(&m->params, &h, choice_idx.data(), tokens.data());
    if (size <= 0) return set_err(err, es, EVATOK_ERR_INTERNAL, "packet size computation failed");
    auto* buf = static_cast<uint8_t*>(malloc((size_t)size));
    if (!buf) return set_err(err, es, EVATOK_ERR_NO_MEMORY, "out of memory");
    if (evbs_write_packet(&m->params, &h, choice_idx.data(), tokens.data(), buf, (size_t)size) != size) {
      free(buf);
      return set_err(err, es, EVATOK_ERR_INTERNAL, "packet writing failed");
    }
    *packet = buf;
    *packet_size = (size_t)size;
    return EVATOK_OK;
  });
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
  for (size_t i = 0; i < ci.size() && (long)i < max_entries; ++i) tokens_per_block[i] = m->params.choices[ci[i]];
  *count = (int)ci.size();
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
  *nb_entries = (int)ci.size();
  *nb_ids = (size_t)total;
  if (max_entries < (long)ci.size() || max_ids < (size_t)total)
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "packet holds %zu blocks and %ld tokens, room for %d and %zu",
                   ci.size(), total, max_entries, max_ids);
  return guarded(err, es, [&]() -> EvatokStatus {
    char msg[256];
    if (evbs_read_payload(&m->params, &h, pkt, size, ci.data(), ids, total, msg, sizeof msg))
      return set_err(err, es, EVATOK_ERR_BITSTREAM, "invalid packet: %s", msg);
    for (size_t i = 0; i < ci.size(); ++i) tokens_per_block[i] = m->params.choices[ci[i]];
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
  if (version < EVBS_MIN_VERSION || version > EVBS_VERSION)
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "bitstream version %d: this build writes %d to %d", version,
                   EVBS_MIN_VERSION, EVBS_VERSION);
  EvbsHeader h;
  if (evbs_header_init(&p, width, height, nb_frames, &h))
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "frame size %dx%d or frame count %d out of range (1..%d frames)",
                   width, height, nb_frames, p.clip_frames);
  h.version = version;
  const long entries = (long)h.tiles_x * h.tiles_y * h.num_blocks;
  if (nb_entries != entries)
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT,
                   "a %dx%d frame has %d x %d tiles of %d blocks: %ld token counts, not %d", width, height, h.tiles_x,
                   h.tiles_y, h.num_blocks, entries, nb_entries);
  return guarded(err, es, [&]() -> EvatokStatus {
    std::vector<uint8_t> ci((size_t)entries);
    size_t total = 0;
    for (long i = 0; i < entries; ++i) {
      int c = -1;
      for (int k = 0; k < p.num_choices; ++k)
        if (p.choices[k] == tokens_per_block[i]) c = k;
      if (c < 0)
        return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "block %ld: %d tokens is not one of the model's counts", i,
                       tokens_per_block[i]);
      ci[(size_t)i] = (uint8_t)c;
      total += (size_t)p.choices[c];
    }
    if (nb_ids != total)
      return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "the token counts add up to %zu ids, %zu given", total, nb_ids);
    for (size_t i = 0; i < nb_ids; ++i)
      if (ids[i] >= (uint32_t)p.codebook_size)
        return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "id %u at %zu is outside the codebook of %d", ids[i], i,
                       p.codebook_size);
    const long size = evbs_coded_packet_size(&p, &h, ci.data(), ids);
    if (size <= 0) return set_err(err, es, EVATOK_ERR_INTERNAL, "packet size computation failed");
    auto* buf = static_cast<uint8_t*>(malloc((size_t)size));
    if (!buf) return set_err(err, es, EVATOK_ERR_NO_MEMORY, "out of memory");
    if (evbs_write_packet(&p, &h, ci.data(), ids, buf, (size_t)size) != size) {
      free(buf);
      return set_err(err, es, EVATOK_ERR_INTERNAL, "packet writing failed");
    }
    *packet = buf;
    *packet_size = (size_t)size;
    return EVATOK_OK;
  });
}

EvatokStatus evatok_decode_block(EvatokModel* m, const uint8_t* pkt, size_t size, const EvatokImage* frames,
                                 int max_frames, EvatokPixelFormat fmt, int* nb_frames, char* err, size_t es) {
  if (!m || !pkt || !frames || !nb_frames)
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "NULL argument to evatok_decode_block");
  *nb_frames = 0;
  EvbsHeader h;
  if (EvatokStatus st = parse_packet(m, pkt, size, &h, nullptr, err, es)) return st;
  if (max_frames < h.nb_frames)
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "packet holds %d frames, room for %d", h.nb_frames, max_frames);
  EvatokStatus st = check_images(frames, h.nb_frames, enum_value(fmt), err, es);
  if (st) return st;
  return guarded(err, es, [&]() -> EvatokStatus {
    std::lock_guard<std::mutex> g(m->lock);
    c10::InferenceMode inference;  // no autograd records or version counters
    const auto& cfg = m->model->cfg;
    const long n_entries = (long)h.tiles_x * h.tiles_y * h.num_blocks;
    std::vector<uint8_t> ci((size_t)n_entries);
    const long max_tokens = n_entries * cfg.max_choice();
    std::vector<uint32_t> tokens((size_t)max_tokens);
    char msg[256];
    if (evbs_read_payload(&m->params, &h, pkt, size, ci.data(), tokens.data(), max_tokens, msg, sizeof msg))
      return set_err(err, es, EVATOK_ERR_BITSTREAM, "invalid packet: %s", msg);
    const TileGrid grid = grid_for(m, h.width, h.height);
    const int n = h.tiles_x * h.tiles_y, nb = h.num_blocks;
    std::vector<torch::Tensor> outs;
    size_t tpos = 0;
    for (int s = 0; s < n; s += kTileBatch) {
      std::vector<Assignment> as;
      std::vector<std::vector<int64_t>> toks;
      for (int t = s; t < std::min(n, s + kTileBatch); ++t) {
        Assignment a(ci.begin() + (long)t * nb, ci.begin() + (long)(t + 1) * nb);
        int len = 0;
        for (int c : a) len += cfg.choices[c];
        toks.emplace_back(tokens.begin() + tpos, tokens.begin() + tpos + len);
        tpos += len;
        as.push_back(a);
      }
      outs.push_back(m->model->decode(as, toks).cpu());
    }
    tiles_to_frames(torch::cat(outs, 0), frames, h.nb_frames, fmt, grid);
    *nb_frames = h.nb_frames;
    return EVATOK_OK;
  });
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
  if (version < EVBS_MIN_VERSION || version > EVBS_VERSION)
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "bitstream version %d: this build writes %d to %d", version,
                   EVBS_MIN_VERSION, EVBS_VERSION);
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
    if (s.version == 2 && memcmp(s.entropy_fingerprint, m->info.entropy_fingerprint, 16)) {
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
