#include "eval/ar_bench.h"

#include <cstdio>

#include "data/ar_data.h"
#include "ar/ar_predict.h"
#include "ar/ar_step.h"
#include "train/train_util.h"

namespace evatok {

int bench_ar(const std::string& tok_path, const std::string& ar_path, const std::string& data_dir, int runs,
             const std::string& device) {
  torch::Device dev(device);
  auto tok = Model::load(tok_path, dev);
  auto ar = ArModel::load(ar_path, dev);
  check_ar_tokenizer(*ar, *tok);
  const ArConfig& c = ar->cfg;
  torch::Tensor cond;
  if (!data_dir.empty()) {
    std::vector<Video> v{read_y4m(list_videos(data_dir).front(), 64)};
    cond = ArClipSource(v, c, 1).sample(1, nullptr).slice(2, 0, c.cond_frames);
  } else {
    torch::manual_seed(1);
    cond = torch::rand({1, 3, c.cond_frames, c.clip_height, c.clip_width}) - 0.5;
  }
  auto prefix = prefix_tokens(c, *tok, pad_condition(c, cond));
  printf("AR model %s (%lld parameters, dim %d, %d layers), %d threads, device %s, %d runs each\n",
         c.name.c_str(), (long long)ar->num_parameters(), c.dim, c.layers, torch::get_num_threads(), device.c_str(),
         runs);
  // Sampled lengths (what the model picks), then every block at a middle and the
  // largest budget; each with the cached step sampling uses (ArStep), with
  // LibTorch's cached step (the path before ArStep) and without the cache.
  // Without the cache every step re-runs the whole sequence (quadratic): one
  // run, and not at the largest budget (minutes per clip on CPU).
  printf("%-28s %-15s %10s %12s %10s\n", "lengths", "KV cache", "tokens", "tokens/s", "s/clip");
  for (int force : {-1, (int)c.choices.size() / 2, 0}) {
    for (int mode = 0; mode < 3; ++mode) {
      const bool kv = mode < 2;
      if (!kv && force == 0) continue;
      const int n_runs = kv ? runs : 1;
      SampleParams p;
      p.force_choice = force;
      p.kv_cache = kv;
      p.fast_step = mode == 0;
      int64_t tokens = 0;
      if (kv) ar_sample(*ar, prefix, p);  // warm-up
      const auto t0 = Clock::now();
      for (int r = 0; r < n_runs; ++r) {
        p.seed = (uint64_t)r;
        tokens += ar_sample(*ar, prefix, p).sampled;
      }
      const double dt = seconds_since(t0);
      const std::string what = force < 0 ? "sampled by the model" : "every block " + std::to_string(c.choices[force]);
      const char* how = mode == 0 ? "yes (ArStep)" : mode == 1 ? "yes (LibTorch)" : "no";
      printf("%-28s %-15s %10.1f %12.1f %10.3f\n", what.c_str(), how, (double)tokens / n_runs, tokens / dt,
             dt / n_runs);
      fflush(stdout);
    }
  }
  // The cached step (half-float weights) against LibTorch's float forward pass
  // on one sampled sequence: logit error and KL divergence per position.
  if (ArStep::supports(*ar->net)) {
    torch::NoGradGuard ng;
    SampleParams p;
    p.force_choice = 0;
    auto s = ar_sample(*ar, prefix, p);
    auto seq = ar_prompt(c, -1, prefix[0]);
    const int64_t split = (int64_t)seq.tokens.size();
    size_t at = 0;
    for (int b = 0; b < c.num_blocks; ++b) {
      ar_append_block(c, seq, b, s.choices[0][b], s.tokens[0].data() + at);
      at += c.choices[s.choices[0][b]];
    }
    auto batch = ar->collate({seq});
    const int64_t T = batch.tokens.size(1);
    auto full = ar->net->logits(ar->net->forward(batch.tokens, batch.seg, batch.pos, batch.choice, 0, nullptr))[0];
    auto cache = ar->net->new_cache(1);
    ar->net->forward(batch.tokens.slice(1, 0, split), batch.seg.slice(1, 0, split), batch.pos.slice(1, 0, split),
                     batch.choice.slice(1, 0, split), 0, &cache);
    ArStep step(*ar->net, cache, 1);
    double max_err = 0, kl = 0;
    for (int64_t t = split; t < T; ++t) {
      const float* L = step.step(&seq.tokens[t], &seq.feat.seg[t], &seq.feat.pos[t], &seq.feat.choice[t], t);
      auto got = torch::from_blob(const_cast<float*>(L), {c.vocab_size()}, torch::kFloat32).to(torch::kFloat64);
      auto want = full[t].to(torch::kFloat64);
      max_err = std::max(max_err, (got - want).abs().max().item<double>());
      auto lp = torch::log_softmax(want, 0), lq = torch::log_softmax(got, 0);
      kl += (lp.exp() * (lp - lq)).sum().item<double>();
    }
    printf("cached step (half weights) against the float forward pass over %lld positions: max |logit error| "
           "%.2e, mean KL %.2e nats per token\n",
           (long long)(T - split), max_err, kl / (double)(T - split));
  }
  // End to end: condition frames -> prefix -> sampling -> decoded clip.
  SampleParams p;
  predict_clips(*ar, *tok, cond, p);
  const auto t0 = Clock::now();
  int64_t tokens = 0;
  for (int r = 0; r < runs; ++r) {
    int64_t n = 0;
    p.seed = (uint64_t)r;
    predict_clips(*ar, *tok, cond, p, &n);
    tokens += n;
  }
  const double dt = seconds_since(t0) / runs;
  printf("predicted clip end to end (encode prefix, sample %.1f tokens, decode %d frames): %.3f s per clip, "
         "%.1f predicted frames/s\n",
         (double)tokens / runs, c.clip_frames, dt, (c.clip_frames - c.cond_frames) / dt);
  return 0;
}

}  // namespace evatok
