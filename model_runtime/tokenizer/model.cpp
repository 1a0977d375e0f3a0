#include "tokenizer/model.h"

#include <cmath>
#include <future>
#include <iterator>
#include <stdexcept>

#include "core/module_file.h"
#include "tokenizer/prefix_search.h"

namespace evatok {
using torch::Tensor;

float psnr_from_mse(double mse) { return (float)(10.0 * std::log10(1.0 / std::max(mse, 1e-10))); }

Model::Model(const ModelConfig& c, uint64_t seed, torch::Device dev, Unhashed) : cfg(c), device(dev) {
  torch::manual_seed(seed);
  net = EvaTok(cfg);
  net->to(device);
  net->eval();
}

Model::Model(const ModelConfig& c, uint64_t seed, torch::Device dev) : Model(c, seed, dev, Unhashed{}) {
  fp = fingerprint(cfg.to_json(), state());
  refresh_codec_fp();
}

void Model::refresh_codec_fp() {
  auto t = state();
  for (auto it = t.begin(); it != t.end();) it = it->first.rfind("router.", 0) == 0 ? t.erase(it) : std::next(it);
  codec_fp = fingerprint(cfg.codec_json(), t);
}

bool Model::answers_to(const std::string& hex) const {
  return hex == to_hex(codec_fp.data(), codec_fp.size()) || hex == to_hex(fp.data(), fp.size());
}

std::map<std::string, Tensor> Model::state() const { return module_tensors(*net); }

int64_t Model::num_parameters() const { return count_parameters(*net); }

void Model::save(const std::string& path) {
  auto meta = info;
  meta["evatok.has_router"] = has_router ? "1" : "0";
  auto tensors = state();
  if (entropy)
    for (auto& [name, t] : entropy->tensors()) tensors[name] = t;
  fp = save_module_file(path, "evatok-model", "evatok.config", cfg.to_json(), tensors, meta);
  refresh_codec_fp();
}

std::unique_ptr<Model> Model::load(const std::string& path, torch::Device device) {
  ModuleFile f(path, "model");
  f.check_format("evatok-model", "evatok.config");
  // Opening is on the way to a player's first frame, so its two long parts
  // run side by side: hashing the file against its fingerprint (another
  // thread) and building the networks the config describes (LibTorch
  // initialises every weight at random first). The config is checked
  // against its limits before anything is built; a corrupt file is reported
  // as corrupt, whatever else is wrong with it.
  auto hashed = std::async(std::launch::async, [&f] { f.check_fingerprint(); });
  std::unique_ptr<Model> m;
  std::future<std::array<uint8_t, 16>> codec;  // codec_fp from the file's tensors, as refresh_codec_fp hashes them
  try {
    const ModelConfig cfg = ModelConfig::from_json(f.config_json);
    f.check_fits(cfg.min_parameters());
    std::map<std::string, Tensor> net_tensors;
    for (const auto& [name, t] : f.file.tensors)
      if (!is_entropy_tensor(name) && name.rfind("router.", 0) != 0) net_tensors[name] = t;
    codec = std::async(std::launch::async, [cfg, net_tensors] { return fingerprint(cfg.codec_json(), net_tensors); });
    m.reset(new Model(cfg, 0, torch::kCPU, Unhashed{}));
  } catch (...) {
    hashed.get();
    throw;
  }
  hashed.get();
  try {
    m->entropy = EntropyTables::take(f.file.tensors, m->cfg);
  } catch (const std::exception& e) {
    throw std::runtime_error("model file '" + path + "': " + e.what());
  }
  f.copy_into(*m->net);  // the same names and shapes as the file's
  m->fp = f.fp;
  m->codec_fp = codec.get();
  for (const auto& [name, t] : f.file.tensors)
    if (t.scalar_type() != torch::kFloat32) {  // copy_into converted it: hash what the network holds
      m->refresh_codec_fp();
      break;
    }
  m->has_router = f.file.metadata.count("evatok.has_router") && f.file.metadata.at("evatok.has_router") == "1";
  for (auto& [k, v] : f.file.metadata)
    if (k.rfind("train.", 0) == 0) m->info[k] = v;
  m->device = device;
  m->net->to(device);
  m->net->eval();
  return m;
}

Tensor Model::lengths() const {
  const int A = cfg.num_assignments();
  auto out = torch::empty({A});
  for (int a = 0; a < A; ++a) {
    int L = 0;
    for (int c : cfg.assignment_choices(a)) L += cfg.choices[c];
    out[a] = (float)L;
  }
  return out;
}

std::vector<Assignment> Model::route(const Tensor& clips, float wq) {
  return route(clips, torch::full({clips.size(0)}, wq));
}

Tensor Model::router_scores(const Tensor& clips, const Tensor& wq) {
  auto x = clips.to(device);
  if (cfg.router_target != "quality") return net->router(x, wq.to(x.options()));
  // A quality router predicts z(Q) for every assignment whatever wq is; the
  // reward then weighs it against z(L) as the labels did.
  auto zq = net->router(x, torch::zeros({x.size(0)}, x.options()));
  return reward_z(zq, wq.view({-1, 1}), cfg.reward_wl);
}

std::vector<Assignment> Model::route(const Tensor& clips, const Tensor& wq) {
  torch::NoGradGuard ng;
  auto best = router_scores(clips, wq).argmax(-1).cpu();
  std::vector<Assignment> out;
  for (int64_t i = 0; i < best.size(0); ++i) out.push_back(cfg.assignment_choices((int)best[i].item<int64_t>()));
  return out;
}

Tensor Model::block_quality(const Tensor& clips, QualityMetric& metric, int max_batch) {
  torch::NoGradGuard ng;
  const int64_t N = clips.size(0), nb = cfg.num_blocks(), nc = (int64_t)cfg.choices.size();
  auto out = torch::empty({N, nb, nc});
  for (int64_t s = 0; s < N; s += max_batch) {
    auto xb = clips.slice(0, s, std::min(N, s + max_batch)).to(device);
    for (int64_t c = 0; c < nc; ++c) {
      auto rec = reconstruct(xb, std::vector<Assignment>(xb.size(0), Assignment(nb, (int)c))).clamp(-0.5, 0.5);
      out.slice(0, s, s + xb.size(0)).select(2, c).copy_(metric.per_block(rec, xb, (int)nb).cpu());
    }
  }
  return out;
}

Tensor Model::quality_table(const Tensor& clips, QualityMetric& metric, bool exact, int batch) {
  torch::NoGradGuard ng;
  if (batch < 1) throw std::runtime_error("quality table: batch must be at least 1");
  const int A = cfg.num_assignments(), nb = cfg.num_blocks();
  if (!exact) {
    auto bq = block_quality(clips, metric);  // [N, nb, nc]
    auto idx = torch::empty({nb, A}, torch::kInt64);
    for (int a = 0; a < A; ++a) {
      auto ch = cfg.assignment_choices(a);
      for (int t = 0; t < nb; ++t) idx[t][a] = ch[t];
    }
    auto q = torch::zeros({clips.size(0), A});
    for (int t = 0; t < nb; ++t) q += bq.select(1, t).index_select(1, idx[t]);
    return q / nb;
  }
  // Exact: shared prefixes, a few clips at a time (prefix_search.h).
  std::vector<Tensor> parts;
  for (int64_t s = 0; s < clips.size(0); s += batch)
    parts.push_back(prefix_quality_table(*this, clips.slice(0, s, std::min<int64_t>(clips.size(0), s + batch)), metric));
  return torch::cat(parts);
}

Tensor Model::quality_table(const Tensor& clips) {
  auto psnr = make_quality_metric("psnr", device);
  return quality_table(clips, *psnr, false);
}

Tensor Model::reward(const Tensor& quality, float wq, float wl) const {
  return reward_z((quality - cfg.q_mean) / cfg.q_std, torch::tensor(wq), wl);
}

Tensor Model::reward_z(const Tensor& zq, const Tensor& wq, float wl) const {
  auto zl = ((lengths() - cfg.l_mean) / cfg.l_std).to(zq.options());
  return wq.to(zq.options()) * zq - wl * zl.unsqueeze(0);
}

std::vector<Assignment> Model::search(const Tensor& clips, float wq, float wl, bool exact) {
  // The z-scoring statistics belong to the metric they were taken with.
  if (!is_builtin_metric(cfg.reward_quality))
    throw std::runtime_error("this model's reward uses the metric '" + cfg.reward_quality +
                             "', which search cannot load here; use the router or the uniform assignment");
  auto metric = make_quality_metric(cfg.reward_quality, device);
  auto best = reward(quality_table(clips, *metric, exact), wq, wl).argmax(-1);
  std::vector<Assignment> out;
  for (int64_t i = 0; i < best.size(0); ++i) out.push_back(cfg.assignment_choices((int)best[i].item<int64_t>()));
  return out;
}

std::vector<std::vector<int64_t>> Model::encode(const Tensor& clips, const std::vector<Assignment>& as) {
  torch::NoGradGuard ng;
  auto L = Layout::make(cfg, as, device);
  auto z = net->encoder(clips.to(device), L);
  auto q = net->quantizer(z, L.valid);
  auto idx = q.indices.cpu();
  std::vector<std::vector<int64_t>> out;
  for (int s = 0; s < L.batch; ++s) {
    int len = 0;
    for (int k : L.counts[s]) len += k;
    auto row = idx[s].slice(0, 0, len).contiguous();
    out.emplace_back(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + len);
  }
  return out;
}

std::unique_ptr<BlockDecoder> Model::block_decoder(const std::vector<Assignment>& as,
                                                  const std::vector<std::vector<int64_t>>& tokens,
                                                  const Tensor& before) {
  torch::NoGradGuard ng;
  auto L = Layout::make(cfg, as, device);
  auto idx = torch::zeros({L.batch, L.max_len}, torch::kInt64);
  for (int s = 0; s < L.batch; ++s)
    if (!tokens[s].empty())
      idx[s].slice(0, 0, (int64_t)tokens[s].size()).copy_(torch::tensor(tokens[s], torch::kInt64));
  auto codes = net->quantizer->lookup(idx.to(device));
  return std::make_unique<BlockDecoder>(*net->decoder, codes, L, before.defined() ? before.to(device) : before);
}

Tensor Model::decode(const std::vector<Assignment>& as, const std::vector<std::vector<int64_t>>& tokens,
                     const Tensor& before) {
  torch::NoGradGuard ng;
  return block_decoder(as, tokens, before)->rest();
}

Tensor Model::reconstruct(const Tensor& clips, const std::vector<Assignment>& as) {
  torch::NoGradGuard ng;
  auto L = Layout::make(cfg, as, device);
  auto z = net->encoder(clips.to(device), L);
  auto q = net->quantizer(z, L.valid);
  return net->decoder->forward_blocks(q.codes, L);
}

}  // namespace evatok
