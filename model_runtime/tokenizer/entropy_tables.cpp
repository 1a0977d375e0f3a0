#include "tokenizer/entropy_tables.h"

#include <stdexcept>

#include "bitstream/bitstream.h"
#include "core/safetensors.h"

namespace evatok {

namespace {

const char* kTokenCum = "entropy.token_cum";
const char* kWeights = "entropy.weights";
const char* kAssignCum = "entropy.assign_cum";
const char* kBaseTotal = "entropy.base_total";

EvbsParams params_of(const ModelConfig& cfg) {
  EvbsParams p{};
  p.clip_frames = cfg.clip_frames;
  p.tile_h = cfg.clip_height;
  p.tile_w = cfg.clip_width;
  p.num_blocks = cfg.num_blocks();
  p.num_choices = (int)cfg.choices.size();
  for (int i = 0; i < p.num_choices && i < EVBS_MAX_CHOICES; ++i) p.choices[i] = cfg.choices[i];
  p.codebook_size = cfg.codebook_size;
  return p;
}

// An int32 tensor of exactly `shape`, as non-negative values.
std::vector<uint32_t> read_u32(const std::map<std::string, torch::Tensor>& t, const char* name,
                               std::vector<int64_t> shape) {
  auto it = t.find(name);
  if (it == t.end()) throw std::runtime_error(std::string("entropy tables lack ") + name);
  const auto& x = it->second;
  if (x.scalar_type() != torch::kInt32) throw std::runtime_error(std::string(name) + " is not int32");
  if (x.sizes().vec() != shape) throw std::runtime_error(std::string(name) + " has the wrong shape for the model");
  auto c = x.contiguous();
  const int32_t* d = c.data_ptr<int32_t>();
  std::vector<uint32_t> out((size_t)c.numel());
  for (size_t i = 0; i < out.size(); ++i) {
    if (d[i] < 0) throw std::runtime_error(std::string(name) + " holds a negative value");
    out[i] = (uint32_t)d[i];
  }
  return out;
}

torch::Tensor to_tensor(const std::vector<uint32_t>& v, std::vector<int64_t> shape) {
  auto t = torch::empty(shape, torch::kInt32);
  auto* d = t.data_ptr<int32_t>();
  for (size_t i = 0; i < v.size(); ++i) d[i] = (int32_t)v[i];
  return t;
}

}  // namespace

bool is_entropy_tensor(const std::string& name) { return name.rfind("entropy.", 0) == 0; }

EvbsEntropy EntropyTables::view() const {
  EvbsEntropy e{};
  e.num_blocks = num_blocks;
  e.num_choices = num_choices;
  e.codebook_size = codebook_size;
  e.base_total = base_total;
  e.token_cum = token_cum.data();
  e.count_w = count_w.data();
  e.prev_w = prev_w.data();
  e.coloc_w = coloc_w.data();
  e.assign_cum = assign_cum.data();
  return e;
}

std::map<std::string, torch::Tensor> EntropyTables::tensors() const {
  const int64_t R = (int64_t)num_blocks * num_choices;
  std::vector<uint32_t> w(count_w);
  w.insert(w.end(), prev_w.begin(), prev_w.end());
  w.insert(w.end(), coloc_w.begin(), coloc_w.end());
  return {{kTokenCum, to_tensor(token_cum, {R, codebook_size + 1})},
          {kWeights, to_tensor(w, {3, R})},
          {kAssignCum, to_tensor(assign_cum, {(int64_t)num_blocks * (num_choices + 1), num_choices + 1})},
          {kBaseTotal, to_tensor({base_total}, {1})}};
}

void EntropyTables::refresh_fp() { fp = fingerprint("evatok-entropy-tables", tensors()); }

void EntropyTables::check(const ModelConfig& cfg) const {
  EvbsParams p = params_of(cfg);
  const size_t R = (size_t)p.num_blocks * p.num_choices;
  if (num_blocks != p.num_blocks || num_choices != p.num_choices || codebook_size != p.codebook_size ||
      token_cum.size() != R * (size_t)(codebook_size + 1) || count_w.size() != R || prev_w.size() != R ||
      coloc_w.size() != R || assign_cum.size() != (size_t)p.num_blocks * (p.num_choices + 1) * (p.num_choices + 1))
    throw std::runtime_error("entropy tables do not fit the model's geometry");
  EvbsEntropy e = view();
  char msg[256];
  if (evtm_check(&p, &e, msg, sizeof msg)) throw std::runtime_error(std::string("entropy tables: ") + msg);
}

std::optional<EntropyTables> EntropyTables::take(std::map<std::string, torch::Tensor>& t, const ModelConfig& cfg) {
  bool any = false;
  for (const auto& [name, x] : t) any = any || is_entropy_tensor(name);
  if (!any) return std::nullopt;
  EntropyTables e;
  e.num_blocks = cfg.num_blocks();
  e.num_choices = (int)cfg.choices.size();
  e.codebook_size = cfg.codebook_size;
  if (e.num_choices > EVBS_MAX_CHOICES || e.num_blocks > EVBS_MAX_BLOCKS || e.codebook_size < 2 ||
      e.codebook_size > (1 << 20))
    throw std::runtime_error("entropy tables for a geometry that bitstream v2 cannot code");
  const int64_t R = (int64_t)e.num_blocks * e.num_choices;
  e.token_cum = read_u32(t, kTokenCum, {R, e.codebook_size + 1});
  auto w = read_u32(t, kWeights, {3, R});
  e.count_w.assign(w.begin(), w.begin() + R);
  e.prev_w.assign(w.begin() + R, w.begin() + 2 * R);
  e.coloc_w.assign(w.begin() + 2 * R, w.end());
  e.assign_cum = read_u32(t, kAssignCum, {(int64_t)e.num_blocks * (e.num_choices + 1), e.num_choices + 1});
  e.base_total = read_u32(t, kBaseTotal, {1})[0];
  for (auto it = t.begin(); it != t.end();) {
    if (!is_entropy_tensor(it->first)) {
      ++it;
      continue;
    }
    const std::string& n = it->first;
    if (n != kTokenCum && n != kWeights && n != kAssignCum && n != kBaseTotal)
      throw std::runtime_error("unknown entropy tensor " + n);
    it = t.erase(it);
  }
  e.check(cfg);
  e.refresh_fp();
  return e;
}

}  // namespace evatok
