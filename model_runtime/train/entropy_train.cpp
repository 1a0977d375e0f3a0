#include "train/entropy_train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "bitstream/bitstream.h"
#include "core/cpu_runtime.h"
#include "core/safetensors.h"
#include "tokenizer/model.h"
#include "train/train_util.h"

namespace evatok {

namespace {

// One tile-clip's tokens as the codec codes them.
struct TileTokens {
  std::vector<int> choice;       // per block
  std::vector<uint32_t> tokens;  // blocks in order
};

constexpr uint32_t kBaseTotal = 1u << 18;

// The coding cost, in bits, of a row's tokens under given weights: the same
// frequencies as bitstream/token_model.c computes (counts of the tile's
// earlier tokens up to EVTM_ADAPT_TOKENS, the block's previous token, the
// previous block's co-located token), without coding them.
struct CostModel {
  const ModelConfig& cfg;
  int C, B, V;
  explicit CostModel(const ModelConfig& c) : cfg(c), C((int)c.choices.size()), B(c.num_blocks()), V(c.codebook_size) {}

  // bits[row] for every row, given base frequencies and per-row weights
  void cost(const std::vector<TileTokens>& tiles, const std::vector<uint32_t>& freq, uint32_t base_total,
            const std::vector<uint32_t>& wk, const std::vector<uint32_t>& wp, const std::vector<uint32_t>& wc,
            std::vector<double>& bits, std::vector<long>& n) const {
    bits.assign((size_t)B * C, 0.0);
    n.assign((size_t)B * C, 0);
    std::vector<uint32_t> cnt((size_t)V, 0);
    for (const auto& t : tiles) {
      uint32_t seen = 0;
      size_t pos = 0, prev_start = 0;
      long prev_n = 0;
      for (int b = 0; b < B; ++b) {
        const int c = t.choice[b], row = b * C + c;
        const long len = cfg.choices[c];
        for (long i = 0; i < len; ++i) {
          const uint32_t s = t.tokens[pos + i];
          const int prev = i > 0 ? (int)t.tokens[pos + i - 1] : -1;
          const int coloc = b > 0 ? (int)t.tokens[prev_start + (size_t)(i * prev_n / len)] : -1;
          const int p = wp[row] ? prev : -1, q = wc[row] ? coloc : -1;
          double f = (double)freq[(size_t)row * V + s] + (double)wk[row] * cnt[s];
          double z = (double)base_total + (double)wk[row] * seen;
          if (p >= 0) z += wp[row], f += (p == (int)s) ? wp[row] : 0;
          if (q >= 0) z += wc[row], f += (q == (int)s) ? wc[row] : 0;
          bits[row] += std::log2(z / f);
          n[row]++;
          if (seen < EVTM_ADAPT_TOKENS) cnt[s]++, seen++;
        }
        prev_start = pos;
        prev_n = len;
        pos += (size_t)len;
      }
      for (size_t i = 0; i < t.tokens.size() && i < EVTM_ADAPT_TOKENS; ++i) cnt[t.tokens[i]] = 0;
    }
  }
};

// Frequencies summing to exactly `total`, each at least 1, close to
// counts + alpha * V * prior (prior sums to 1: the pooled distribution, so a
// row with few tokens backs off to all rows' statistics).
std::vector<uint32_t> quantize(const std::vector<double>& counts, const std::vector<double>& prior, double alpha,
                               uint32_t total) {
  const size_t V = counts.size();
  double sum = 0;
  for (size_t s = 0; s < V; ++s) sum += counts[s] + alpha * (double)V * prior[s];
  std::vector<uint32_t> f(V);
  int64_t used = 0;
  for (size_t s = 0; s < V; ++s) {
    f[s] = 1 + (uint32_t)std::floor((counts[s] + alpha * (double)V * prior[s]) / sum * (double)(total - V));
    used += f[s];
  }
  // hand the rounding remainder to the most frequent symbols, in order
  std::vector<size_t> order(V);
  for (size_t s = 0; s < V; ++s) order[s] = s;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return counts[a] > counts[b]; });
  for (size_t k = 0; used < (int64_t)total; k = (k + 1) % V, ++used) f[order[k]]++;
  return f;
}

std::vector<TileTokens> tokenize(Model& m, const torch::Tensor& clips, float wq) {
  std::vector<TileTokens> out;
  const int64_t n = clips.size(0);
  for (int64_t s = 0; s < n; s += 16) {
    auto batch = clips.slice(0, s, std::min(n, s + 16));
    std::vector<Assignment> as;
    if (m.has_router) {
      as = m.route(batch, wq);
    } else {  // no router: every uniform rate in turn
      for (int64_t i = 0; i < batch.size(0); ++i)
        as.emplace_back(m.cfg.num_blocks(), (int)((s + i) % (int64_t)m.cfg.choices.size()));
    }
    auto toks = m.encode(batch, as);
    for (size_t i = 0; i < as.size(); ++i) {
      TileTokens t;
      t.choice.assign(as[i].begin(), as[i].end());
      for (int64_t v : toks[i]) t.tokens.push_back((uint32_t)v);
      out.push_back(std::move(t));
    }
  }
  return out;
}

}  // namespace

void EntropyOptions::validate() const {
  if (model.empty() || data_dir.empty() || out.empty())
    throw std::runtime_error("entropy-tables needs --model, --data and --out");
  if (wq.empty()) throw std::runtime_error("--wq needs at least one rate");
  for (float w : wq)
    if (!(w >= 0 && w <= 100)) throw std::runtime_error("--wq rates must be in 0..100");
  if (clips < 10) throw std::runtime_error("--clips must be at least 10");
  if (threads < 0) throw std::runtime_error("--threads must be 0 (every core) or more");
}

int train_entropy_tables(const EntropyOptions& o) {
  o.validate();
  set_cpu_threads(o.threads);
  auto dev = parse_device(o.device);
  auto m = Model::load(o.model, dev);
  const auto& cfg = m->cfg;
  const int B = cfg.num_blocks(), C = (int)cfg.choices.size(), V = cfg.codebook_size;
  if (B > EVBS_MAX_BLOCKS || C > EVBS_MAX_CHOICES || V > (1 << 20) || V > (int)kBaseTotal / 4)
    throw std::runtime_error("this model's geometry does not fit bitstream v2's tables");
  c10::InferenceMode inference;
  ClipSampler data(load_videos(o.data_dir, o.video), cfg.clip_frames, cfg.clip_height, cfg.clip_width, o.seed + 77);
  // Every fifth clip is held back to choose the smoothing and the weights.
  std::vector<TileTokens> fit, tune;
  const auto t0 = std::chrono::steady_clock::now();
  for (float wq : o.wq) {
    auto clips = data.clips(data.draw(o.clips));
    auto tt = tokenize(*m, clips, wq);
    for (size_t i = 0; i < tt.size(); ++i) (i % 5 == 0 ? tune : fit).push_back(std::move(tt[i]));
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    printf("tokenized %d clips at wq %.2f (%.0f s so far)\n", o.clips, wq, sec);
    fflush(stdout);
  }
  auto count_rows = [&](const std::vector<TileTokens>& tiles) {
    std::vector<std::vector<double>> cnt((size_t)B * C, std::vector<double>((size_t)V, 0.0));
    for (const auto& t : tiles) {
      size_t pos = 0;
      for (int b = 0; b < B; ++b) {
        const int c = t.choice[b];
        for (int i = 0; i < cfg.choices[c]; ++i) cnt[(size_t)b * C + c][t.tokens[pos + i]] += 1;
        pos += (size_t)cfg.choices[c];
      }
    }
    return cnt;
  };
  auto base_freq = [&](const std::vector<std::vector<double>>& cnt, double alpha) {
    std::vector<double> pooled((size_t)V, 0.5);  // all rows together, lightly smoothed
    double n = 0.5 * V;
    for (const auto& row : cnt)
      for (int s = 0; s < V; ++s) pooled[s] += row[s], n += row[s];
    for (double& p : pooled) p /= n;
    std::vector<uint32_t> f;
    f.reserve((size_t)B * C * V);
    for (const auto& row : cnt) {
      auto q = quantize(row, pooled, alpha, kBaseTotal);
      f.insert(f.end(), q.begin(), q.end());
    }
    return f;
  };
  CostModel cm(cfg);
  const size_t R = (size_t)B * C;
  // Weight grid, in units of the base total (kept under the token model's bounds).
  const std::vector<double> gk{0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2}, gp{0, 0.05, 0.1, 0.2, 0.5},
      gc{0, 0.1, 0.25, 0.5, 1, 2, 4};
  auto w_of = [](double x) { return (uint32_t)std::lround(x * kBaseTotal); };
  struct Choice {
    double bits = 1e300;
    uint32_t k = 0, p = 0, c = 0;
  };
  auto best_weights = [&](const std::vector<uint32_t>& freq) {
    std::vector<Choice> best(R);
    std::vector<double> bits;
    std::vector<long> n;
    for (double k : gk)
      for (double p : gp)
        for (double c : gc) {
          std::vector<uint32_t> wk(R, w_of(k)), wp(R, w_of(p)), wc(R, w_of(c));
          cm.cost(tune, freq, kBaseTotal, wk, wp, wc, bits, n);
          for (size_t r = 0; r < R; ++r)
            if (bits[r] < best[r].bits) best[r] = {bits[r], wk[r], wp[r], wc[r]};
        }
    return best;
  };
  auto cnt_fit = count_rows(fit);
  long n_tune = 0;
  for (const auto& t : tune) n_tune += (long)t.tokens.size();
  double best_alpha = 0, best_total = 1e300;
  std::vector<Choice> chosen;
  for (double alpha : {0.05, 0.2, 1.0, 4.0, 16.0}) {
    auto w = best_weights(base_freq(cnt_fit, alpha));
    double total = 0;
    for (const auto& c : w) total += c.bits;
    printf("smoothing %.2f: %.3f bits per token on %ld held-back tokens\n", alpha, total / n_tune, n_tune);
    if (total < best_total) best_total = total, best_alpha = alpha, chosen = w;
  }
  // What each context adds, with the chosen smoothing: report.
  {
    auto freq = base_freq(cnt_fit, best_alpha);
    std::vector<uint32_t> uni((size_t)R * V);
    for (size_t r = 0; r < R; ++r) {
      auto q = quantize(std::vector<double>((size_t)V, 0.0), std::vector<double>((size_t)V, 1.0 / V), 1.0, kBaseTotal);
      std::copy(q.begin(), q.end(), uni.begin() + (long)(r * V));
    }
    std::vector<uint32_t> z(R, 0), wk(R), wp(R), wc(R);
    for (size_t r = 0; r < R; ++r) wk[r] = chosen[r].k, wp[r] = chosen[r].p, wc[r] = chosen[r].c;
    std::vector<double> bits;
    std::vector<long> n;
    auto total = [&](const std::vector<uint32_t>& f, const std::vector<uint32_t>& a, const std::vector<uint32_t>& b,
                     const std::vector<uint32_t>& c) {
      cm.cost(tune, f, kBaseTotal, a, b, c, bits, n);
      double s = 0;
      for (double x : bits) s += x;
      return s / n_tune;
    };
    printf("bits per token on the held-back tokens (fixed width: %d):\n", evbs_bits_per_token(V));
    printf("  block and count tables alone        %.3f\n", total(freq, z, z, z));
    printf("  + counts of the tile's tokens        %.3f\n", total(freq, wk, z, z));
    printf("  + the block's previous token         %.3f\n", total(freq, wk, wp, z));
    printf("  + the previous block's co-located    %.3f\n", total(freq, wk, wp, wc));
    printf("  (uniform tables with the same three  %.3f)\n", total(uni, wk, wp, wc));
  }
  // Final tables: every counted clip, the chosen smoothing and weights.
  std::vector<TileTokens> all = fit;
  all.insert(all.end(), tune.begin(), tune.end());
  auto freq = base_freq(count_rows(all), best_alpha);
  EntropyTables e;
  e.num_blocks = B;
  e.num_choices = C;
  e.codebook_size = V;
  e.base_total = kBaseTotal;
  e.token_cum.resize(R * (size_t)(V + 1));
  for (size_t r = 0; r < R; ++r) {
    uint32_t acc = 0;
    for (int s = 0; s <= V; ++s) {
      e.token_cum[r * (V + 1) + s] = acc;
      if (s < V) acc += freq[r * V + s];
    }
    e.count_w.push_back(chosen[r].k);
    e.prev_w.push_back(chosen[r].p);
    e.coloc_w.push_back(chosen[r].c);
  }
  // Assignment: choice given block and the tile's previous choice.
  std::vector<double> ac((size_t)B * (C + 1) * C, 0.0);
  for (const auto& t : all)
    for (int b = 0, prev = C; b < B; prev = t.choice[b], ++b) ac[((size_t)b * (C + 1) + prev) * C + t.choice[b]] += 1;
  for (int r = 0; r < B * (C + 1); ++r) {
    std::vector<double> row(ac.begin() + (long)r * C, ac.begin() + (long)(r + 1) * C);
    auto q = quantize(row, std::vector<double>((size_t)C, 1.0 / C), 0.5, EVTM_ASSIGN_TOTAL);
    uint32_t acc = 0;
    for (int i = 0; i <= C; ++i) {
      e.assign_cum.push_back(acc);
      if (i < C) acc += q[i];
    }
  }
  e.check(cfg);
  e.refresh_fp();
  m->entropy = e;
  m->info["train.entropy_clips"] = std::to_string(all.size());
  std::string rates;
  for (float w : o.wq) rates += (rates.empty() ? "" : ",") + std::to_string(w).substr(0, 4);
  m->info["train.entropy_wq"] = rates;
  m->info["train.entropy_bits_per_token"] = std::to_string(best_total / n_tune);
  m->save(o.out);
  printf("saved %s: entropy tables %s (smoothing %.2f); codec fingerprint %s unchanged\n", o.out.c_str(),
         to_hex(e.fp.data(), 16).c_str(), best_alpha, to_hex(m->codec_fp.data(), 16).c_str());
  return 0;
}

}  // namespace evatok
