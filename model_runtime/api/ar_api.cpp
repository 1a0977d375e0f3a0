// The AR part of the C API (include/evatok/evatok_ar.h). No exception crosses it.
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "api/api_internal.h"
#include "ar/ar_predict.h"
#include "evatok/evatok_ar.h"
#include "core/frames.h"
#include "core/safetensors.h"

using namespace evatok;

struct EvatokAr {
  std::unique_ptr<ArModel> model;
  EvatokModel* tok = nullptr;  // borrowed
  EvatokArInfo info{};
  std::mutex lock;
};

namespace {

constexpr int kMaxDim = 16384;

// One frame (width x height, fmt) -> [3, h, w] in [-0.5, 0.5] at the clip size.
torch::Tensor frame_to_clip_size(const EvatokImage& im, int width, int height, EvatokPixelFormat fmt, int cw,
                                 int ch) {
  const TileGrid g{width, height, width, height, 1, 1};
  auto x = frames_to_tiles(&im, 1, 1, fmt, g).select(2, 0);  // [1,3,H,W]
  if (width != cw || height != ch) {
    namespace F = torch::nn::functional;
    const bool down = cw < width || ch < height;
    x = F::interpolate(x, F::InterpolateFuncOptions()
                              .size(std::vector<int64_t>{ch, cw})
                              .mode(torch::kBilinear)
                              .align_corners(false)
                              .antialias(down));
  }
  return x[0];
}

// Clip frames [3, n, ch, cw] -> n frames of width x height in fmt.
void clip_to_frames(const torch::Tensor& clip, const EvatokImage* out, int n, int width, int height,
                    EvatokPixelFormat fmt) {
  const TileGrid g{width, height, width, height, 1, 1};
  namespace F = torch::nn::functional;
  for (int t = 0; t < n; ++t) {
    auto f = clip.select(1, t).unsqueeze(0).to(torch::kFloat32);  // [1,3,ch,cw]
    if (f.size(2) != height || f.size(3) != width) {
      const bool down = width < f.size(3) || height < f.size(2);
      f = F::interpolate(f, F::InterpolateFuncOptions()
                                .size(std::vector<int64_t>{height, width})
                                .mode(torch::kBilinear)
                                .align_corners(false)
                                .antialias(down));
    }
    tiles_to_frames(f.unsqueeze(2), &out[t], 1, fmt, g);  // [1,3,1,H,W]
  }
}

SampleParams to_params(const EvatokAr* ar, const EvatokSampleOptions* o) {
  EvatokSampleOptions d;
  evatok_sample_options_default(&d);
  if (!o) o = &d;
  SampleParams p;
  p.temperature = o->temperature;
  p.top_k = o->top_k;
  p.top_p = o->top_p;
  p.seed = o->seed;
  p.cfg = o->cfg;
  p.class_id = o->class_id;
  p.kv_cache = !o->no_kv_cache;
  p.sample_known = o->sample_known != 0;
  (void)ar;
  return p;
}

EvatokStatus check_options(const EvatokAr* ar, const EvatokSampleOptions* o, char* err, size_t es) {
  if (!o) return EVATOK_OK;
  const std::string e = to_params(ar, o).invalid(ar->info.num_classes);
  return e.empty() ? EVATOK_OK : set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "%s", e.c_str());
}

EvatokStatus check_frame_args(int width, int height, const EvatokImage* out, int nb_out, int max_out, char* err,
                              size_t es) {
  if (width < 1 || height < 1 || width > kMaxDim || height > kMaxDim)
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "frame size %dx%d not in 1..%d", width, height, kMaxDim);
  if (!out) return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "no output frames");
  if (nb_out < 1 || nb_out > max_out)
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "output frame count %d not in 1..%d", nb_out, max_out);
  return EVATOK_OK;
}

}  // namespace

extern "C" {

const char* evatok_default_ar_model_path(void) {
  const char* env = getenv("EVATOK_AR_MODEL");
  if (env && *env) return env;
  if (file_exists(EVATOK_INSTALLED_AR_MODEL)) return EVATOK_INSTALLED_AR_MODEL;
  return EVATOK_SOURCE_AR_MODEL;
}

void evatok_sample_options_default(EvatokSampleOptions* o) {
  if (!o) return;
  memset(o, 0, sizeof *o);
  o->temperature = 1.f;
  o->top_k = 0;
  o->top_p = 1.f;
  o->seed = 0;
  o->cfg = 1.f;
  o->class_id = -1;
  o->no_kv_cache = 0;
}

EvatokStatus evatok_ar_open(const char* path, EvatokModel* tok, const EvatokOpenOptions* opts, EvatokAr** out,
                            char* err, size_t es) {
  if (!out) return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "out pointer is NULL");
  *out = nullptr;
  if (!tok) return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "no tokenizer model given");
  if (!path || !*path) path = evatok_default_ar_model_path();
  return guarded(err, es, [&]() -> EvatokStatus {
    std::unique_ptr<ArModel> m;
    if (EvatokStatus st =
            load_network(path, "AR model", "set the ar_model option or EVATOK_AR_MODEL", opts, &m, err, es))
      return st;
    try {
      check_ar_tokenizer(*m, *tok->model);
    } catch (const ModelMismatch& e) {
      return set_err(err, es, EVATOK_ERR_MODEL_MISMATCH, "AR model '%s': %s", path, e.what());
    }
    auto h = std::make_unique<EvatokAr>();
    const auto& c = m->cfg;
    auto& i = h->info;
    snprintf(i.name, sizeof i.name, "%s", c.name.c_str());
    i.dim = c.dim;
    i.layers = c.layers;
    i.heads = c.heads;
    i.num_parameters = m->num_parameters();
    i.vocab_size = c.vocab_size();
    i.max_seq_len = c.max_seq_len();
    i.clip_frames = c.clip_frames;
    i.clip_width = c.clip_width;
    i.clip_height = c.clip_height;
    i.cond_frames = c.cond_frames;
    i.predict_frames = c.clip_frames - c.cond_frames;
    i.num_classes = (int)c.classes.size();
    memcpy(i.fingerprint, m->fp.data(), 16);
    snprintf(i.fingerprint_hex, sizeof i.fingerprint_hex, "%s", to_hex(m->fp.data(), 16).c_str());
    snprintf(i.tokenizer_fingerprint_hex, sizeof i.tokenizer_fingerprint_hex, "%s", c.tokenizer_fingerprint.c_str());
    h->model = std::move(m);
    h->tok = tok;
    *out = h.release();
    return EVATOK_OK;
  });
}

void evatok_ar_close(EvatokAr** ar) {
  if (!ar || !*ar) return;
  delete *ar;
  *ar = nullptr;
}

const EvatokArInfo* evatok_ar_get_info(const EvatokAr* ar) { return ar ? &ar->info : nullptr; }

const char* evatok_ar_class_name(const EvatokAr* ar, int i) {
  if (!ar || i < 0 || i >= ar->info.num_classes) return nullptr;
  return ar->model->cfg.classes[i].c_str();
}

int evatok_ar_class_index(const EvatokAr* ar, const char* name) {
  if (!ar || !name) return -1;
  return ar->model->cfg.class_index(name);
}

EvatokStatus evatok_ar_predict(EvatokAr* ar, const EvatokImage* cond, int nb_cond, int width, int height,
                               EvatokPixelFormat fmt, const EvatokSampleOptions* opts, const EvatokImage* out,
                               int nb_out, int64_t* tokens_sampled, char* err, size_t es) {
  if (!ar || !cond) return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "NULL argument to evatok_ar_predict");
  if (tokens_sampled) *tokens_sampled = 0;
  const auto& c = ar->model->cfg;
  if (nb_cond < 1 || nb_cond > c.cond_frames)
    return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "condition frame count %d not in 1..%d", nb_cond, c.cond_frames);
  if (EvatokStatus st = check_frame_args(width, height, out, nb_out, ar->info.predict_frames, err, es)) return st;
  if (EvatokStatus st = check_images(cond, nb_cond, enum_value(fmt), err, es)) return st;
  if (EvatokStatus st = check_images(out, nb_out, enum_value(fmt), err, es)) return st;
  if (EvatokStatus st = check_options(ar, opts, err, es)) return st;
  return guarded(err, es, [&]() -> EvatokStatus {
    std::lock_guard<std::mutex> g(ar->lock);
    c10::InferenceMode inference;
    std::lock_guard<std::mutex> gt(ar->tok->lock);
    std::vector<torch::Tensor> fr;
    for (int t = 0; t < nb_cond; ++t) fr.push_back(frame_to_clip_size(cond[t], width, height, fmt, c.clip_width, c.clip_height));
    auto x = torch::stack(fr, 1).unsqueeze(0);  // [1,3,n,h,w]
    int64_t sampled = 0;
    auto clip = predict_clips(*ar->model, *ar->tok->model, x, to_params(ar, opts), &sampled);
    clip_to_frames(clip[0].slice(1, c.cond_frames, c.cond_frames + nb_out), out, nb_out, width, height, fmt);
    if (tokens_sampled) *tokens_sampled = sampled;
    return EVATOK_OK;
  });
}

EvatokStatus evatok_ar_generate(EvatokAr* ar, int width, int height, EvatokPixelFormat fmt,
                                const EvatokSampleOptions* opts, const EvatokImage* out, int nb_out,
                                int64_t* tokens_sampled, char* err, size_t es) {
  if (!ar) return set_err(err, es, EVATOK_ERR_INVALID_ARGUMENT, "NULL argument to evatok_ar_generate");
  if (tokens_sampled) *tokens_sampled = 0;
  if (EvatokStatus st = check_frame_args(width, height, out, nb_out, ar->info.clip_frames, err, es)) return st;
  if (EvatokStatus st = check_images(out, nb_out, enum_value(fmt), err, es)) return st;
  if (EvatokStatus st = check_options(ar, opts, err, es)) return st;
  return guarded(err, es, [&]() -> EvatokStatus {
    std::lock_guard<std::mutex> g(ar->lock);
    c10::InferenceMode inference;
    std::lock_guard<std::mutex> gt(ar->tok->lock);
    auto s = ar_sample(*ar->model, {std::vector<int64_t>()}, to_params(ar, opts));
    auto clip = ar->tok->model->decode(s.choices, s.tokens).to(torch::kCPU);
    clip_to_frames(clip[0], out, nb_out, width, height, fmt);
    if (tokens_sampled) *tokens_sampled = s.sampled;
    return EVATOK_OK;
  });
}

}  // extern "C"
