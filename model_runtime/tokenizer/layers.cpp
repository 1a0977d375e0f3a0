#include "tokenizer/layers.h"

#include <cmath>

namespace evatok {
namespace F = torch::nn::functional;
using torch::Tensor;

Tensor param(torch::nn::Module& m, const char* name, std::vector<int64_t> shape) {
  return m.register_parameter(name, torch::randn(shape) * 0.02);
}

torch::nn::LayerNorm layer_norm(int dim) { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})); }

std::pair<int64_t, int64_t> near_square(int k) {
  int qh = (int)std::sqrt((double)k);
  while (qh > 1 && k % qh) --qh;
  return {qh, k / qh};
}

AttentionImpl::AttentionImpl(int dim, int heads_) : heads(heads_) {
  to_q = register_module("to_q", torch::nn::Linear(dim, dim));
  to_kv = register_module("to_kv", torch::nn::Linear(dim, 2 * dim));
  out = register_module("out", torch::nn::Linear(dim, dim));
}

Tensor heads_of(const Tensor& x, int64_t heads) {
  return x.view({x.size(0), x.size(1), heads, x.size(2) / heads}).transpose(1, 2);
}

Tensor attend(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask) {
  auto att = torch::matmul(q, k.transpose(-2, -1)) * (1.0 / std::sqrt((double)q.size(-1)));
  if (mask.defined()) att = att.masked_fill(mask.logical_not(), -1e9);
  return torch::matmul(torch::softmax(att, -1), v);
}

Tensor AttentionImpl::forward(const Tensor& x, const Tensor& ctx, const Tensor& mask) {
  const auto B = x.size(0), N = x.size(1), M = ctx.size(1), D = x.size(2), dh = D / heads;
  auto kv = to_kv(ctx).view({B, M, 2, heads, dh});
  auto k = kv.select(2, 0).transpose(1, 2), v = kv.select(2, 1).transpose(1, 2);
  return out(attend(heads_of(to_q(x), heads), k, v, mask.unsqueeze(1)).transpose(1, 2).reshape({B, N, D}));
}

MlpImpl::MlpImpl(int dim, int hidden) {
  fc1 = register_module("fc1", torch::nn::Linear(dim, hidden));
  fc2 = register_module("fc2", torch::nn::Linear(hidden, dim));
}
Tensor MlpImpl::forward(const Tensor& x) { return fc2(F::gelu(fc1(x))); }

BlockImpl::BlockImpl(int dim, int heads, int mlp_ratio, bool cross) {
  n1 = register_module("n1", layer_norm(dim));
  self_attn = register_module("self_attn", Attention(dim, heads));
  if (cross) {
    n2 = register_module("n2", layer_norm(dim));
    nc = register_module("nc", layer_norm(dim));
    cross_attn = register_module("cross_attn", Attention(dim, heads));
  }
  n3 = register_module("n3", layer_norm(dim));
  mlp = register_module("mlp", Mlp(dim, dim * mlp_ratio));
}

Tensor BlockImpl::forward(Tensor x, const Tensor& self_mask, const Tensor& ctx, const Tensor& cross_mask) {
  auto h = n1(x);
  x = x + self_attn(h, h, self_mask);
  if (cross_attn) x = x + cross_attn(n2(x), nc(ctx), cross_mask);
  return x + mlp(n3(x));
}

Tensor patchify(const Tensor& x, int pt, int ps) {
  const int64_t B = x.size(0), C = x.size(1), T = x.size(2), H = x.size(3), W = x.size(4);
  return x.reshape({B, C, T / pt, pt, H / ps, ps, W / ps, ps})
      .permute({0, 2, 4, 6, 1, 3, 5, 7})
      .reshape({B, (T / pt) * (H / ps) * (W / ps), C * pt * ps * ps});
}

}  // namespace evatok
