#include "core/config.h"

#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "core/json_fields.h"

namespace evatok {
using json = nlohmann::json;

int ModelConfig::num_assignments() const {
  // In 64 bits and capped: 4 choices over 16 blocks (2^32) wrapped to 0 in an
  // int, so a hostile config passed validate()'s bound.
  int64_t n = 1;
  for (int b = 0; b < num_blocks(); ++b) {
    n *= (int64_t)choices.size();
    if (n > INT32_MAX) return INT32_MAX;
  }
  return (int)n;
}

int ModelConfig::bits_per_token() const {
  int bits = 1;
  while ((1 << bits) < codebook_size) ++bits;
  return bits;
}

std::vector<int> ModelConfig::assignment_choices(int a) const {
  const int nc = (int)choices.size(), nb = num_blocks();
  std::vector<int> out(nb);
  for (int b = nb - 1; b >= 0; --b) {
    out[b] = a % nc;
    a /= nc;
  }
  return out;
}

int ModelConfig::assignment_index(const std::vector<int>& idx) const {
  int a = 0;
  for (int c : idx) a = a * (int)choices.size() + c;
  return a;
}

double ModelConfig::min_parameters() const {
  auto attn = [](double d, double layers) { return 4.0 * d * d * layers; };
  const double patch_px = (double)patch_t * patch_s * patch_s;
  return attn(enc_dim, enc_layers) + attn(dec_dim, dec_layers) + attn(router_dim, router_layers) +
         (double)codebook_size * code_dim +
         patch_px * stem_channels * enc_dim +                                // encoder patch embedding
         patch_px * head_channels * dec_dim + 9.0 * head_channels * head_channels +  // pixel head
         (double)num_blocks() * patches_per_block() * enc_dim;              // position embeddings
}

int ModelConfig::choice_index(int tokens) const {
  for (size_t i = 0; i < choices.size(); ++i)
    if (choices[i] == tokens) return (int)i;
  return -1;
}

static void check(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("invalid model config: " + what);
}

void ModelConfig::validate() const {
  check(clip_frames >= 1 && clip_frames <= 256, "clip_frames must be in 1..256");
  check(patch_t >= 1 && clip_frames % patch_t == 0, "clip_frames must be a multiple of patch_t");
  check(num_blocks() <= 16, "at most 16 temporal blocks");
  check(patch_s >= 1 && clip_height % patch_s == 0 && clip_width % patch_s == 0,
        "clip_height/clip_width must be multiples of patch_s");
  check(clip_height <= 1024 && clip_width <= 1024, "clip size at most 1024");
  check(!choices.empty() && choices.size() <= 8, "1..8 choices");
  for (size_t i = 0; i < choices.size(); ++i) {
    check(choices[i] >= 1 && choices[i] <= 4096, "choices must be in 1..4096");
    if (i) check(choices[i] < choices[i - 1], "choices must be strictly descending");
  }
  check(num_assignments() <= 1 << 20, "too many candidate assignments");
  check(codebook_size >= 2 && codebook_size <= (1 << 20), "codebook_size must be in 2..2^20");
  check(code_dim >= 1 && code_dim <= 1024, "code_dim must be in 1..1024");
  for (auto [d, h] : {std::pair{enc_dim, enc_heads}, {dec_dim, dec_heads}, {router_dim, router_heads}})
    check(d >= 8 && d <= 4096 && h >= 1 && d % h == 0, "dims must be in 8..4096 and divisible by heads");
  check(enc_layers >= 1 && dec_layers >= 1 && router_layers >= 1, "at least one layer each");
  check(enc_layers <= 64 && dec_layers <= 64 && router_layers <= 64, "at most 64 layers");
  check(mlp_ratio >= 1 && mlp_ratio <= 16, "mlp_ratio must be in 1..16");
  check(stem_channels >= 1 && stem_channels <= 256, "stem_channels must be in 1..256");
  // The pixel head's first three channels are its direct RGB path.
  check(head_channels >= 3 && head_channels <= 256, "head_channels must be in 3..256");
  // What one clip costs to run, whatever the weights: the full-resolution
  // stem and head feature maps, and the patches the attention runs over.
  check((double)std::max(stem_channels, head_channels) * clip_frames * clip_height * clip_width <= (double)(1 << 26),
        "stem/head channels x clip frames x height x width must be at most 2^26");
  check((double)num_blocks() * patches_per_block() <= 4096, "at most 4096 patches per clip");
  check(router_patch_s >= 1 && clip_height % router_patch_s == 0 && clip_width % router_patch_s == 0,
        "clip size must be a multiple of router_patch_s");
  check(router_input == "pixels" || router_input == "motion" || router_input == "stats",
        "router_input (train-router --router-input) must be pixels, motion or stats, not '" + router_input + "'");
  check(router_target == "assignment" || router_target == "quality",
        "router_target (train-router --router-target) must be assignment or quality, not '" + router_target + "'");
  check(q_std > 0 && l_std > 0, "reward std must be positive");
}

// Every stored field, once (core/json_fields.h).
template <class C, class F>
static void visit_model_fields(C& c, F&& f) {
  f("name", c.name);
  f("clip_frames", c.clip_frames), f("clip_height", c.clip_height), f("clip_width", c.clip_width);
  f("patch_t", c.patch_t), f("patch_s", c.patch_s), f("choices", c.choices);
  f("codebook_size", c.codebook_size), f("code_dim", c.code_dim);
  f("enc_dim", c.enc_dim), f("enc_layers", c.enc_layers), f("enc_heads", c.enc_heads);
  f("dec_dim", c.dec_dim), f("dec_layers", c.dec_layers), f("dec_heads", c.dec_heads);
  f("mlp_ratio", c.mlp_ratio), f("stem_channels", c.stem_channels), f("head_channels", c.head_channels);
  f("router_dim", c.router_dim), f("router_layers", c.router_layers);
  f("router_heads", c.router_heads), f("router_patch_s", c.router_patch_s);
  f("reward_wq", c.reward_wq), f("reward_wl", c.reward_wl);
  f("q_mean", c.q_mean), f("q_std", c.q_std), f("l_mean", c.l_mean), f("l_std", c.l_std);
  f("reward_quality", c.reward_quality);
  f("temporal_carry", c.temporal_carry, false);
  f("router_input", c.router_input, std::string("pixels"));
  f("router_target", c.router_target, std::string("assignment"));
}

std::string ModelConfig::to_json() const {
  json j = json::object();
  visit_model_fields(*this, JsonFieldWriter{j});
  return j.dump();
}

std::string ModelConfig::codec_json() const {
  auto j = json::parse(to_json());
  for (const char* k : {"name", "router_dim", "router_layers", "router_heads", "router_patch_s", "router_input", "router_target", "reward_wq",
                        "reward_wl", "q_mean", "q_std", "l_mean", "l_std", "reward_quality"})
    j.erase(k);
  return j.dump();
}

ModelConfig ModelConfig::from_json(const std::string& text) {
  ModelConfig c;
  try {
    json j = json::parse(text);
    if (!j.is_object()) throw std::runtime_error("config is not a JSON object");
    visit_model_fields(c, JsonFieldReader{j});
  } catch (const json::exception& e) {
    throw std::runtime_error(std::string("invalid model config JSON: ") + e.what());
  }
  c.validate();
  return c;
}

ModelConfig ModelConfig::from_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open config file " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return from_json(ss.str());
}

}  // namespace evatok
