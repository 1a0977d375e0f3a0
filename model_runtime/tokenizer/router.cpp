#include "tokenizer/router.h"

#include "tokenizer/layers.h"

namespace evatok {
namespace F = torch::nn::functional;
using torch::Tensor;

RouterImpl::RouterImpl(const ModelConfig& c) : cfg(c) {
  const int D = cfg.router_dim, rp = cfg.router_patch_s;
  const int64_t in = cfg.router_input == "stats" ? kRouterStats
                     : (cfg.router_input == "motion" ? 6 : 3) * cfg.patch_t * rp * rp;
  patch = register_module("patch", torch::nn::Linear(in, D));
  const int64_t n = cfg.num_blocks() * (cfg.clip_height / rp) * (cfg.clip_width / rp);
  pos = param(*this, "pos", {n, D});
  cls = param(*this, "cls", {1, 1, D});
  pref = register_module("pref", torch::nn::Linear(1, D));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int i = 0; i < cfg.router_layers; ++i) layers->push_back(Block(D, cfg.router_heads, cfg.mlp_ratio, false));
  norm = register_module("norm", layer_norm(D));
  head = register_module("head", torch::nn::Linear(D, cfg.num_assignments()));
}

// |x - its neighbour one step back along dim|, the same size as x: zero where
// there is no neighbour (the first index, or the last with zero_last), and
// scaled up, since a slow pan moves pixels by a few hundredths.
static Tensor abs_step(const Tensor& x, int64_t dim, bool zero_last = false) {
  constexpr double kGain = 10.0;
  auto d = (x.slice(dim, 1) - x.slice(dim, 0, -1)).abs() * kGain;
  auto zero = torch::zeros_like(x.slice(dim, 0, 1));
  return zero_last ? torch::cat({d, zero}, dim) : torch::cat({zero, d}, dim);
}

Tensor RouterImpl::forward(const Tensor& x, const Tensor& wq) {
  const int64_t B = x.size(0);
  Tensor in = x;
  if (cfg.router_input == "motion") {
    // |frame - previous frame| beside the pixels: the first frame of a block is
    // compared with the last of the previous block, what a temporal carry would reuse.
    in = torch::cat({x, abs_step(x, 2)}, 1);
  }
  if (cfg.router_input == "stats") {
    // Per patch, the means of a few maps instead of its pixels: colour, energy
    // (hence contrast), horizontal and vertical detail and change from the
    // previous frame, per channel. 15 numbers instead of thousands of pixel
    // weights: what decides a patch's cost, learnable from a few hundred clips.
    auto maps = torch::cat({x, x * x * 4, abs_step(x, 4, true), abs_step(x, 3, true), abs_step(x, 2)}, 1);
    const int rp = cfg.router_patch_s;
    auto pooled = torch::avg_pool3d(maps, {cfg.patch_t, rp, rp});  // [B, 15, blocks, H/rp, W/rp]
    in = pooled.flatten(2).transpose(1, 2);                         // patches in (t, y, x) order
  } else {
    in = patchify(in, cfg.patch_t, cfg.router_patch_s);
  }
  auto t = patch(in) + pos;
  auto c = cls.expand({B, 1, cfg.router_dim}) + pref(wq.view({B, 1}).to(x.dtype())).unsqueeze(1);
  t = torch::cat({c, t}, 1);
  auto all = torch::ones({1, 1, 1}, torch::TensorOptions().dtype(torch::kBool).device(x.device()));
  for (auto& m : *layers) t = m->as<Block>()->forward(t, all, Tensor(), Tensor());
  return head(norm(t.select(1, 0)));
}

}  // namespace evatok
