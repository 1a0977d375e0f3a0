// Building blocks of the EVATok networks: attention, MLP, the pre-norm
// transformer block, the 3D patchify, and the helpers their constructors share.
#pragma once
#include <torch/torch.h>

#include <utility>
#include <vector>

namespace evatok {

// A parameter of `m` with N(0, 0.02) initial values.
torch::Tensor param(torch::nn::Module& m, const char* name, std::vector<int64_t> shape);
torch::nn::LayerNorm layer_norm(int dim);

// [B,N,D] -> [B,heads,N,D/heads].
torch::Tensor heads_of(const torch::Tensor& x, int64_t heads);
// Softmax attention of q [B,h,N,dh] over k, v [B,h,M,dh]; mask (true = may
// attend) broadcastable to [B,1,N,M], or undefined (no mask).
torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, const torch::Tensor& mask);

// Multi-head attention; mask is "allowed" (true = may attend), broadcastable
// to [B, Nq, Nk].
struct AttentionImpl : torch::nn::Module {
  AttentionImpl(int dim, int heads);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& ctx, const torch::Tensor& mask);
  torch::nn::Linear to_q{nullptr}, to_kv{nullptr}, out{nullptr};
  int heads;
};
TORCH_MODULE(Attention);

struct MlpImpl : torch::nn::Module {
  MlpImpl(int dim, int hidden);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(Mlp);

// Self-attention, optional cross-attention, MLP; pre-norm residual.
struct BlockImpl : torch::nn::Module {
  BlockImpl(int dim, int heads, int mlp_ratio, bool cross);
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& self_mask, const torch::Tensor& ctx,
                        const torch::Tensor& cross_mask);
  torch::nn::LayerNorm n1{nullptr}, n2{nullptr}, nc{nullptr}, n3{nullptr};
  Attention self_attn{nullptr}, cross_attn{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(Block);

// Factors k into a near-square grid qh x qw (qh*qw == k) for 2D query pooling.
std::pair<int64_t, int64_t> near_square(int k);
// [B,C,T,H,W] -> [B, (T/pt)*(H/ps)*(W/ps), C*pt*ps*ps], patches in (t, y, x) order.
torch::Tensor patchify(const torch::Tensor& x, int pt, int ps);

}  // namespace evatok
