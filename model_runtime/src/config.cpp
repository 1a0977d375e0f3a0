#include "config.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace evatok {
using json = nlohmann::json;

int ModelConfig::num_assignments() const {
  int n = 1;
  for (int b = 0; b < num_blocks(); ++b) n *= (int)choices.size();
  return n;
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
  check(stem_channels >= 1 && head_channels >= 1, "stem/head channels must be positive");
  check(router_patch_s >= 1 && clip_height % router_patch_s == 0 && clip_width % router_patch_s == 0,
        "clip size must be a multiple of router_patch_s");
  check(router_input == "pixels" || router_input == "motion" || router_input == "stats",
        "router_input (train-router --router-input) must be pixels, motion or stats, not '" + router_input + "'");
  check(router_target == "assignment" || router_target == "quality",
        "router_target (train-router --router-target) must be assignment or quality, not '" + router_target + "'");
  check(q_std > 0 && l_std > 0, "reward std must be positive");
}

std::string ModelConfig::to_json() const {
  json j{{"name", name},
         {"clip_frames", clip_frames}, {"clip_height", clip_height}, {"clip_width", clip_width},
         {"patch_t", patch_t}, {"patch_s", patch_s}, {"choices", choices},
         {"codebook_size", codebook_size}, {"code_dim", code_dim},
         {"enc_dim", enc_dim}, {"enc_layers", enc_layers}, {"enc_heads", enc_heads},
         {"dec_dim", dec_dim}, {"dec_layers", dec_layers}, {"dec_heads", dec_heads},
         {"mlp_ratio", mlp_ratio}, {"stem_channels", stem_channels}, {"head_channels", head_channels},
         {"router_dim", router_dim}, {"router_layers", router_layers},
         {"router_heads", router_heads}, {"router_patch_s", router_patch_s},
         {"reward_wq", reward_wq}, {"reward_wl", reward_wl},
         {"q_mean", q_mean}, {"q_std", q_std}, {"l_mean", l_mean}, {"l_std", l_std},
         {"reward_quality", reward_quality}};
  // Written only when set, so files made before the option keep their fingerprints.
  if (temporal_carry) j["temporal_carry"] = true;
  if (router_input != "pixels") j["router_input"] = router_input;
  if (router_target != "assignment") j["router_target"] = router_target;
  return j.dump();
}

std::string ModelConfig::codec_json() const {
  auto j = json::parse(to_json());
  for (const char* k : {"name", "router_dim", "router_layers", "router_heads", "router_patch_s", "router_input", "router_target", "reward_wq",
                        "reward_wl", "q_mean", "q_std", "l_mean", "l_std", "reward_quality"})
    j.erase(k);
  return j.dump();
}

template <typename T>
static void get(const json& j, const char* key, T& out) {
  if (j.contains(key)) out = j.at(key).get<T>();
}

ModelConfig ModelConfig::from_json(const std::string& text) {
  ModelConfig c;
  try {
    json j = json::parse(text);
    if (!j.is_object()) throw std::runtime_error("config is not a JSON object");
    get(j, "name", c.name);
    get(j, "clip_frames", c.clip_frames); get(j, "clip_height", c.clip_height);
    get(j, "clip_width", c.clip_width); get(j, "patch_t", c.patch_t); get(j, "patch_s", c.patch_s);
    get(j, "choices", c.choices); get(j, "codebook_size", c.codebook_size);
    get(j, "code_dim", c.code_dim);
    get(j, "enc_dim", c.enc_dim); get(j, "enc_layers", c.enc_layers); get(j, "enc_heads", c.enc_heads);
    get(j, "dec_dim", c.dec_dim); get(j, "dec_layers", c.dec_layers); get(j, "dec_heads", c.dec_heads);
    get(j, "mlp_ratio", c.mlp_ratio); get(j, "stem_channels", c.stem_channels);
    get(j, "head_channels", c.head_channels);
    get(j, "router_dim", c.router_dim); get(j, "router_layers", c.router_layers);
    get(j, "router_heads", c.router_heads); get(j, "router_patch_s", c.router_patch_s);
    get(j, "reward_wq", c.reward_wq); get(j, "reward_wl", c.reward_wl);
    get(j, "q_mean", c.q_mean); get(j, "q_std", c.q_std);
    get(j, "l_mean", c.l_mean); get(j, "l_std", c.l_std);
    get(j, "reward_quality", c.reward_quality);
    get(j, "temporal_carry", c.temporal_carry);
    get(j, "router_input", c.router_input);
    get(j, "router_target", c.router_target);
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
