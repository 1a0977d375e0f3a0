#include "tokenizer/prefix_search.h"

#include <vector>

namespace evatok {
using torch::Tensor;
namespace F = torch::nn::functional;

namespace {

// One transformer block applied to the newest block's rows only. `keys` holds
// the n1-normalised rows of earlier blocks at this layer (undefined: none)
// and is extended with this block's; `ctx` is the already-normalised
// cross-attention context the block may see.
Tensor step(BlockImpl& b, Tensor x, Tensor& keys, const Tensor& ctx, const Tensor& all) {
  auto h = b.n1(x);
  keys = keys.defined() ? torch::cat({keys, h}, 1) : h;
  x = x + b.self_attn(h, keys, all);
  if (b.cross_attn) x = x + b.cross_attn(b.n2(x), ctx, all);
  return x + b.mlp(b.n3(x));
}

struct State {  // attention inputs of a prefix, per layer
  std::vector<Tensor> enc_keys, dec_keys, dec_ctx;
  Tensor last;  // the prefix's last output frame (temporal carry)
};

struct Search {
  Model& m;
  QualityMetric& metric;
  Tensor x, all;
  Tensor emb;                      // [B, nb*P, De] patch embeddings + positions
  std::vector<Tensor> pooled;      // per choice: [B, nb, k, De] initial queries
  std::vector<Tensor> enc_ctx;     // per encoder layer: nc(emb)
  Tensor q;                        // [B, A] output
  int nb, P;

  Search(Model& model, QualityMetric& qm, const Tensor& clips) : m(model), metric(qm) {
    auto& cfg = m.cfg;
    auto& enc = *m.net->encoder;
    nb = cfg.num_blocks(), P = cfg.patches_per_block();
    x = clips.to(m.device);
    all = torch::ones({1, 1, 1}, torch::TensorOptions().dtype(torch::kBool).device(m.device));
    // The encoder's input stage, once per clip, for every choice.
    auto in = enc.embed(x, std::vector<bool>(cfg.choices.size(), true));
    emb = in.emb;
    pooled = in.pooled;
    for (auto& l : *enc.layers) enc_ctx.push_back(l->as<BlockImpl>()->nc(emb));
    q = torch::zeros({x.size(0), cfg.num_assignments()});
  }

  // Encodes and decodes block t with choice c after the prefix in `s`;
  // returns the block's quality [B] and extends `s`.
  Tensor block(int t, int c, State& s) {
    auto& cfg = m.cfg;
    auto& enc = *m.net->encoder;
    auto& dec = *m.net->decoder;
    const int k = cfg.choices[c];
    const int64_t B = x.size(0), pt = cfg.patch_t, gh = cfg.grid_h(), gw = cfg.grid_w();
    // Encoder: this block's queries over all earlier queries and blocks <= t.
    auto qe = pooled[c].select(1, t) + enc.query_pos.slice(0, 0, k) + enc.choice_emb[c] + enc.block_emb[t];
    int li = 0;
    for (auto& l : *enc.layers) {
      qe = step(*l->as<BlockImpl>(), qe, s.enc_keys[li], enc_ctx[li].slice(1, 0, (int64_t)(t + 1) * P), all);
      ++li;
    }
    auto z = F::normalize(enc.to_code(enc.norm(qe)), F::NormalizeFuncOptions().dim(-1));
    auto cb = F::normalize(m.net->quantizer->codebook, F::NormalizeFuncOptions().dim(-1));
    auto codes = cb.index_select(0, torch::matmul(z.reshape({-1, z.size(-1)}), cb.t()).argmax(-1)).view(z.sizes());
    // Decoder: this block's 3D queries over earlier 3D queries and tokens <= t.
    const int64_t Dd = cfg.dec_dim;
    auto pos = torch::arange(k, torch::TensorOptions().dtype(torch::kInt64).device(m.device));
    auto tok = dec.from_code(codes) + dec.tok_pos.index_select(0, pos) + dec.choice_emb[c] + dec.block_emb[t];
    auto [qh, qw] = near_square(k);
    auto spatial = F::adaptive_avg_pool2d(tok.transpose(1, 2).reshape({B, Dd, qh, qw}),
                                          F::AdaptiveAvgPool2dFuncOptions({gh, gw}))
                       .view({B, Dd, P}).transpose(1, 2);
    auto qd = tok.select(1, 0).unsqueeze(1) + spatial + dec.query3d_pos.slice(0, (int64_t)t * P, (int64_t)(t + 1) * P);
    li = 0;
    for (auto& l : *dec.layers) {
      auto& b = *l->as<BlockImpl>();
      auto nt = b.nc(tok);
      s.dec_ctx[li] = s.dec_ctx[li].defined() ? torch::cat({s.dec_ctx[li], nt}, 1) : nt;
      qd = step(b, qd, s.dec_keys[li], s.dec_ctx[li], all);
      ++li;
    }
    Tensor ctl;
    auto rec = dec.carry(dec.pixels(qd, 1, &ctl), ctl, s.last).clamp(-0.5, 0.5);
    s.last = rec.select(2, pt - 1);
    return metric.per_block(rec, x.narrow(2, (int64_t)t * pt, pt), 1).select(1, 0).cpu();
  }

  // Depth-first over prefixes; `sum` is the quality summed over blocks < t.
  void visit(int t, int index, const Tensor& sum, const State& s) {
    const int nc = (int)m.cfg.choices.size();
    for (int c = 0; c < nc; ++c) {
      State child = s;
      auto total = sum + block(t, c, child);
      const int idx = index * nc + c;  // block 0 most significant, as ModelConfig
      if (t + 1 == nb)
        q.select(1, idx).copy_(total / nb);
      else
        visit(t + 1, idx, total, child);
    }
  }
};

}  // namespace

Tensor prefix_quality_table(Model& model, const Tensor& clips, QualityMetric& metric) {
  torch::NoGradGuard ng;
  Search s(model, metric, clips);
  State root;
  root.enc_keys.resize(model.net->encoder->layers->size());
  root.dec_keys.resize(model.net->decoder->layers->size());
  root.dec_ctx.resize(model.net->decoder->layers->size());
  s.visit(0, 0, torch::zeros({clips.size(0)}), root);
  return s.q;
}

}  // namespace evatok
