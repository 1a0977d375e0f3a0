#include "train/train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <sys/stat.h>

#include "core/cpu_runtime.h"
#include "data/data.h"
#include "tokenizer/model.h"
#include "core/quality.h"
#include "train/model_edit.h"
#include "train/train_util.h"
#include "core/safetensors.h"

namespace evatok {
using torch::Tensor;

namespace {

std::unique_ptr<Model> open_or_create(const TokenizerOptions& o, torch::Device dev) {
  if (!o.out.empty() && file_exists(o.out)) {
    printf("resuming from %s\n", o.out.c_str());
    return Model::load(o.out, dev);
  }
  if (!o.init.empty() && !o.config.empty()) {
    // Warm start: a new config (say, with temporal carry) from a trained model.
    auto m = std::make_unique<Model>(ModelConfig::from_file(o.config), o.seed, dev);
    auto src = Model::load(o.init, dev);
    auto fresh = copy_matching(*m, *src);
    const auto widened = widen_pixel_head(*m, *src);
    for (const auto& n : widened) fresh.erase(std::remove(fresh.begin(), fresh.end(), n), fresh.end());
    const auto deepened = deepen(*m, *src);
    printf("warm start from %s: %zu tensors new or reshaped\n", o.init.c_str(), fresh.size());
    std::string grown;
    const auto add = [&grown](const char* part, int from, int to, const char* unit) {
      grown += (grown.empty() ? "" : ", ") + std::string(part) + " from " + std::to_string(from) + " to " +
               std::to_string(to) + unit;
    };
    if (!widened.empty()) add("pixel head widened", src->cfg.head_channels, m->cfg.head_channels, " channels");
    if (deepened.encoder) add("encoder deepened", src->cfg.enc_layers, m->cfg.enc_layers, " layers");
    if (deepened.decoder) add("decoder deepened", src->cfg.dec_layers, m->cfg.dec_layers, " layers");
    if (!grown.empty())
      printf("warm start: %s; largest change to its pictures %.3g\n", grown.c_str(), picture_difference(*m, *src));
    auto state = m->state();
    int64_t fresh_n = 0, all_n = 0;
    for (const auto& [name, t] : state) all_n += t.numel();
    for (const auto& n : fresh) {
      printf("  new: %s\n", n.c_str());
      fresh_n += state[n].numel();
    }
    if (2 * fresh_n > all_n)
      throw std::runtime_error(o.init + " fits less than half of the weights of the config " + o.config +
                               " (" + std::to_string(all_n - fresh_n) + " of " + std::to_string(all_n) +
                               "); that is not a warm start");
    if (src->has_reward_stats() && m->cfg.same_assignments(src->cfg)) {
      copy_reward_stats(*m, *src);  // so eval's search uses the same reward scale
      printf("warm start: reward statistics taken from %s\n", o.init.c_str());
    }
    m->info["train.step"] = "0";
    m->info["train.warm_start"] = to_hex(src->fp.data(), 16);
    return m;
  }
  if (!o.init.empty()) {
    // Fine-tune: M0's weights and config, as a new run into --out (M0's step
    // count, time and "done" mark belong to M0's run, not to this one).
    auto m = Model::load(o.init, dev);
    m->info["train.step"] = "0";
    m->info.erase("train.seconds");
    m->info.erase("train.done");
    m->info["train.fine_tune_of"] = to_hex(m->fp.data(), 16);
    if (m->entropy) printf("its entropy tables are dropped: fine-tuning changes the tokens (rerun entropy-tables)\n");
    m->entropy.reset();
    printf("fine-tuning %s\n", o.init.c_str());
    return m;
  }
  if (o.config.empty()) throw std::runtime_error("give --config (new model) or --init (existing model)");
  auto m = std::make_unique<Model>(ModelConfig::from_file(o.config), o.seed, dev);
  m->info["train.step"] = "0";
  return m;
}

// Stage 3 trains the router on rate preferences in [kWqMin, --wq-max], whose
// default is kWqMax; stage 4 samples the same range as its router.
constexpr float kWqMin = 0.3f, kWqMax = 2.5f;

// A router's wq range as recorded in its info ("0.3..8"); %g keeps the upper
// end exact, since stage 4 reads it back.
std::string wq_range_text(float hi) {
  char buf[64];
  snprintf(buf, sizeof buf, "%g..%g", kWqMin, hi);
  return buf;
}

// Upper end of the wq range a router was trained on (wq_range_text in its info);
// `fallback` for a router that predicts quality (any wq) or an older file.
float router_wq_max(const Model& m, float fallback) {
  auto it = m.info.find("train.router_wq_range");
  if (it == m.info.end()) return fallback;
  const auto dots = it->second.find("..");
  if (dots == std::string::npos) return fallback;
  try {
    const float hi = std::stof(it->second.substr(dots + 2));
    return hi > kWqMin ? hi : fallback;
  } catch (const std::exception&) {
    return fallback;
  }
}

int info_int(const Model& m, const char* k) {
  auto it = m.info.find(k);
  return it == m.info.end() ? 0 : std::stoi(it->second);
}

}  // namespace

void TokenizerOptions::validate() const {
  RunOptions::validate();
  if (!(router_mix >= 0 && router_mix <= 1)) throw std::runtime_error("--router-mix must be between 0 and 1");
  if (!(mean_loss >= 0 && mean_loss <= 100)) throw std::runtime_error("--mean-loss must be between 0 and 100");
  if (!(inter_carry >= 0 && inter_carry <= 1)) throw std::runtime_error("--inter-carry must be between 0 and 1");
  if (!(wq_max > kWqMin)) throw std::runtime_error("--wq-max must be above " + std::to_string(kWqMin));
  if (!(ema == 0 || (ema >= 0.5 && ema < 1))) throw std::runtime_error("--ema must be 0 (off) or in [0.5, 1)");
}

void LabelOptions::validate() const {
  RunOptions::validate();
  if (label_clips < 1 || val_clips < 1 || label_batch < 1)
    throw std::runtime_error("--label-clips, --val-clips and --label-batch must be at least 1");
}

void RouterOptions::validate() const {
  RunOptions::validate();
  if (!(router_temp >= 0)) throw std::runtime_error("--router-temp must be >= 0");
  if (!(wq_max > kWqMin)) throw std::runtime_error("--wq-max must be above " + std::to_string(kWqMin));
}

int train_tokenizer(const TokenizerOptions& o) {
  o.validate();
  auto dev = parse_device(o.device);
  set_cpu_threads(o.threads);
  auto model = open_or_create(o, dev);
  auto& cfg = model->cfg;
  if (o.uniform_tokens > 0 && cfg.choice_index(o.uniform_tokens) < 0)
    throw std::runtime_error("--uniform must be one of the config's choices");
  if (o.inter_carry > 0 && !cfg.temporal_carry)
    throw std::runtime_error("--inter-carry needs a model with temporal carry (\"temporal_carry\": true)");
  ClipSampler data(load_videos(o.data_dir, o.video), cfg.clip_frames, cfg.clip_height, cfg.clip_width, o.seed + 17);
  std::unique_ptr<ClipSampler> val;
  if (!o.val_dir.empty()) val = std::make_unique<ClipSampler>(load_videos(o.val_dir, o.video), cfg.clip_frames, cfg.clip_height, cfg.clip_width, 5);
  printf("tokenizer %s: %lld parameters, %zu training videos, %d steps x batch %d\n", cfg.name.c_str(),
         (long long)model->num_parameters(), data.size(), o.steps, o.batch);
  // Stage 4: a trained router (any wq of its range) chooses most assignments.
  std::unique_ptr<Model> router_model;
  float route_wq_max = kWqMax;
  if (!o.router.empty()) {
    router_model = Model::load(o.router, dev);
    if (!router_model->has_router) throw std::runtime_error(o.router + " has no trained router");
    if (!cfg.same_assignments(router_model->cfg))
      throw std::runtime_error(o.router + ": its router was trained for other choices or blocks");
    route_wq_max = router_wq_max(*router_model, o.wq_max);
    printf("stage 4: assignments from the router of %s at wq %s (random for %.0f%% of clips)\n",
           o.router.c_str(), wq_range_text(route_wq_max).c_str(), 100 * o.router_mix);
  }

  auto& net = model->net;
  std::vector<Tensor> params;
  for (auto& p : net->encoder->parameters()) params.push_back(p);
  for (auto& p : net->quantizer->parameters()) params.push_back(p);
  std::vector<Tensor> gate_params;  // temporal carry (carry_head, carry_match): few weights, a higher rate
  for (auto& p : net->decoder->named_parameters())
    (p.key().rfind("carry_", 0) == 0 ? gate_params : params).push_back(p.value());
  torch::optim::AdamW opt(params, torch::optim::AdamWOptions(o.lr).betas({0.9, 0.99}).weight_decay(0.01));
  constexpr double kGateLrScale = 10.0;
  if (!gate_params.empty())
    opt.add_param_group(torch::optim::OptimizerParamGroup(
        gate_params, std::make_unique<torch::optim::AdamWOptions>(
                         torch::optim::AdamWOptions(o.lr * kGateLrScale).betas({0.9, 0.99}).weight_decay(0.0))));
  for (auto& p : gate_params) params.push_back(p);  // for gradient clipping
  const std::string state_path = o.out + ".optim";
  int step = info_int(*model, "train.step");
  // With --ema the model file holds the average; the weights being trained
  // (the "raw" ones) are kept beside the optimizer state.
  auto net_params = net->parameters();
  std::vector<Tensor> ema;
  if (o.ema > 0)
    for (auto& p : net_params) ema.push_back(p.detach().clone());
  if (step > 0 && file_exists(state_path)) {
    torch::serialize::InputArchive ar;
    ar.load_from(state_path);
    opt.load(ar);
    Tensor raw;
    if (o.ema > 0 && ar.try_read("ema_raw_0", raw)) {
      torch::NoGradGuard ng;
      for (size_t i = 0; i < net_params.size(); ++i) {
        if (!ar.try_read("ema_raw_" + std::to_string(i), raw) || !raw.sizes().equals(net_params[i].sizes()))
          throw std::runtime_error(state_path + ": its raw weights do not match the model");
        net_params[i].copy_(raw);
      }
      printf("resuming the raw weights from %s (%s holds their average)\n", state_path.c_str(), o.out.c_str());
    }
  }
  std::mt19937_64 rng(o.seed * 7919 + step);  // resumed runs continue with a fresh but fixed stream
  torch::manual_seed(o.seed + step);
  const int nc = (int)cfg.choices.size(), nb = cfg.num_blocks();
  std::vector<int64_t> usage(cfg.codebook_size, 0);
  if (router_model) {
    // The final model ships with the router that chose its assignments, and
    // that router's reward statistics (taken on the proxy tokenizer).
    adopt_router(*model, *router_model);
  }
  // Wall time already spent by earlier runs of this checkpoint (for the
  // time-based schedule); "train.done" marks a finished stage.
  const double prior_seconds = model->info.count("train.seconds") ? std::stod(model->info["train.seconds"]) : 0.0;
  if (model->info.count("train.done") && model->info["train.done"] == "1") {
    printf("%s is a finished run (train.done); nothing to do\n", o.out.c_str());
    return 0;
  }
  // Exchanges the weights being trained with their average (--ema).
  auto swap_average = [&]() {
    torch::NoGradGuard ng;
    for (size_t i = 0; i < net_params.size(); ++i) {
      auto raw = net_params[i].detach().clone();
      net_params[i].copy_(ema[i]);
      ema[i].copy_(raw);
    }
  };
  Clock::time_point t0;
  bool done = false;
  auto save = [&]() {
    model->info["train.step"] = std::to_string(step);
    model->info["train.seconds"] = std::to_string(prior_seconds + seconds_since(t0));
    model->info["train.done"] = done ? "1" : "0";
    if (o.mean_loss > 0) model->info["train.mean_loss"] = std::to_string(o.mean_loss);
    if (o.inter_carry > 0) model->info["train.inter_carry"] = std::to_string(o.inter_carry);
    if (o.ema > 0) model->info["train.ema"] = std::to_string(o.ema);
    model->info["train.kind"] = o.uniform_tokens ? "uniform-" + std::to_string(o.uniform_tokens)
                                : router_model ? "router-assignment" : "random-assignment";
    torch::serialize::OutputArchive ar;
    opt.save(ar);
    for (size_t i = 0; i < ema.size(); ++i) ar.write("ema_raw_" + std::to_string(i), net_params[i].detach().clone());
    if (!ema.empty()) swap_average();  // the model file holds the average
    model->save(o.out);
    if (!ema.empty()) swap_average();
    ar.save_to(state_path);
  };
  t0 = Clock::now();
  const int start_step = step;
  double loss_acc = 0, psnr_acc = 0;
  int acc_n = 0;
  net->train();
  while (step < o.steps) {
    // Cosine schedule with a short warmup, over steps or, with a time limit,
    // over whichever of steps and wall time runs out first.
    double progress = step / (double)o.steps;
    if (o.max_minutes > 0)
      progress = std::max(progress, (prior_seconds + seconds_since(t0)) / (60.0 * o.max_minutes));
    if (progress >= 1.0) {
      printf("time limit reached at step %d\n", step);
      break;
    }
    const double warm = std::min(1.0, (step + 1) / 100.0);
    const double lr = o.lr * warm * (0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * progress)));
    for (size_t gi = 0; gi < opt.param_groups().size(); ++gi)
      static_cast<torch::optim::AdamWOptions&>(opt.param_groups()[gi].options()).lr(gi ? lr * kGateLrScale : lr);
    auto specs = data.draw(o.batch);
    // An inter step: each clip continues the 16 frames before it, coded as a
    // keyframe by the current model (no gradient), and the decoder's first
    // block may carry from that packet's last decoded frame, as in the codec.
    const bool inter = o.inter_carry > 0 && (rng() >> 11) * 0x1.0p-53 < o.inter_carry;
    Tensor before;
    if (inter) {
      std::vector<ClipSpec> prev_specs = specs;
      for (size_t i = 0; i < specs.size(); ++i) {
        const int F = (int)data.videos()[specs[i].video].frames.size(0), T = cfg.clip_frames;
        specs[i].start = F >= 2 * T ? T + (int)(rng() % (F - 2 * T + 1)) : std::max(0, F - T);
        prev_specs[i].start = std::max(0, specs[i].start - T);
      }
      std::vector<Assignment> prev_as(o.batch, Assignment(nb));
      for (auto& a : prev_as)
        for (auto& c : a) c = o.uniform_tokens ? cfg.choice_index(o.uniform_tokens) : (int)(rng() % nc);
      net->eval();
      before = model->reconstruct(data.clips(prev_specs), prev_as).select(2, cfg.clip_frames - 1).clamp(-0.5, 0.5).to(dev);
      net->train();
    }
    auto x = data.clips(specs).to(dev);
    std::vector<Assignment> as(o.batch, Assignment(nb));
    for (auto& a : as)
      for (auto& c : a) c = o.uniform_tokens ? cfg.choice_index(o.uniform_tokens) : (int)(rng() % nc);
    if (router_model) {
      std::vector<float> wq(o.batch);
      for (auto& w : wq) w = kWqMin + (route_wq_max - kWqMin) * (float)((rng() >> 11) * 0x1.0p-53);
      auto routed = router_model->route(x, torch::tensor(wq));
      for (int i = 0; i < o.batch; ++i)
        if ((rng() >> 11) * 0x1.0p-53 >= o.router_mix) as[i] = routed[i];
    }
    if (inter && !o.uniform_tokens) {
      // The codec's -inter_carry tries the fewest tokens in the first block.
      int fewest = 0;
      for (int c = 1; c < nc; ++c)
        if (cfg.choices[c] < cfg.choices[fewest]) fewest = c;
      for (auto& a : as)
        if (rng() & 1) a[0] = fewest;
    }
    auto L = Layout::make(cfg, as, dev);
    auto z = net->encoder(x, L);
    auto q = net->quantizer(z, L.valid);
    auto rec = net->decoder(q.codes, L, before);
    auto err = rec - x;
    auto mse = err.pow(2).mean();
    auto loss = err.abs().mean() + mse + q.loss;
    if (o.mean_loss > 0)  // error of each patch's mean colour: a colour shift, not detail
      loss = loss + o.mean_loss * torch::avg_pool3d(err, {cfg.patch_t, cfg.patch_s, cfg.patch_s}).pow(2).mean();
    opt.zero_grad();
    loss.backward();
    torch::nn::utils::clip_grad_norm_(params, 1.0);
    opt.step();
    ++step;
    // Revive codes unused for a while with current encoder outputs, so the
    // codebook stays in use on short CPU runs.
    {
      torch::NoGradGuard ng;
      auto used = q.indices.masked_select(L.valid).cpu();
      auto* u = used.data_ptr<int64_t>();
      for (int64_t i = 0; i < used.numel(); ++i) usage[u[i]] = step;
      if (step % 50 == 0) {
        auto zs = z.masked_select(L.valid.unsqueeze(-1)).view({-1, cfg.code_dim}).detach();
        int revived = 0;
        for (int k = 0; k < cfg.codebook_size && zs.size(0) > 0; ++k)
          if (step - usage[k] > 200) {
            net->quantizer->codebook[k].copy_(zs[(int64_t)(rng() % zs.size(0))] + 0.01 * torch::randn({cfg.code_dim}, zs.options()));
            usage[k] = step;
            ++revived;
          }
        (void)revived;
      }
      // The average follows after every step, with a shorter memory at first
      // so that a fresh run's early weights do not linger.
      if (!ema.empty()) {
        const double d = std::min<double>(o.ema, (1.0 + step) / (10.0 + step));
        for (size_t i = 0; i < net_params.size(); ++i) ema[i].mul_(d).add_(net_params[i].detach(), 1 - d);
      }
    }
    loss_acc += loss.item<double>();
    psnr_acc += psnr_from_mse(mse.item<double>());
    ++acc_n;
    if (step % o.log_every == 0 || step == o.steps) {
      const double el = seconds_since(t0), rate = (step - start_step) / std::max(el, 1e-9);
      int active = 0;
      for (auto u : usage) active += step - u <= 200;
      const double eta = eta_seconds(o.steps - step, rate, o.max_minutes, prior_seconds + el);
      printf("step %d/%d loss %.4f train-psnr %.2f dB codes-in-use %d lr %.2e | %.2f steps/s ETA %s\n", step, o.steps,
             loss_acc / acc_n, psnr_acc / acc_n, active, lr, rate, mmss(eta).c_str());
      fflush(stdout);
      loss_acc = psnr_acc = 0;
      acc_n = 0;
    }
    if (step % o.ckpt_every == 0) save();
  }
  net->eval();
  if (val) {
    if (!ema.empty()) swap_average();  // the held-out figures are the average's, the saved model's
    auto vx = val->fixed(32);
    for (int c = 0; c < nc; ++c) {
      auto rec = model->reconstruct(vx, std::vector<Assignment>(vx.size(0), Assignment(nb, c))).clamp(-0.5, 0.5);
      const double m = (rec.cpu() - vx).pow(2).mean().item<double>();
      printf("held-out uniform %d tokens/block: PSNR %.2f dB\n", cfg.choices[c], psnr_from_mse(m));
      model->info["train.val_psnr_uniform_" + std::to_string(cfg.choices[c])] = std::to_string(psnr_from_mse(m));
    }
    if (!ema.empty()) swap_average();
  }
  done = true;
  save();
  printf("saved %s (fingerprint %s)\n", o.out.c_str(), to_hex(model->fp.data(), 16).c_str());
  return 0;
}

namespace {
// Percentile (0..100) of picked reward among all assignments, per clip.
double reward_percentile(const Tensor& reward_row, int picked) {
  const float r = reward_row[picked].item<float>();
  return 100.0 * (reward_row <= r).sum().item<int64_t>() / (double)reward_row.size(0);
}

// Clip specs (video, start, y, x, flip) as an int64 table, the way labels files store them.
Tensor spec_tensor(const std::vector<ClipSpec>& specs) {
  auto t = torch::empty({(int64_t)specs.size(), 5}, torch::kInt64);
  for (size_t i = 0; i < specs.size(); ++i) {
    const auto& c = specs[i];
    int64_t row[5] = {c.video, c.start, c.y, c.x, c.flip};
    for (int k = 0; k < 5; ++k) t[i][k] = row[k];
  }
  return t;
}

std::vector<ClipSpec> specs_from_tensor(const Tensor& t) {
  auto a = t.to(torch::kInt64).contiguous();
  if (a.dim() != 2 || a.size(1) != 5) throw std::runtime_error("clip specs table must be N x 5");
  std::vector<ClipSpec> specs(a.size(0));
  const int64_t* p = a.data_ptr<int64_t>();
  for (size_t i = 0; i < specs.size(); ++i, p += 5)
    specs[i] = {(int)p[0], (int)p[1], (int)p[2], (int)p[3], (int)p[4]};
  return specs;
}

// How many leading rows of `specs` the (earlier) labels tensor `old` names in
// the same order: a run draws its clips from a fixed-seed stream, so a run
// asking for more clips starts with the same ones.
int64_t matching_rows(const TensorFile& f, const char* key, const Tensor& specs) {
  auto it = f.tensors.find(key);
  if (it == f.tensors.end() || it->second.dim() != 2 || it->second.size(1) != 5) return 0;
  const auto& old = it->second;
  int64_t n = 0;
  while (n < old.size(0) && n < specs.size(0) && old[n].equal(specs[n])) ++n;
  return n;
}

// Rows of an earlier labels file (or of an interrupted run's LABELS.part) this
// run can take instead of scoring the clips again: same tokenizer (codec
// fingerprint), metric, exact/separable, assignments and training folder (its
// video count), and the same clips in the same order.
struct ReusedRows {
  Tensor q, vq;  // [n, A], [m, A]; undefined when none
  int64_t n = 0, m = 0;
};
ReusedRows reusable_rows(const std::string& path, const Model& model, const LabelOptions& o, size_t videos,
                         const Tensor& specs, const Tensor& val_specs, bool must_match) {
  ReusedRows r;
  TensorFile f;
  try {
    f = load_safetensors(path);
  } catch (const std::exception& e) {
    if (must_match) throw;
    printf("not resuming from %s: %s\n", path.c_str(), e.what());
    return r;
  }
  auto meta = [&](const char* k) { return f.metadata.count(k) ? f.metadata.at(k) : std::string(); };
  std::string why;
  if (!f.tensors.count("quality") || !f.tensors.count("specs")) why = "not a labels file";
  else if (!model.answers_to(meta("labels.tokenizer"))) why = "made with another tokenizer";
  else if (meta("labels.metric") != o.quality) why = "made with metric " + meta("labels.metric");
  else if (meta("labels.exact") != (o.exact ? "1" : "0")) why = o.exact ? "separable, not exact" : "exact, not separable";
  else if (f.tensors["quality"].size(1) != model.cfg.num_assignments()) why = "made for other assignments";
  if (!why.empty()) {
    if (must_match) throw std::runtime_error("--reuse-labels " + path + ": " + why);
    printf("not resuming from %s: %s\n", path.c_str(), why.c_str());
    return r;
  }
  // Held-out rows do not depend on the training folder; training rows do.
  if (meta("labels.videos") == std::to_string(videos))
    r.n = std::min(matching_rows(f, "specs", specs), f.tensors["quality"].size(0));
  else
    printf("%s was made from another training folder: only its held-out rows can be reused\n", path.c_str());
  if (r.n > 0) r.q = f.tensors["quality"].slice(0, 0, r.n).to(torch::kFloat32);
  // Held-out rows: files made before val_specs existed are matched by folder name.
  if (f.tensors.count("val_quality")) {
    const auto& vq = f.tensors["val_quality"];
    r.m = f.tensors.count("val_specs") ? matching_rows(f, "val_specs", val_specs)
          : meta("labels.val") == o.val_dir ? std::min(vq.size(0), val_specs.size(0))
                                             : 0;
    r.m = std::min(r.m, vq.size(0));
    if (r.m > 0) r.vq = vq.slice(0, 0, r.m).to(torch::kFloat32);
  }
  return r;
}
}  // namespace

// Labels file: the quality of every assignment for sampled training clips and
// fixed held-out clips, with where each clip came from. Scored rows go to
// LABELS.part as they finish, so an interrupted run resumes there.
int make_labels(const LabelOptions& o) {
  o.validate();
  auto dev = parse_device(o.device);
  set_cpu_threads(o.threads);
  if (o.init.empty()) throw std::runtime_error("labels need --init <proxy tokenizer model>");
  if (o.labels.empty()) throw std::runtime_error("labels need --labels <output file>");
  if (o.val_dir.empty()) throw std::runtime_error("labels need --val <held-out folder>");
  auto model = Model::load(o.init, dev);
  auto& cfg = model->cfg;
  auto metric = make_quality_metric(o.quality, dev);
  ClipSampler data(load_videos(o.data_dir, o.video), cfg.clip_frames, cfg.clip_height, cfg.clip_width, o.seed + 31);
  ClipSampler val(load_videos(o.val_dir, o.video), cfg.clip_frames, cfg.clip_height, cfg.clip_width, 3);
  auto specs = data.draw(o.label_clips);
  auto x = data.clips(specs);
  std::vector<ClipSpec> vspecs;
  auto vx = val.fixed(o.val_clips, 1, &vspecs);
  const Tensor spec_t = spec_tensor(specs), vspec_t = spec_tensor(vspecs);
  const std::string part = o.labels + ".part";
  ReusedRows reused;
  if (file_exists(part)) {
    reused = reusable_rows(part, *model, o, data.size(), spec_t, vspec_t, false);
    if (reused.n + reused.m > 0) printf("resuming from %s\n", part.c_str());
  }
  if (!o.reuse_labels.empty() && reused.n + reused.m == 0)
    reused = reusable_rows(o.reuse_labels, *model, o, data.size(), spec_t, vspec_t, true);
  if (reused.n + reused.m > 0)
    printf("reused: %lld of %lld training and %lld of %lld held-out clips already scored\n", (long long)reused.n,
           (long long)x.size(0), (long long)reused.m, (long long)vx.size(0));
  printf("labelling %lld training + %lld held-out clips, %d assignments each, metric %s, %s\n", (long long)x.size(0),
         (long long)vx.size(0), cfg.num_assignments(), metric->name().c_str(),
         o.exact ? "exact (every assignment, shared prefixes)" : "separable (one pass per choice)");
  fflush(stdout);
  if (cfg.temporal_carry && !o.exact)
    printf("note: separable labels score each block under uniform assignments, but with temporal carry a\n"
           "      block's quality depends on the block before it (128-8-8-8 reuses block 1 on a still clip);\n"
           "      exact labels (no --separable) see that\n");
  auto t0 = Clock::now();
  const int64_t total = x.size(0) + vx.size(0), to_score = total - reused.n - reused.m;
  int64_t scored = 0;
  std::vector<Tensor> qs, vqs;
  if (reused.n > 0) qs.push_back(reused.q);
  if (reused.m > 0) vqs.push_back(reused.vq);
  // The file as it stands: complete, or LABELS.part with the rows done so far.
  auto file_of = [&](bool partial) {
    TensorFile f;
    f.tensors["quality"] = torch::cat(qs).contiguous();
    f.tensors["specs"] = spec_t.slice(0, 0, f.tensors["quality"].size(0)).contiguous();
    if (!vqs.empty()) {
      f.tensors["val_quality"] = torch::cat(vqs).contiguous();
      f.tensors["val_specs"] = vspec_t.slice(0, 0, f.tensors["val_quality"].size(0)).contiguous();
    }
    if (partial) f.metadata["labels.partial"] = "1";
    f.metadata["labels.tokenizer"] = to_hex(model->codec_fp.data(), 16);  // labels do not depend on the router
    f.metadata["labels.metric"] = o.quality;
    f.metadata["labels.exact"] = o.exact ? "1" : "0";
    f.metadata["labels.data"] = o.data_dir;
    f.metadata["labels.videos"] = std::to_string(data.size());
    f.metadata["labels.val"] = o.val_dir;
    return f;
  };
  auto table = [&](const Tensor& clips, int64_t from, std::vector<Tensor>& rows, const char* what) {
    for (int64_t s = from; s < clips.size(0); s += o.label_batch) {
      const int64_t e = std::min(clips.size(0), s + (int64_t)o.label_batch);
      rows.push_back(model->quality_table(clips.slice(0, s, e), *metric, o.exact, o.label_batch));
      scored += e - s;
      // Written beside and renamed, so an interruption never leaves half a file.
      save_safetensors(part + ".tmp", file_of(true));
      if (std::rename((part + ".tmp").c_str(), part.c_str()) != 0)
        throw std::runtime_error("cannot rename " + part + ".tmp to " + part);
      const double el = seconds_since(t0);
      const int64_t done = total - to_score + scored;
      if (done % 16 == 0 || done == total) {
        printf("labels (%s) %lld/%lld clips, %.2f clips/s, ETA %s\n", what, (long long)done, (long long)total,
               scored / el, mmss((to_score - scored) / (scored / el)).c_str());
        fflush(stdout);
      }
    }
  };
  table(x, reused.n, qs, "train");
  table(vx, reused.m, vqs, "held-out");
  const double rate = to_score > 0 ? scored / seconds_since(t0) : 0.0;
  TensorFile f = file_of(false);
  auto Q = f.tensors["quality"];
  f.metadata["labels.clips_per_second"] = std::to_string(rate);
  save_safetensors(o.labels, f);
  std::remove(part.c_str());
  printf("labels: %.2f clips/s; quality mean %.4g std %.4g; saved %s\n", rate, Q.mean().item<double>(),
         Q.std().item<double>(), o.labels.c_str());
  return 0;
}

int train_router(const RouterOptions& o) {
  o.validate();
  auto dev = parse_device(o.device);
  set_cpu_threads(o.threads);
  if (o.init.empty()) throw std::runtime_error("router training needs --init <proxy tokenizer model>");
  if (o.labels.empty()) throw std::runtime_error("router training needs --labels <file from evatok label>");
  auto model = Model::load(o.init, dev);
  auto& cfg = model->cfg;
  const bool new_input = !o.router_input.empty() && o.router_input != cfg.router_input;
  const bool new_target = !o.router_target.empty() && o.router_target != cfg.router_target;
  if (new_input || new_target) {
    if (new_input) cfg.router_input = o.router_input;
    if (new_target) cfg.router_target = o.router_target;
    rebuild_router(*model, o.seed);  // validates the config, so a bad name is refused here
    printf("router input: %s, target: %s (a new router)\n", cfg.router_input.c_str(), cfg.router_target.c_str());
  }
  const bool predicts_quality = cfg.router_target == "quality";
  if (predicts_quality && o.router_temp > 0)
    throw std::runtime_error("--router-temp shapes an assignment router's targets; a quality router has none");
  TensorFile lf = load_safetensors(o.labels);
  for (const char* k : {"quality", "val_quality", "specs"})
    if (!lf.tensors.count(k)) throw std::runtime_error(o.labels + " is not a labels file (no " + k + ")");
  if (lf.metadata["labels.partial"] == "1")
    throw std::runtime_error(o.labels + " holds the rows of an unfinished label run; rerun label to finish it");
  if (!model->answers_to(lf.metadata["labels.tokenizer"]))
    throw std::runtime_error(o.labels + " was made with another tokenizer than " + o.init);
  auto Q = lf.tensors["quality"].to(torch::kFloat32), VQ = lf.tensors["val_quality"].to(torch::kFloat32);
  if (Q.dim() != 2 || Q.size(1) != cfg.num_assignments() || VQ.dim() != 2 || VQ.size(1) != cfg.num_assignments())
    throw std::runtime_error(o.labels + ": quality tables do not match the model's assignments");
  ClipSampler data(load_videos(o.data_dir, o.video), cfg.clip_frames, cfg.clip_height, cfg.clip_width, o.seed + 31);
  ClipSampler val(load_videos(o.val_dir, o.video), cfg.clip_frames, cfg.clip_height, cfg.clip_width, 3);
  if (std::to_string(data.size()) != lf.metadata["labels.videos"])
    throw std::runtime_error(o.labels + " was made from another data folder (" + lf.metadata["labels.videos"] +
                             " videos, " + o.data_dir + " has " + std::to_string(data.size()) + ")");
  const auto specs = specs_from_tensor(lf.tensors["specs"]);
  auto x = data.clips(specs);
  auto vx = val.fixed((int)VQ.size(0));
  if (vx.size(0) != VQ.size(0)) throw std::runtime_error(o.labels + ": held-out folder does not match");
  // z-scoring statistics over videos x assignments (as published).
  auto lens = model->lengths();
  cfg.q_mean = Q.mean().item<float>();
  cfg.q_std = std::max(Q.std().item<float>(), 1e-12f);
  cfg.l_mean = lens.mean().item<float>();
  cfg.l_std = lens.std().item<float>();
  cfg.reward_quality = lf.metadata["labels.metric"];
  printf("quality stats (%s): mean %.4g std %.4g; length mean %.1f std %.1f\n", cfg.reward_quality.c_str(),
         cfg.q_mean, cfg.q_std, cfg.l_mean, cfg.l_std);

  // Stage 3: router, cross-entropy on argmax-reward labels; wq is an input so
  // one router serves every rate preference. With router_temp > 0 the target
  // is softmax(R / T) instead of the argmax: near-best assignments share the
  // target, which uses all 625 labels of a clip instead of one.
  auto& router = model->net->router;
  torch::manual_seed(o.seed);
  std::mt19937_64 rng(o.seed);
  std::uniform_real_distribution<float> wq_dist(kWqMin, o.wq_max);
  torch::optim::AdamW opt(router->parameters(), torch::optim::AdamWOptions(o.lr).weight_decay(0.05));
  router->train();
  const int64_t N = x.size(0);
  auto xd = x.to(dev);
  const auto t0 = Clock::now();
  for (int step = 1; step <= o.steps; ++step) {
    std::vector<int64_t> idx(o.batch);
    std::vector<float> wq(o.batch);
    std::vector<Tensor> rewards(o.batch);
    for (int i = 0; i < o.batch; ++i) {
      idx[i] = (int64_t)(rng() % N);
      wq[i] = wq_dist(rng);  // drawn for a quality router too, so the clip order stays the same
      if (!predicts_quality) rewards[i] = model->reward(Q[idx[i]].unsqueeze(0), wq[i], cfg.reward_wl);
    }
    auto xb = xd.index_select(0, torch::tensor(idx).to(dev));
    if (rng() & 1) xb = xb.flip({4});  // a mirrored clip keeps its label
    Tensor loss;
    if (predicts_quality) {
      // Regression on every assignment's z(Q), centred per clip: only the
      // differences within a clip decide its argmax, and 625 values per clip
      // teach more than the one argmax of a sampled wq.
      auto zq = ((Q.index_select(0, torch::tensor(idx)) - cfg.q_mean) / cfg.q_std).to(dev);
      auto pred = router(xb, torch::zeros({o.batch}, xb.options()));
      auto err = (pred - pred.mean(-1, true)) - (zq - zq.mean(-1, true));
      loss = err.pow(2).mean();
    } else {
      auto R = torch::cat(rewards, 0);
      auto target = o.router_temp > 0 ? torch::softmax(R / o.router_temp, -1)
                                      : torch::one_hot(R.argmax(-1), R.size(1)).to(torch::kFloat32);
      auto logits = router(xb, torch::tensor(wq).to(dev));
      loss = -(target.to(dev) * torch::log_softmax(logits, -1)).sum(-1).mean();
    }
    opt.zero_grad();
    loss.backward();
    opt.step();
    if (step % o.log_every == 0 || step == o.steps) {
      const double rate = step / std::max(seconds_since(t0), 1e-9);
      printf("router step %d/%d loss %.4g | %.2f steps/s ETA %s\n", step, o.steps, loss.item<double>(), rate,
             mmss((o.steps - step) / rate).c_str());
      fflush(stdout);
    }
  }
  router->eval();
  // Validation on held-out clips at the default preference.
  auto R = model->reward(VQ, cfg.reward_wq, cfg.reward_wl);
  auto scores = [&] {
    torch::NoGradGuard ng;
    return model->router_scores(vx, torch::full({vx.size(0)}, cfg.reward_wq)).cpu();
  }();
  auto label = R.argmax(-1);
  auto top5 = std::get<1>(scores.topk(std::min<int64_t>(5, scores.size(1)), -1));
  double top1 = 0, in5 = 0, pct = 0;
  for (int64_t i = 0; i < vx.size(0); ++i) {
    const int64_t pick = scores[i].argmax().item<int64_t>();
    top1 += pick == label[i].item<int64_t>();
    in5 += (top5[i] == label[i]).any().item().toBool();
    pct += reward_percentile(R[i], (int)pick);
  }
  const double n = (double)vx.size(0);
  printf("router held-out: top-1 %.1f%% top-5 %.1f%% mean reward percentile %.1f\n", 100 * top1 / n, 100 * in5 / n, pct / n);
  // The held-out trade-off in the labels' own terms: what the router's picks
  // cost and score against the argmax-reward picks, over the trained range.
  // Q is the labels' quality: the mean over blocks of each block's score.
  auto lens_cpu = lens.cpu();
  auto tokens_of = [&](const Tensor& a) { return lens_cpu.index_select(0, a).mean().item<double>(); };
  auto q_of = [&](const Tensor& a) { return VQ.gather(1, a.unsqueeze(1)).mean().item<double>(); };
  std::vector<float> report_wq;
  for (float w : {0.6f, cfg.reward_wq, 2.5f})
    if (w < o.wq_max) report_wq.push_back(w);
  report_wq.push_back(o.wq_max);
  for (float w : report_wq) {
    torch::NoGradGuard ng;
    auto pick = model->router_scores(vx, torch::full({vx.size(0)}, w)).argmax(-1).cpu();
    auto best = model->reward(VQ, w, cfg.reward_wl).argmax(-1);
    printf("  wq %.1f: router %.1f tokens Q %.4g %s | argmax %.1f tokens Q %.4g\n", w, tokens_of(pick), q_of(pick),
           cfg.reward_quality.c_str(), tokens_of(best), q_of(best));
  }
  model->has_router = true;
  model->info["train.router_top1"] = std::to_string(100 * top1 / n);
  model->info["train.router_top5"] = std::to_string(100 * in5 / n);
  model->info["train.router_reward_percentile"] = std::to_string(pct / n);
  model->info["train.router_wq_range"] = predicts_quality ? "any (predicts quality)" : wq_range_text(o.wq_max);
  model->info["train.router_target"] = cfg.router_target;
  model->info["train.router_temp"] = std::to_string(o.router_temp);
  model->info["train.router_labels"] = lf.metadata["labels.metric"] + (lf.metadata["labels.exact"] == "1" ? ", exact" : ", separable");
  model->save(o.out);
  printf("saved %s (fingerprint %s)\n", o.out.c_str(), to_hex(model->fp.data(), 16).c_str());
  return 0;
}

int set_router(const std::string& model_path, const std::string& router_path, const std::string& out) {
  if (model_path.empty() || router_path.empty() || out.empty())
    throw std::runtime_error("set-router needs --model, --router and --out");
  auto model = Model::load(model_path, torch::kCPU);
  auto src = Model::load(router_path, torch::kCPU);
  if (!src->has_router) throw std::runtime_error(router_path + " has no trained router");
  adopt_router(*model, *src);  // checks geometry and choices
  model->info["train.router_from"] = to_hex(src->fp.data(), 16);  // the fingerprint, not a path
  model->save(out);
  printf("saved %s: tokenizer of %s, router of %s (fingerprint %s)\n", out.c_str(), model_path.c_str(),
         router_path.c_str(), to_hex(model->fp.data(), 16).c_str());
  return 0;
}

}  // namespace evatok
