#include "tokenizer/tokenizer.h"

#include "tokenizer/layers.h"

#include <cmath>

namespace evatok {
namespace F = torch::nn::functional;
using torch::Tensor;

Layout Layout::make(const ModelConfig& cfg, const std::vector<std::vector<int>>& choice_idx,
                    torch::Device device) {
  Layout l;
  l.batch = (int)choice_idx.size();
  const int nb = cfg.num_blocks();
  for (const auto& a : choice_idx) {
    std::vector<int> c(nb);
    int total = 0;
    for (int b = 0; b < nb; ++b) total += (c[b] = cfg.choices.at(a.at(b)));
    l.counts.push_back(c);
    l.max_len = std::max(l.max_len, total);
  }
  auto opt = torch::TensorOptions().dtype(torch::kInt64);
  auto block = torch::zeros({l.batch, l.max_len}, opt), pos = torch::zeros({l.batch, l.max_len}, opt);
  auto choice = torch::zeros({l.batch, l.max_len}, opt), first = torch::zeros({l.batch, nb}, opt);
  auto valid = torch::zeros({l.batch, l.max_len}, torch::kBool);
  auto pb = block.accessor<int64_t, 2>(), pp = pos.accessor<int64_t, 2>();
  auto pc = choice.accessor<int64_t, 2>(), pf = first.accessor<int64_t, 2>();
  auto pv = valid.accessor<bool, 2>();
  for (int s = 0; s < l.batch; ++s) {
    int i = 0;
    for (int b = 0; b < nb; ++b) {
      pf[s][b] = i;
      for (int k = 0; k < l.counts[s][b]; ++k, ++i) {
        pb[s][i] = b;
        pp[s][i] = k;
        pc[s][i] = choice_idx[s][b];
        pv[s][i] = true;
      }
    }
  }
  l.block = block.to(device);
  l.pos = pos.to(device);
  l.choice = choice.to(device);
  l.valid = valid.to(device);
  l.first = first.to(device);
  return l;
}

// ---------------------------------------------------------------- encoder
EncoderImpl::EncoderImpl(const ModelConfig& c) : cfg(c) {
  const int D = cfg.enc_dim;
  stem = register_module("stem", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, cfg.stem_channels, 3).padding(1)));
  patch = register_module("patch", torch::nn::Linear(cfg.stem_channels * cfg.patch_t * cfg.patch_s * cfg.patch_s, D));
  emb_pos = param(*this, "emb_pos", {cfg.num_blocks() * cfg.patches_per_block(), D});
  query_pos = param(*this, "query_pos", {cfg.max_choice(), D});
  choice_emb = param(*this, "choice_emb", {(int64_t)cfg.choices.size(), D});
  block_emb = param(*this, "block_emb", {cfg.num_blocks(), D});
  layers = register_module("layers", torch::nn::ModuleList());
  for (int i = 0; i < cfg.enc_layers; ++i) layers->push_back(Block(D, cfg.enc_heads, cfg.mlp_ratio, true));
  norm = register_module("norm", layer_norm(D));
  to_code = register_module("to_code", torch::nn::Linear(D, cfg.code_dim));
}

// Embedding positions' block ids, for block-causal cross-attention.
static Tensor embedding_blocks(const ModelConfig& cfg, torch::Device dev) {
  return torch::arange(cfg.num_blocks(), torch::TensorOptions().dtype(torch::kInt64).device(dev))
      .repeat_interleave(cfg.patches_per_block());
}

EncoderImpl::Input EncoderImpl::embed(const Tensor& x, const std::vector<bool>& needed) {
  const int64_t B = x.size(0), T = cfg.clip_frames, H = cfg.clip_height, W = cfg.clip_width;
  const int64_t D = cfg.enc_dim, nb = cfg.num_blocks(), gh = cfg.grid_h(), gw = cfg.grid_w();
  // Per-frame conv stem, then the 3D patch embedding.
  auto f = x.permute({0, 2, 1, 3, 4}).reshape({B * T, 3, H, W});
  f = F::gelu(stem(f)).view({B, T, cfg.stem_channels, H, W}).permute({0, 2, 1, 3, 4});
  auto tokens = patch(patchify(f, cfg.patch_t, cfg.patch_s));           // [B, nb*gh*gw, D]
  Input in;
  in.emb = tokens + emb_pos;
  auto grid = tokens.transpose(1, 2).view({B, D, nb, gh, gw});
  // Queries of block t start from a 2D pooling of that block's embeddings
  // to as many cells as the block has tokens.
  auto per_block = (grid.permute({0, 2, 1, 3, 4}) + emb_pos.view({nb, gh, gw, D}).permute({0, 3, 1, 2}))
                       .reshape({B * nb, D, gh, gw});
  in.pooled.resize(cfg.choices.size());
  for (size_t ci = 0; ci < cfg.choices.size(); ++ci) {
    if (!needed[ci]) continue;
    auto [qh, qw] = near_square(cfg.choices[ci]);
    in.pooled[ci] = F::adaptive_avg_pool2d(per_block, F::AdaptiveAvgPool2dFuncOptions({qh, qw}))
                        .flatten(2).transpose(1, 2).view({B, nb, qh * qw, D});
  }
  return in;
}

Tensor EncoderImpl::forward(const Tensor& x, const Layout& L) {
  const int64_t B = x.size(0), D = cfg.enc_dim, nb = cfg.num_blocks();
  std::vector<bool> needed(cfg.choices.size(), false);
  for (const auto& c : L.counts)
    for (int k : c) needed[cfg.choice_index(k)] = true;
  auto in = embed(x, needed);
  const auto& pooled = in.pooled;
  const auto& emb = in.emb;
  std::vector<Tensor> rows;
  for (int64_t s = 0; s < B; ++s) {
    std::vector<Tensor> parts;
    int len = 0;
    for (int64_t b = 0; b < nb; ++b) {
      const int k = L.counts[s][b];
      parts.push_back(pooled[cfg.choice_index(k)][s][b]);
      len += k;
    }
    if (len < L.max_len) parts.push_back(torch::zeros({L.max_len - len, D}, x.options()));
    rows.push_back(torch::cat(parts, 0));
  }
  auto q = torch::stack(rows) + query_pos.index_select(0, L.pos.flatten()).view({B, L.max_len, D}) +
           choice_emb.index_select(0, L.choice.flatten()).view({B, L.max_len, D}) +
           block_emb.index_select(0, L.block.flatten()).view({B, L.max_len, D});
  // Block-causal masks: a query of block t sees queries/embeddings of blocks <= t.
  auto self_mask = L.valid.unsqueeze(1) & (L.block.unsqueeze(1) <= L.block.unsqueeze(2));
  auto eblk = embedding_blocks(cfg, x.device());
  auto cross_mask = eblk.view({1, 1, -1}) <= L.block.unsqueeze(2);
  for (auto& m : *layers) q = m->as<Block>()->forward(q, self_mask, emb, cross_mask);
  return F::normalize(to_code(norm(q)), F::NormalizeFuncOptions().dim(-1));
}

// ---------------------------------------------------------------- quantizer
QuantizerImpl::QuantizerImpl(const ModelConfig& cfg) {
  codebook = register_parameter("codebook", torch::randn({cfg.codebook_size, cfg.code_dim}));
}

Tensor QuantizerImpl::lookup(const Tensor& indices) {
  auto cb = F::normalize(codebook, F::NormalizeFuncOptions().dim(-1));
  auto shape = indices.sizes().vec();
  shape.push_back(cb.size(1));
  return cb.index_select(0, indices.flatten()).view(shape);
}

QuantizerImpl::Out QuantizerImpl::forward(const Tensor& z, const Tensor& valid) {
  auto cb = F::normalize(codebook, F::NormalizeFuncOptions().dim(-1));
  auto flat = z.reshape({-1, z.size(-1)});
  auto idx = torch::matmul(flat, cb.t()).argmax(-1);
  auto zq = cb.index_select(0, idx).view(z.sizes());
  auto w = valid.unsqueeze(-1).to(z.dtype());
  const auto n = w.sum().clamp_min(1) * z.size(-1);
  auto commit = ((z - zq.detach()).pow(2) * w).sum() / n;
  auto book = ((zq - z.detach()).pow(2) * w).sum() / n;
  Out o;
  o.codes = z + (zq - z).detach();
  o.indices = idx.view(valid.sizes());
  o.loss = book + 0.25 * commit;
  return o;
}

// ---------------------------------------------------------------- decoder
DecoderImpl::DecoderImpl(const ModelConfig& c) : cfg(c) {
  const int D = cfg.dec_dim;
  from_code = register_module("from_code", torch::nn::Linear(cfg.code_dim, D));
  tok_pos = param(*this, "tok_pos", {cfg.max_choice(), D});
  choice_emb = param(*this, "choice_emb", {(int64_t)cfg.choices.size(), D});
  block_emb = param(*this, "block_emb", {cfg.num_blocks(), D});
  query3d_pos = param(*this, "query3d_pos", {cfg.num_blocks() * cfg.patches_per_block(), D});
  layers = register_module("layers", torch::nn::ModuleList());
  for (int i = 0; i < cfg.dec_layers; ++i) layers->push_back(Block(D, cfg.dec_heads, cfg.mlp_ratio, true));
  norm = register_module("norm", layer_norm(D));
  const int hc = cfg.head_channels;
  to_pixels = register_module("to_pixels", torch::nn::Linear(D, cfg.patch_t * cfg.patch_s * cfg.patch_s * hc));
  head1 = register_module("head1", torch::nn::Conv2d(torch::nn::Conv2dOptions(hc, hc, 3).padding(1)));
  head2 = register_module("head2", torch::nn::Conv2d(torch::nn::Conv2dOptions(hc, 3, 3).padding(1)));
  if (cfg.temporal_carry) {
    // The carry controls come from the decoder's token features, which see
    // the earlier blocks' tokens, so the gate can tell "this block repeats
    // the last one" (a conv on the pixel head's 8 channels could not). One
    // gate logit and one 2D flow per patch and frame, upsampled bilinearly:
    // a patch moves as a whole, and the gradient of its 64 pixels trains one
    // output instead of 64 (per-pixel outputs learned far too slowly).
    // Starts with no motion and the gate mostly closed (sigmoid(-2) = 0.12),
    // so a model warm-started from one without carry begins near where it was.
    carry_head = register_module("carry_head", torch::nn::Linear(D, cfg.patch_t * 3));
    // The gate's second input: a 3x3 conv on (own picture, carried picture,
    // |difference|, its 7x7 local mean). Where the carried picture agrees
    // with the block's own low-rate one it is safe to take, and it has the
    // previous block's detail.
    carry_match = register_module("carry_match", torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 1, 3).padding(1)));
    torch::NoGradGuard ng;
    carry_match->weight.zero_();
    carry_match->bias.zero_();
    carry_head->weight.zero_();
    carry_head->bias.view({-1, 3}).copy_(torch::tensor({-2.0f, 0.0f, 0.0f}).expand({cfg.patch_t, 3}));
  }
}

Tensor DecoderImpl::pixels(const Tensor& q, int64_t blocks, Tensor* ctl) {
  const int64_t B = q.size(0), gh = cfg.grid_h(), gw = cfg.grid_w(), pt = cfg.patch_t, ps = cfg.patch_s;
  const int64_t hc = cfg.head_channels, T = blocks * pt, H = cfg.clip_height, W = cfg.clip_width;
  // Un-patchify to a feature video, then a small per-frame conv head whose
  // first three channels are a direct RGB path.
  auto qn = norm(q);
  auto pix = to_pixels(qn).view({B, blocks, gh, gw, pt, ps, ps, hc});
  pix = pix.permute({0, 1, 4, 7, 2, 5, 3, 6}).reshape({B * T, hc, H, W});
  auto h = F::gelu(head1(pix));
  auto rgb = pix.slice(1, 0, 3) + head2(h);
  if (carry_head && ctl) {
    auto c = carry_head(qn).view({B, blocks, gh, gw, pt, 3}).permute({0, 1, 4, 5, 2, 3}).reshape({B * T, 3, gh, gw});
    c = F::interpolate(c, F::InterpolateFuncOptions().size(std::vector<int64_t>{H, W}).mode(torch::kBilinear).align_corners(false));
    *ctl = c.view({B, T, 3, H, W}).permute({0, 2, 1, 3, 4});
  }
  return rgb.view({B, T, 3, H, W}).permute({0, 2, 1, 3, 4});
}

Tensor DecoderImpl::carry(const Tensor& rgb, const Tensor& ctl, const Tensor& prev) {
  if (!ctl.defined() || !prev.defined()) return rgb;
  const int64_t B = rgb.size(0), T = rgb.size(2), H = rgb.size(3), W = rgb.size(4);
  constexpr double kFlowPixels = 4.0;  // flow output unit, in pixels
  // Sampling grid in grid_sample's normalised coordinates (pixel centres,
  // align_corners=false), displaced by the flow.
  auto opt = rgb.options();
  auto xs = (torch::arange(W, opt) * 2 + 1) / W - 1, ys = (torch::arange(H, opt) * 2 + 1) / H - 1;
  auto flow = ctl.slice(1, 1, 3).permute({0, 2, 3, 4, 1}) * kFlowPixels;  // [B,T,H,W,2] (x, y)
  auto gx = xs.view({1, 1, 1, W}) + flow.select(4, 0) * (2.0 / W);
  auto gy = ys.view({1, 1, H, 1}) + flow.select(4, 1) * (2.0 / H);
  auto grid = torch::stack({gx, gy}, -1).view({B * T, H, W, 2});
  auto src = prev.unsqueeze(1).expand({B, T, 3, H, W}).reshape({B * T, 3, H, W});
  auto moved = F::grid_sample(src, grid, F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kBorder).align_corners(false));
  auto own = rgb.permute({0, 2, 1, 3, 4}).reshape({B * T, 3, H, W});
  // Inputs scaled to about unit range: with raw pixel differences (~0.05)
  // the conv needed weights far larger than a few hundred steps can grow.
  auto diff = (own - moved).abs().mean(1, true) * 10;
  auto local = F::avg_pool2d(diff, F::AvgPool2dFuncOptions(7).stride(1).padding(3).count_include_pad(false));
  auto agree = carry_match(torch::cat({own * 2, moved * 2, diff, local}, 1));
  auto g = torch::sigmoid(ctl.slice(1, 0, 1) + agree.view({B, T, 1, H, W}).permute({0, 2, 1, 3, 4}));
  moved = moved.view({B, T, 3, H, W}).permute({0, 2, 1, 3, 4});
  return rgb + g * (moved - rgb);
}

DecoderImpl::Inputs DecoderImpl::inputs(const Tensor& codes, const Layout& L) {
  const int64_t B = codes.size(0), D = cfg.dec_dim, nb = cfg.num_blocks(), P = cfg.patches_per_block();
  const int64_t gh = cfg.grid_h(), gw = cfg.grid_w();
  Inputs in;
  in.tok = from_code(codes) + tok_pos.index_select(0, L.pos.flatten()).view({B, L.max_len, D}) +
           choice_emb.index_select(0, L.choice.flatten()).view({B, L.max_len, D}) +
           block_emb.index_select(0, L.block.flatten()).view({B, L.max_len, D});
  const auto& tok = in.tok;
  // 3D queries of block t start from that block's first 1D token (as
  // published) plus the block's tokens laid back on the patch grid: the
  // encoder pooled its queries from a qh x qw grid, so resampling the tokens
  // from that grid to gh x gw gives every 3D query its own spatial token. The
  // second term is our addition; it makes the decoder learn far faster on CPU.
  auto firsts = tok.gather(1, L.first.unsqueeze(-1).expand({B, nb, D}));  // [B, nb, D]
  std::vector<Tensor> grids;
  for (int64_t s = 0; s < B; ++s) {
    int64_t off = 0;
    for (int64_t b = 0; b < nb; ++b) {
      const int k = L.counts[s][b];
      auto [qh, qw] = near_square(k);
      auto g = tok[s].slice(0, off, off + k).t().reshape({1, D, qh, qw});
      grids.push_back(F::adaptive_avg_pool2d(g, F::AdaptiveAvgPool2dFuncOptions({gh, gw})).view({D, P}).t());
      off += k;
    }
  }
  auto spatial = torch::stack(grids).view({B, nb * P, D});
  in.queries = firsts.unsqueeze(2).expand({B, nb, P, D}).reshape({B, nb * P, D}) + spatial + query3d_pos;
  return in;
}

Tensor DecoderImpl::forward(const Tensor& codes, const Layout& L, const Tensor& before) {
  const int64_t nb = cfg.num_blocks(), pt = cfg.patch_t;
  auto in = inputs(codes, L);
  auto q = in.queries;
  auto qblk = embedding_blocks(cfg, codes.device());
  auto self_mask = (qblk.view({1, -1}) <= qblk.view({-1, 1})).unsqueeze(0);
  auto cross_mask = L.valid.unsqueeze(1) & (L.block.unsqueeze(1) <= qblk.view({1, -1, 1}));
  for (auto& m : *layers) q = m->as<Block>()->forward(q, self_mask, in.tok, cross_mask);
  Tensor ctl;
  auto rgb = pixels(q, nb, &ctl);
  if (!ctl.defined()) return rgb;
  // Blocks in order: each may carry the previous block's last (displayed,
  // hence clamped) frame. Block-causal like the rest of the decoder.
  std::vector<Tensor> out;
  Tensor prev = before;
  for (int64_t b = 0; b < nb; ++b) {
    auto blk = carry(rgb.narrow(2, b * pt, pt), ctl.narrow(2, b * pt, pt), prev);
    prev = blk.select(2, pt - 1).clamp(-0.5, 0.5);
    out.push_back(blk);
  }
  return torch::cat(out, 2);
}

BlockDecoder::BlockDecoder(DecoderImpl& dec, const Tensor& codes, const Layout& layout, const Tensor& before)
    : d(dec), L(layout), prev(before), seen(layout.batch, 0) {
  const int64_t B = codes.size(0), D = d.cfg.dec_dim, nb = d.cfg.num_blocks(), P = d.cfg.patches_per_block();
  in = d.inputs(codes, L);
  for (auto& l : *d.layers) {
    auto* m = l->as<Block>();
    const int64_t h = m->cross_attn->heads, dh = D / h;
    auto kv = m->cross_attn->to_kv(m->nc(in.tok)).view({B, L.max_len, 2, h, dh});
    cross_k.push_back(kv.select(2, 0).transpose(1, 2));
    cross_v.push_back(kv.select(2, 1).transpose(1, 2));
    self_k.push_back(torch::empty({B, m->self_attn->heads, nb * P, D / m->self_attn->heads}, codes.options()));
    self_v.push_back(torch::empty_like(self_k.back()));
  }
}

bool BlockDecoder::done() const { return block == d.cfg.num_blocks(); }

Tensor BlockDecoder::next() {
  const int64_t B = L.batch, D = d.cfg.dec_dim, P = d.cfg.patches_per_block(), pt = d.cfg.patch_t, b = block++;
  // Tokens are stored block after block: block b's queries see each clip's
  // first seen[s] tokens; a mask only where clips differ.
  int64_t lo = L.max_len, hi = 0;
  for (int64_t s = 0; s < B; ++s) {
    seen[s] += L.counts[s][b];
    lo = std::min(lo, seen[s]);
    hi = std::max(hi, seen[s]);
  }
  Tensor cmask;
  if (lo != hi) cmask = (L.valid.narrow(1, 0, hi) & (L.block.narrow(1, 0, hi) <= b)).view({B, 1, 1, hi});
  auto x = in.queries.narrow(1, b * P, P);
  for (size_t l = 0; l < d.layers->size(); ++l) {
    auto* m = d.layers[l]->as<Block>();
    auto* sa = m->self_attn.get();
    const int64_t h = sa->heads, dh = D / h;
    auto n = m->n1(x);
    auto kv = sa->to_kv(n).view({B, P, 2, h, dh});
    self_k[l].narrow(2, b * P, P).copy_(kv.select(2, 0).transpose(1, 2));
    self_v[l].narrow(2, b * P, P).copy_(kv.select(2, 1).transpose(1, 2));
    auto a = attend(heads_of(sa->to_q(n), h), self_k[l].narrow(2, 0, (b + 1) * P), self_v[l].narrow(2, 0, (b + 1) * P), {});
    x = x + sa->out(a.transpose(1, 2).reshape({B, P, D}));
    auto* ca = m->cross_attn.get();
    a = attend(heads_of(ca->to_q(m->n2(x)), ca->heads), cross_k[l].narrow(2, 0, hi), cross_v[l].narrow(2, 0, hi), cmask);
    x = x + ca->out(a.transpose(1, 2).reshape({B, P, D}));
    x = x + m->mlp(m->n3(x));
  }
  Tensor ctl;
  auto rgb = d.pixels(x, 1, &ctl);
  if (!ctl.defined()) return rgb;
  rgb = d.carry(rgb, ctl, prev);
  prev = rgb.select(2, pt - 1).clamp(-0.5, 0.5);
  return rgb;
}

Tensor BlockDecoder::rest() {
  std::vector<Tensor> out;
  while (!done()) out.push_back(next());
  return torch::cat(out, 2);
}

Tensor DecoderImpl::forward_blocks(const Tensor& codes, const Layout& L, const Tensor& before) {
  return BlockDecoder(*this, codes, L, before).rest();
}

EvaTokImpl::EvaTokImpl(const ModelConfig& c) : cfg(c) {
  encoder = register_module("encoder", Encoder(cfg));
  quantizer = register_module("quantizer", Quantizer(cfg));
  decoder = register_module("decoder", Decoder(cfg));
  router = register_module("router", Router(cfg));
}

}  // namespace evatok
