// The router: which assignment (tokens per block) a clip gets.
#pragma once
#include <torch/torch.h>

#include "core/config.h"

namespace evatok {

constexpr int64_t kRouterStats = 15;  // features per patch of router_input "stats"

// ViT over the clip's patches (or their statistics) with one output per
// candidate assignment: logits conditioned on the quality weight wq of the
// proxy reward (the rate knob), or, for router_target "quality", each
// assignment's predicted z-scored quality (Model::router_scores).
struct RouterImpl : torch::nn::Module {
  explicit RouterImpl(const ModelConfig& cfg);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& wq);  // -> [B, A]
  ModelConfig cfg;
  torch::nn::Linear patch{nullptr};
  torch::Tensor pos, cls;
  torch::nn::Linear pref{nullptr};
  torch::nn::ModuleList layers;
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(Router);

}  // namespace evatok
