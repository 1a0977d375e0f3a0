// A loaded EVATok model: config + networks + fingerprint, with the clip-level
// operations (route, search, encode, decode) the C API and the trainer use.
// What only training does to a model (warm starts, router swaps) is in
// train/model_edit.h.
#pragma once
#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "tokenizer/entropy_tables.h"
#include "core/quality.h"
#include "tokenizer/tokenizer.h"

namespace evatok {

using Assignment = std::vector<int>;  // choice index per block

class Model {
 public:
  // Untrained networks from a config (training starts here).
  Model(const ModelConfig& cfg, uint64_t seed, torch::Device device = torch::kCPU);
  // Loads and verifies a model file; throws std::runtime_error with a reason.
  static std::unique_ptr<Model> load(const std::string& path, torch::Device device);
  // False for a model whose statistics were never set (a proxy before stage 3).
  bool has_reward_stats() const { return !(cfg.q_mean == 0.f && cfg.q_std == 1.f); }
  void save(const std::string& path);  // also refreshes fp

  // clips: [N,3,T,H,W] float in [-0.5, 0.5] on any device.
  std::vector<Assignment> route(const torch::Tensor& clips, float wq);
  // One rate preference per clip: wq [N].
  std::vector<Assignment> route(const torch::Tensor& clips, const torch::Tensor& wq);
  // The router's score of every assignment [N, A] (on the model's device, with
  // autograd if enabled); route() takes its argmax. Logits for an assignment
  // router, the reward of the predicted quality for a quality router.
  torch::Tensor router_scores(const torch::Tensor& clips, const torch::Tensor& wq);
  // Max-proxy-reward assignment over all candidates (see quality_table).
  std::vector<Assignment> search(const torch::Tensor& clips, float wq, float wl, bool exact = false);
  // Quality of each temporal block of each clip when every block gets choice c:
  // [N, blocks, choices], from one uniform encode+decode per choice.
  torch::Tensor block_quality(const torch::Tensor& clips, QualityMetric& metric, int max_batch = 16);
  // Quality Q of every clip under every candidate assignment, [N, A]; Q(a) is
  // the mean over blocks of the block quality.
  //  exact=false: separable proxy, block t scored as if every block had a_t
  //    (|choices| passes per clip); it ignores that a block can reuse what
  //    earlier blocks already encoded, so it under-rates cheap later blocks.
  //  exact=true: every assignment's own encode+decode result. Block
  //    causality makes block t's score depend only on the prefix (k1..kt), so
  //    each prefix is computed once (prefix_search.h).
  torch::Tensor quality_table(const torch::Tensor& clips, QualityMetric& metric, bool exact, int batch = 125);
  torch::Tensor quality_table(const torch::Tensor& clips);  // separable PSNR
  // Reward R = wq*z(Q) - wl*z(L) for a quality table; [N, A].
  torch::Tensor reward(const torch::Tensor& quality, float wq, float wl) const;
  // The same from z(Q) itself, with wq a scalar or one per row ([N, 1]).
  torch::Tensor reward_z(const torch::Tensor& zq, const torch::Tensor& wq, float wl) const;
  std::vector<std::vector<int64_t>> encode(const torch::Tensor& clips, const std::vector<Assignment>& a);
  // before: the previous packet's last frame per clip [N,3,H,W] for the
  // first block's carry (inter packets), or undefined.
  torch::Tensor decode(const std::vector<Assignment>& a, const std::vector<std::vector<int64_t>>& tokens,
                       const torch::Tensor& before = {});
  // The same, one temporal block per next() call (progressive decoding).
  std::unique_ptr<BlockDecoder> block_decoder(const std::vector<Assignment>& a,
                                              const std::vector<std::vector<int64_t>>& tokens,
                                              const torch::Tensor& before = {});
  // Encode + decode in one pass (training-free evaluation helper).
  torch::Tensor reconstruct(const torch::Tensor& clips, const std::vector<Assignment>& a);

  int64_t num_parameters() const;
  std::map<std::string, torch::Tensor> state() const;

  ModelConfig cfg;
  EvaTok net{nullptr};
  torch::Device device;
  std::array<uint8_t, 16> fp{};        // the whole file: config and every tensor
  // Tokens and decoding only: fp without the router, its reward statistics and
  // the name. Streams, AR models and labels refer to this one, so retraining
  // the router keeps them valid.
  std::array<uint8_t, 16> codec_fp{};
  void refresh_codec_fp();
  // True if `hex` names this model: its codec fingerprint, or its whole-file
  // one (what streams, AR models and labels made before codec_fp recorded).
  bool answers_to(const std::string& hex) const;
  bool has_router = false;     // router weights were trained (file metadata)
  // Bitstream v2's tables (evatok entropy-tables); none: v2 codes with the
  // built-in model. Training the tokenizer drops them (its tokens change).
  std::optional<EntropyTables> entropy;
  std::map<std::string, std::string> info;  // free-form metadata (training record)
  torch::Tensor lengths() const;            // [A] total tokens per assignment
 private:
  // Builds the networks without fingerprinting them: load() replaces the
  // weights right after, so hashing the random ones (twice) would be wasted.
  struct Unhashed {};
  Model(const ModelConfig& cfg, uint64_t seed, torch::Device device, Unhashed);
};

float psnr_from_mse(double mse);

}  // namespace evatok
