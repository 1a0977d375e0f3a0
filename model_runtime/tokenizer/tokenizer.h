// The EVATok tokenizer: the 1D variable-length Q-Former encoder, the VQ and
// the decoder, and the whole network with its router (router.h), as LibTorch
// modules built from a ModelConfig. Their building blocks are in layers.h.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "core/config.h"
#include "tokenizer/layers.h"
#include "tokenizer/router.h"

namespace evatok {

// Token layout of a batch where every sample has its own assignment
// (choice index per block). Sequences are padded to the longest sample.
struct Layout {
  int batch = 0, max_len = 0;
  std::vector<std::vector<int>> counts;  // [B][block] tokens
  torch::Tensor block, pos, choice;      // [B, max_len] int64 (padding: 0)
  torch::Tensor valid;                   // [B, max_len] bool
  torch::Tensor first;                   // [B, blocks] index of each block's first token
  static Layout make(const ModelConfig& cfg, const std::vector<std::vector<int>>& choice_idx,
                     torch::Device device);
};

struct EncoderImpl : torch::nn::Module {
  explicit EncoderImpl(const ModelConfig& cfg);
  // x: [B,3,T,H,W] in [-0.5,0.5] -> l2-normalised codes [B, max_len, code_dim]
  torch::Tensor forward(const torch::Tensor& x, const Layout& layout);
  // The input stage of forward (also run by the prefix search): the patch
  // embeddings with positions [B, blocks*P, D], and for every choice c with
  // needed[c] the pooled initial queries [B, blocks, choices[c], D].
  struct Input {
    torch::Tensor emb;
    std::vector<torch::Tensor> pooled;
  };
  Input embed(const torch::Tensor& x, const std::vector<bool>& needed);
  ModelConfig cfg;
  torch::nn::Conv2d stem{nullptr};
  torch::nn::Linear patch{nullptr};  // 3D patch embedding (kernel == stride, so a Linear)
  torch::Tensor emb_pos, query_pos, choice_emb, block_emb;
  torch::nn::ModuleList layers;
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear to_code{nullptr};
};
TORCH_MODULE(Encoder);

struct DecoderImpl : torch::nn::Module {
  explicit DecoderImpl(const ModelConfig& cfg);
  // codes [B, max_len, code_dim] -> pixels [B,3,T,H,W]. With temporal carry
  // and `before` [B,3,H,W] (the previous packet's last frame), block 1 may
  // carry from it as later blocks carry from theirs.
  torch::Tensor forward(const torch::Tensor& codes, const Layout& layout, const torch::Tensor& before = {});
  // The same function for inference, through BlockDecoder (below).
  torch::Tensor forward_blocks(const torch::Tensor& codes, const Layout& layout, const torch::Tensor& before = {});
  // Pixel head: final 3D-query rows of `blocks` consecutive blocks
  // [B, blocks*P, D] -> RGB [B,3,blocks*pt,H,W]; with temporal carry, *ctl
  // gets the carry controls [B,3,blocks*pt,H,W] (gate logit, flow x, flow y).
  torch::Tensor pixels(const torch::Tensor& q, int64_t blocks, torch::Tensor* ctl);
  // Temporal carry of one block: rgb [B,3,pt,H,W] mixed per pixel with the
  // previous block's last frame `prev` [B,3,H,W] (undefined: first block),
  // warped by the flow of `ctl`.
  torch::Tensor carry(const torch::Tensor& rgb, const torch::Tensor& ctl, const torch::Tensor& prev);
  // The token features [B, max_len, D] and the 3D queries' inputs [B, nb*P, D].
  struct Inputs {
    torch::Tensor tok, queries;
  };
  Inputs inputs(const torch::Tensor& codes, const Layout& layout);
  ModelConfig cfg;
  torch::nn::Linear from_code{nullptr};
  torch::Tensor tok_pos, choice_emb, block_emb, query3d_pos;
  torch::nn::ModuleList layers;
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear to_pixels{nullptr};
  torch::nn::Conv2d head1{nullptr}, head2{nullptr};
  // Only with cfg.temporal_carry: gate logit and flow from the token
  // features, and a gate correction from how well the carried picture agrees
  // with the block's own.
  torch::nn::Linear carry_head{nullptr};
  torch::nn::Conv2d carry_match{nullptr};
};
TORCH_MODULE(Decoder);

// The decoder's inference pass one temporal block after the other: block b's
// 3D queries run through every layer attending to the self-attention keys
// kept from blocks < b and to the tokens of blocks <= b, so no masked-out
// score is computed, and block b's frames exist before block b+1 starts (the
// C API's progressive decoding). Equal to DecoderImpl::forward up to float
// rounding (tests/unit/test_decode_blocks.cpp). No autograd.
class BlockDecoder {
 public:
  BlockDecoder(DecoderImpl& dec, const torch::Tensor& codes, const Layout& layout, const torch::Tensor& before = {});
  bool done() const;
  torch::Tensor next();  // the next block's frames [B,3,pt,H,W]
  torch::Tensor rest();  // every block not decoded yet, in order [B,3,*,H,W]

 private:
  DecoderImpl& d;
  Layout L;
  DecoderImpl::Inputs in;
  std::vector<torch::Tensor> cross_k, cross_v, self_k, self_v;  // per layer [B,h,*,dh]
  torch::Tensor prev;                                           // carry source [B,3,H,W]
  std::vector<int64_t> seen;                                    // tokens of blocks < next, per clip
  int64_t block = 0;
};

// Vector quantizer over l2-normalised low-dimensional codes (cosine lookup).
struct QuantizerImpl : torch::nn::Module {
  explicit QuantizerImpl(const ModelConfig& cfg);
  struct Out {
    torch::Tensor codes;    // straight-through quantised codes
    torch::Tensor indices;  // int64 [...]
    torch::Tensor loss;     // commitment + codebook loss over valid entries
  };
  Out forward(const torch::Tensor& z, const torch::Tensor& valid);
  torch::Tensor lookup(const torch::Tensor& indices);  // -> normalised codes
  torch::Tensor codebook;                              // [K, code_dim]
};
TORCH_MODULE(Quantizer);

struct EvaTokImpl : torch::nn::Module {
  explicit EvaTokImpl(const ModelConfig& cfg);
  ModelConfig cfg;
  Encoder encoder{nullptr};
  Quantizer quantizer{nullptr};
  Decoder decoder{nullptr};
  Router router{nullptr};
};
TORCH_MODULE(EvaTok);

}  // namespace evatok
