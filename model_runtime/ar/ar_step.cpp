#include "ar/ar_step.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace evatok {
namespace {

bool plain(const torch::Tensor& t) {
  return t.defined() && t.device().is_cpu() && t.scalar_type() == torch::kFloat32 && t.is_contiguous();
}

const float* ptr(const torch::Tensor& t) {
  if (!plain(t)) throw std::runtime_error("AR step: a weight is not a contiguous CPU float32 tensor");
  return t.data_ptr<float>();
}

HalfMatrix half(const torch::Tensor& w) { return HalfMatrix(ptr(w), w.size(0), w.size(1)); }

void rms_norm(const float* x, const float* w, float* y, int64_t n) {
  float ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += x[i] * x[i];
  const float r = 1.f / std::sqrt(ss / (float)n + 1e-6f);
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * r * w[i];
}

// Pairs (x[2i], x[2i+1]) rotated by the position's angles, as ArLayer's rope().
void rope(float* x, const float* cos, const float* sin, int64_t half) {
  for (int64_t i = 0; i < half; ++i) {
    const float a = x[2 * i], b = x[2 * i + 1];
    x[2 * i] = a * cos[i] - b * sin[i];
    x[2 * i + 1] = a * sin[i] + b * cos[i];
  }
}

}  // namespace

bool ArStep::supports(const ArNetImpl& net) {
  for (const auto& p : net.parameters())
    if (!plain(p)) return false;
  return plain(net.rope_cos) && plain(net.rope_sin);
}

ArStep::ArStep(ArNetImpl& net, KVCache& cache, int64_t rows)
    : net_(net),
      B_(rows),
      D_(net.cfg.dim),
      H_(net.cfg.heads),
      dh_(net.cfg.dim / net.cfg.heads),
      F_(net.cfg.mlp_hidden),
      V_(net.cfg.vocab_size()),
      S_(net.cfg.max_seq_len()) {
  if ((int64_t)cache.k.size() != net.cfg.layers) throw std::runtime_error("AR step: cache has the wrong depth");
  int i = 0;
  for (auto& m : *net.layers) {
    auto* l = m->as<ArLayerImpl>();
    auto& k = cache.k[i], &v = cache.v[i];
    ++i;
    if (!plain(k) || !plain(v) || k.sizes() != torch::IntArrayRef({B_, H_, S_, dh_}) || v.sizes() != k.sizes())
      throw std::runtime_error("AR step: cache has the wrong layout");
    layers_.push_back({ptr(l->n1->weight), ptr(l->n2->weight), half(l->qkv->weight), half(l->wo->weight),
                       half(l->w1->weight), half(l->w2->weight), half(l->w3->weight), k.data_ptr<float>(),
                       v.data_ptr<float>(), std::vector<uint16_t>((size_t)(B_ * H_ * S_ * dh_)),
                       std::vector<uint16_t>((size_t)(B_ * H_ * S_ * dh_))});
  }
  tok_ = ptr(net.tok_emb->weight);
  seg_ = ptr(net.seg_emb->weight);
  pos_ = ptr(net.pos_emb->weight);
  choice_ = ptr(net.choice_emb->weight);
  norm_ = ptr(net.norm->weight);
  head_ = half(net.head->weight);
  cos_ = ptr(net.rope_cos);
  sin_ = ptr(net.rope_sin);
  x_.resize(B_ * D_);
  h_.resize(B_ * D_);
  qkv_.resize(B_ * 3 * D_);
  o_.resize(B_ * D_);
  a_.resize(B_ * F_);
  c_.resize(B_ * F_);
  logits_.resize(B_ * V_);
  scores_.resize(S_);
}

const float* ArStep::step(const int64_t* tokens, const int64_t* seg, const int64_t* pib, const int64_t* choice,
                          int64_t pos) {
  const auto& cfg = net_.cfg;
  if (pos < 0 || pos >= S_) throw std::runtime_error("AR sequence longer than the model allows");
  for (int64_t r = 0; r < B_; ++r) {
    if (tokens[r] < 0 || tokens[r] >= V_ || seg[r] < 0 || seg[r] >= cfg.num_segments() || pib[r] < 0 ||
        pib[r] > cfg.max_choice() || choice[r] < 0 || choice[r] > cfg.num_choices())
      throw std::runtime_error("AR step: token or feature out of range");
    float* x = &x_[r * D_];
    const float *a = tok_ + tokens[r] * D_, *b = seg_ + seg[r] * D_, *c = pos_ + pib[r] * D_,
                *d = choice_ + choice[r] * D_;
    for (int64_t i = 0; i < D_; ++i) x[i] = ((a[i] + b[i]) + c[i]) + d[i];
  }
  const int64_t half = dh_ / 2, n = pos + 1;
  const float *cs = cos_ + pos * half, *sn = sin_ + pos * half;
  const float scale = 1.f / std::sqrt((float)dh_);
  if (converted_ < pos) {  // the prompt's keys and values, once
    for (Layer& L : layers_)
      for (int64_t bh = 0; bh < B_ * H_; ++bh) {
        const int64_t at = (bh * S_ + converted_) * dh_, len = (pos - converted_) * dh_;
        floats_to_half(L.k + at, L.kh.data() + at, len);
        floats_to_half(L.v + at, L.vh.data() + at, len);
      }
    converted_ = pos;
  }
  for (Layer& L : layers_) {
    for (int64_t r = 0; r < B_; ++r) rms_norm(&x_[r * D_], L.n1, &h_[r * D_], D_);
    L.qkv.apply(h_.data(), B_, qkv_.data(), false);
    for (int64_t r = 0; r < B_; ++r)
      for (int64_t hd = 0; hd < H_; ++hd) {
        float* q = &qkv_[r * 3 * D_ + hd * dh_];  // [3, H, dh] per row
        float* k = q + D_;
        const float* v = q + 2 * D_;
        rope(q, cs, sn, half);
        rope(k, cs, sn, half);
        const int64_t base = (r * H_ + hd) * S_ * dh_;
        uint16_t *K = L.kh.data() + base, *Vc = L.vh.data() + base;
        floats_to_half(k, K + pos * dh_, dh_);
        floats_to_half(v, Vc + pos * dh_, dh_);
        float* sc = scores_.data();
        half_rows_dot(K, n, dh_, q, sc);
        float mx = -INFINITY;
        for (int64_t s = 0; s < n; ++s) mx = std::max(mx, sc[s] *= scale);
        float sum = 0;
        for (int64_t s = 0; s < n; ++s) sum += sc[s] = std::exp(sc[s] - mx);
        const float inv = 1.f / sum;
        for (int64_t s = 0; s < n; ++s) sc[s] *= inv;
        half_rows_combine(Vc, n, dh_, sc, &o_[r * D_ + hd * dh_]);
      }
    L.wo.apply(o_.data(), B_, x_.data(), true);  // x += o wo^T
    for (int64_t r = 0; r < B_; ++r) rms_norm(&x_[r * D_], L.n2, &h_[r * D_], D_);
    L.w1.apply(h_.data(), B_, a_.data(), false);
    L.w3.apply(h_.data(), B_, c_.data(), false);
    for (int64_t i = 0; i < B_ * F_; ++i) a_[i] = a_[i] / (1.f + std::exp(-a_[i])) * c_[i];  // silu(w1 m) * w3 m
    L.w2.apply(a_.data(), B_, x_.data(), true);
  }
  for (int64_t r = 0; r < B_; ++r) rms_norm(&x_[r * D_], norm_, &h_[r * D_], D_);
  head_.apply(h_.data(), B_, logits_.data(), false);
  converted_ = std::max(converted_, pos + 1);
  return logits_.data();
}

}  // namespace evatok
