#include "ar/ar_sampler.h"

#include "ar/ar_step.h"

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace evatok {

std::string SampleParams::invalid(int num_classes) const {
  auto num = [](double v) {
    char b[32];
    snprintf(b, sizeof b, "%g", v);
    return std::string(b);
  };
  if (!(temperature >= 0 && temperature <= 100)) return "temperature " + num(temperature) + " not in 0..100";
  if (top_k < 0) return "top_k " + std::to_string(top_k) + " is negative";
  if (!(top_p > 0 && top_p <= 1)) return "top_p " + num(top_p) + " not in (0, 1]";
  if (!(cfg >= 0 && cfg <= 100)) return "cfg " + num(cfg) + " not in 0..100";
  if (class_id < -1 || class_id >= num_classes)
    return "class " + std::to_string(class_id) + " not in -1.." + std::to_string(num_classes - 1);
  return "";
}
using torch::Tensor;

int64_t sample_from_logits(const float* logits, int lo, int hi, const SampleParams& p, std::mt19937_64& rng) {
  const int n = hi - lo;
  if (n <= 0) throw std::runtime_error("empty sampling range");
  const float* x = logits + lo;
  if (!(p.temperature > 0)) return lo + (int64_t)(std::max_element(x, x + n) - x);
  std::vector<int> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  // Ids in descending order of their logit, ties by id, so the order never
  // depends on the sort implementation.
  auto before = [&](int a, int b) { return x[a] > x[b] || (x[a] == x[b] && a < b); };
  int keep = n;
  if (p.top_k > 0 && p.top_k < n) {
    std::nth_element(idx.begin(), idx.begin() + p.top_k, idx.end(), before);
    keep = p.top_k;
  }
  // The draw walks the kept ids from the most likely one, and usually stops
  // within the first few dozen of thousands: the order is made a growing
  // prefix at a time (nth_element, then sort), not all at once.
  int sorted = 0;
  auto sort_upto = [&](int k) {
    k = std::min(k, keep);
    if (k <= sorted) return;
    if (k < keep) std::nth_element(idx.begin() + sorted, idx.begin() + k, idx.begin() + keep, before);
    std::sort(idx.begin() + sorted, idx.begin() + k, before);
    sorted = k;
  };
  const double mx = *std::max_element(x, x + n);
  std::vector<double> pr(n);
  double sum = 0;
  for (int i = 0; i < keep; ++i) sum += pr[idx[i]] = std::exp(((double)x[idx[i]] - mx) / p.temperature);
  // Walks the sorted kept ids until the running sum passes `target`: returns
  // how many were passed (at least 1) and their sum in `c`.
  auto walk = [&](double target, double& c) {
    c = 0;
    int i = 0, chunk = 64;
    while (i < keep) {
      sort_upto(i + chunk);
      for (; i < std::min(sorted, keep); ++i) {
        c += pr[idx[i]];
        if (target < c) return i + 1;
      }
      chunk *= 4;
    }
    return keep;
  };
  if (p.top_p > 0 && p.top_p < 1) {
    double c = 0;
    // the smallest prefix whose mass reaches top_p (c >= top_p * sum)
    keep = std::max(1, walk(std::nextafter(p.top_p * sum, -1.0), c));
    sum = c;
  }
  const double u = (double)(rng() >> 11) * 0x1.0p-53 * sum;
  double c = 0;
  return lo + idx[walk(u, c) - 1];
}

namespace {

struct SampleState {
  int block = 0, choice = -1, filled = 0;  // choice -1: a length token is due
  bool done = false;
};

}  // namespace

SampleOutput ar_sample(ArModel& m, const std::vector<std::vector<int64_t>>& prefixes, const SampleParams& p,
                       const std::vector<KnownBlocks>* known) {
  torch::NoGradGuard ng;
  const ArConfig& cfg = m.cfg;
  const int N = (int)prefixes.size();
  if (N == 0) return {};
  for (const auto& pre : prefixes)
    if (pre.size() != prefixes[0].size()) throw std::runtime_error("all prefixes must have the same length");
  if (p.class_id >= (int)cfg.classes.size()) throw std::runtime_error("class index out of range");
  const bool guided = p.class_id >= 0 && p.cfg != 1.f;
  const int B = guided ? 2 * N : N;
  std::vector<ArSequence> seqs;
  for (int r = 0; r < B; ++r) seqs.push_back(ar_prompt(cfg, r < N ? p.class_id : -1, prefixes[r % N]));
  const int K = cfg.codebook_size, nc = cfg.num_choices(), nb = cfg.num_blocks;
  if (known) {
    if ((int)known->size() != N) throw std::runtime_error("known blocks: one entry per sequence");
    for (const auto& k : *known) {
      if ((int)k.choices.size() >= nb) throw std::runtime_error("known blocks: at least one block must be sampled");
      size_t n = 0;
      for (int c : k.choices) {
        if (c < 0 || c >= nc) throw std::runtime_error("known blocks: choice out of range");
        n += cfg.choices[c];
      }
      if (k.tokens.size() != n) throw std::runtime_error("known blocks: token count differs from their choices");
      for (int64_t t : k.tokens)
        if (t < 0 || t >= K) throw std::runtime_error("known blocks: token out of range");
    }
  }

  auto dev = m.device;
  auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  // Runs the network on positions [from, len) of every sequence; logits of the last one.
  KVCache cache;
  if (p.kv_cache) cache = m.net->new_cache(B);
  auto run = [&](size_t from) -> Tensor {
    const size_t len = seqs[0].tokens.size();
    if (!p.kv_cache) from = 0;
    const int64_t T = (int64_t)(len - from);
    auto tok = torch::empty({B, T}, i64), seg = torch::empty({B, T}, i64);
    auto pos = torch::empty({B, T}, i64), ch = torch::empty({B, T}, i64);
    for (int r = 0; r < B; ++r) {
      const auto& s = seqs[r];
      std::copy(s.tokens.begin() + from, s.tokens.end(), tok[r].data_ptr<int64_t>());
      std::copy(s.feat.seg.begin() + from, s.feat.seg.end(), seg[r].data_ptr<int64_t>());
      std::copy(s.feat.pos.begin() + from, s.feat.pos.end(), pos[r].data_ptr<int64_t>());
      std::copy(s.feat.choice.begin() + from, s.feat.choice.end(), ch[r].data_ptr<int64_t>());
    }
    auto h = m.net->forward(tok.to(dev), seg.to(dev), pos.to(dev), ch.to(dev), (int64_t)from,
                            p.kv_cache ? &cache : nullptr);
    return m.net->logits(h.select(1, T - 1)).to(torch::kCPU, torch::kFloat32).contiguous();
  };
  // After the prompt, one token per row and step: ArStep (half floats) when it can.
  std::unique_ptr<ArStep> fast;
  if (p.kv_cache && p.fast_step && ArStep::supports(*m.net)) fast = std::make_unique<ArStep>(*m.net, cache, B);
  std::vector<int64_t> step_tok(B), step_seg(B), step_pos(B), step_ch(B);

  std::mt19937_64 rng(p.seed);
  SampleOutput out;
  out.choices.assign(N, std::vector<int>(nb, 0));
  out.tokens.assign(N, {});
  std::vector<SampleState> st(N);
  std::vector<float> row(cfg.vocab_size());
  Tensor logits = run(0);
  const float* L = logits.data_ptr<float>();
  for (int remaining = N; remaining > 0;) {
    const size_t fed = seqs[0].tokens.size();
    const int V = cfg.vocab_size();
    for (int i = 0; i < N; ++i) {
      SampleState& s = st[i];
      int64_t tok = 0, sg = 0, ps = 0, chs = nc;
      if (!s.done) {
        const float* c = L + (size_t)i * V;
        if (guided) {
          const float* u = L + (size_t)(N + i) * V;
          for (int v = 0; v < V; ++v) row[v] = u[v] + p.cfg * (c[v] - u[v]);
          c = row.data();
        }
        sg = 1 + cfg.prefix_blocks() + s.block;
        const KnownBlocks* kb = known && s.block < (int)(*known)[i].choices.size() ? &(*known)[i] : nullptr;
        if (s.choice < 0) {  // a length token is due
          tok = kb                      ? K + kb->choices[s.block]
                : p.force_choice >= 0 ? K + std::min(p.force_choice, nc - 1)
                                      : sample_from_logits(c, K, K + nc, p, rng);
          s.choice = (int)(tok - K);
          s.filled = 0;
          out.choices[i][s.block] = s.choice;
          ps = 0;
          chs = s.choice;
        } else {  // a visual token inside the block
          tok = kb ? kb->tokens[out.tokens[i].size()] : sample_from_logits(c, 0, K, p, rng);
          out.tokens[i].push_back(tok);
          ps = ++s.filled;
          chs = s.choice;
          if (s.filled == cfg.choices[s.choice]) {
            s.choice = -1;
            if (++s.block == nb) {
              s.done = true;
              --remaining;
            }
          }
        }
        if (!kb) ++out.sampled;
      }
      for (int r = i; r < B; r += N) {  // the guided copy takes the same token
        seqs[r].tokens.push_back(tok);
        seqs[r].feat.push(sg, ps, chs);
        step_tok[r] = tok, step_seg[r] = sg, step_pos[r] = ps, step_ch[r] = chs;
      }
    }
    if (remaining == 0) break;
    if (fast) {
      L = fast->step(step_tok.data(), step_seg.data(), step_pos.data(), step_ch.data(), (int64_t)fed);
    } else {
      logits = run(fed);
      L = logits.data_ptr<float>();
    }
  }
  return out;
}

}  // namespace evatok
