#include "train/ar_train.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <sys/stat.h>

#include "core/cpu_runtime.h"
#include "ar/ar_predict.h"
#include "ar/ar_sampler.h"
#include "core/safetensors.h"
#include "train/train_util.h"

namespace evatok {
using torch::Tensor;

ArBits ar_heldout_bits(ArModel& m, const std::vector<ArSample>& val, bool with_class,
                       const std::vector<ArSample>* train, int batch) {
  torch::NoGradGuard ng;
  const bool was_training = m.net->is_training();
  m.net->eval();
  double nats = 0;
  int64_t n = 0;
  std::vector<int64_t> vis(m.cfg.codebook_size, 0), len(m.cfg.num_choices(), 0);
  for (size_t s = 0; s < val.size(); s += batch) {
    std::vector<ArSequence> seqs;
    for (size_t i = s; i < std::min(val.size(), s + batch); ++i) {
      seqs.push_back(sample_sequence(m.cfg, val[i], with_class ? val[i].cls : -1, false));
      for (int c : val[i].choices) ++len[c];
      for (int64_t t : val[i].tokens) ++vis[t];
    }
    auto [loss, count] = m.loss(m.collate(seqs));
    nats += loss.item<double>() * count;
    n += count;
  }
  if (was_training) m.net->train();
  auto entropy = [](const std::vector<int64_t>& c, int64_t total) {
    double h = 0;
    for (auto x : c)
      if (x) h -= (double)x / total * std::log2((double)x / total);
    return h;
  };
  int64_t nv = 0, nl = 0;
  for (auto x : vis) nv += x;
  for (auto x : len) nl += x;
  std::vector<int64_t> all(vis);
  all.insert(all.end(), len.begin(), len.end());
  ArBits b;
  b.tokens = n;
  b.bits_per_token = nats / std::max<int64_t>(n, 1) / std::log(2.0);
  b.unigram_entropy = entropy(all, nv + nl);
  b.unigram_structured = (nv * entropy(vis, nv) + nl * entropy(len, nl)) / std::max<int64_t>(nv + nl, 1);
  if (train) {
    std::vector<double> tv(vis.size(), 0.5), tl(len.size(), 0.5);
    for (const auto& s : *train) {
      for (int c : s.choices) tl[c] += 1;
      for (int64_t t : s.tokens) tv[t] += 1;
    }
    double sv = 0, sl = 0, bits = 0;
    for (double x : tv) sv += x;
    for (double x : tl) sl += x;
    for (size_t i = 0; i < vis.size(); ++i) bits -= vis[i] * std::log2(tv[i] / sv);
    for (size_t i = 0; i < len.size(); ++i) bits -= len[i] * std::log2(tl[i] / sl);
    b.unigram_train = bits / std::max<int64_t>(nv + nl, 1);
  }
  return b;
}

int train_ar(const ArTrainOptions& o) {
  o.validate();
  if (o.tokenizer.empty()) throw std::runtime_error("train-ar needs --tokenizer <tokenizer model>");
  if (o.out.empty() || o.data_dir.empty() || o.val_dir.empty())
    throw std::runtime_error("train-ar needs --data, --val and --out");
  auto dev = parse_device(o.device);
  set_cpu_threads(o.threads);
  auto tok = Model::load(o.tokenizer, dev);
  const std::string tok_fp = to_hex(tok->codec_fp.data(), 16);
  auto train_videos = load_videos(o.data_dir), val_videos = load_videos(o.val_dir);

  std::unique_ptr<ArModel> model;
  if (file_exists(o.out)) {
    printf("resuming from %s\n", o.out.c_str());
    model = ArModel::load(o.out, dev);
    if (!tok->answers_to(model->cfg.tokenizer_fingerprint))
      throw std::runtime_error(o.out + " was trained for tokenizer " + model->cfg.tokenizer_fingerprint +
                               ", not " + tok_fp + "; remove it or choose another --out");
  } else {
    ArConfig cfg = ArConfig::for_tokenizer(*tok);
    cfg.classes = corpus_classes(train_videos);
    if (o.dim) cfg.dim = o.dim;
    if (o.layers) cfg.layers = o.layers;
    if (o.heads) cfg.heads = o.heads;
    cfg.mlp_hidden = o.mlp ? o.mlp : 2 * cfg.dim;
    model = std::make_unique<ArModel>(cfg, o.seed, dev);
    model->info["train.step"] = "0";
  }
  const ArConfig& cfg = model->cfg;
  printf("AR model %s: %lld parameters (dim %d, %d layers), tokenizer %s, classes:", cfg.name.c_str(),
         (long long)model->num_parameters(), cfg.dim, cfg.layers, tok_fp.c_str());
  for (const auto& c : cfg.classes) printf(" %s", c.c_str());
  printf("\n");
  fflush(stdout);

  const std::string cache = o.cache.empty() ? o.out + ".tokens" : o.cache;
  TokenizeOptions to;
  to.samples = o.samples;
  to.seed = o.seed;
  auto train = tokenize_cached(*tok, cfg, train_videos, to, cache);
  TokenizeOptions vo;
  vo.samples = o.val_samples;
  vo.seed = 1000003;  // fixed held-out set, independent of --seed
  auto val = tokenize_cached(*tok, cfg, val_videos, vo, cache + ".val");
  tok.reset();  // the tokenizer is not needed for training

  auto& net = model->net;
  std::vector<Tensor> decay, no_decay;
  for (auto& p : net->named_parameters()) (p.value().dim() >= 2 ? decay : no_decay).push_back(p.value());
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(
                                 torch::optim::AdamWOptions(o.lr).betas({0.9, 0.95}).weight_decay(0.05)));
  groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(
                                    torch::optim::AdamWOptions(o.lr).betas({0.9, 0.95}).weight_decay(0.0)));
  torch::optim::AdamW opt(groups, torch::optim::AdamWOptions(o.lr));
  const std::string state_path = o.out + ".optim";
  int step = std::stoi(model->info.count("train.step") ? model->info["train.step"] : "0");
  if (step > 0 && file_exists(state_path)) {
    torch::serialize::InputArchive ar;
    ar.load_from(state_path);
    opt.load(ar);
  }
  std::mt19937_64 rng(o.seed * 7919 + step);
  torch::manual_seed(o.seed + step);
  std::vector<Tensor> params = net->parameters();
  auto save = [&]() {
    model->info["train.step"] = std::to_string(step);
    model->info["train.kind"] = "frame-prediction+class-generation";
    model->info["train.samples"] = std::to_string(train.size());
    model->save(o.out);
    torch::serialize::OutputArchive ar;
    opt.save(ar);
    ar.save_to(state_path);
  };

  const auto t0 = Clock::now();
  const int start_step = step;
  double loss_acc = 0;
  int acc_n = 0;
  int64_t tok_acc = 0;
  net->train();
  std::uniform_real_distribution<double> u01(0, 1);
  while (step < o.steps) {
    const double warm = std::min(1.0, (step + 1) / 100.0);
    const double lr = o.lr * warm * (0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * step / (double)o.steps)));
    for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
    std::vector<ArSequence> seqs;
    for (int i = 0; i < o.batch; ++i) {
      const auto& s = train[rng() % train.size()];
      const bool gen = u01(rng) < o.gen_fraction;
      const int cls = u01(rng) < o.class_drop ? -1 : s.cls;
      seqs.push_back(sample_sequence(cfg, s, cls, gen));
    }
    auto [loss, count] = model->loss(model->collate(seqs));
    opt.zero_grad();
    loss.backward();
    torch::nn::utils::clip_grad_norm_(params, 1.0);
    opt.step();
    ++step;
    loss_acc += loss.item<double>();
    tok_acc += count;
    ++acc_n;
    if (step % o.log_every == 0 || step == o.steps) {
      const double el = seconds_since(t0), rate = (step - start_step) / std::max(el, 1e-9);
      printf("step %d/%d loss %.4f (%.3f bits/token) lr %.2e | %.2f steps/s %.0f tokens/s ETA %s\n", step, o.steps,
             loss_acc / acc_n, loss_acc / acc_n / std::log(2.0), lr, rate, tok_acc / std::max(el, 1e-9),
             mmss(eta_seconds(o.steps - step, rate, o.max_minutes, el)).c_str());
      fflush(stdout);
      loss_acc = 0;
      acc_n = 0;
    }
    if (step % o.ckpt_every == 0) save();
    if (o.max_minutes > 0 && seconds_since(t0) > o.max_minutes * 60) {
      printf("time limit reached at step %d; checkpoint saved, rerun to resume\n", step);
      break;
    }
  }
  net->eval();
  auto b = ar_heldout_bits(*model, val, false, &train);
  auto bc = ar_heldout_bits(*model, val, true);
  printf("held-out (%zu clips, %lld target tokens): AR %.3f bits/token (with class %.3f); unigram entropy %.3f "
         "bits/token, %.3f with separate length/visual distributions; training unigram model %.3f\n",
         val.size(), (long long)b.tokens, b.bits_per_token, bc.bits_per_token, b.unigram_entropy,
         b.unigram_structured, b.unigram_train);
  model->info["train.heldout_unigram_train_xent"] = std::to_string(b.unigram_train);
  model->info["train.heldout_bits_per_token"] = std::to_string(b.bits_per_token);
  model->info["train.heldout_bits_per_token_class"] = std::to_string(bc.bits_per_token);
  model->info["train.heldout_unigram_entropy"] = std::to_string(b.unigram_entropy);
  model->info["train.heldout_unigram_entropy_structured"] = std::to_string(b.unigram_structured);
  model->info["train.heldout_tokens"] = std::to_string(b.tokens);
  save();
  printf("saved %s (fingerprint %s, tokenizer %s)\n", o.out.c_str(), to_hex(model->fp.data(), 16).c_str(),
         cfg.tokenizer_fingerprint.c_str());
  return 0;
}

namespace {

double psnr(const Tensor& a, const Tensor& b) {
  return psnr_from_mse((a - b).pow(2).mean().item<double>());
}

Tensor to_u8_frames(const Tensor& clip, int from, int to) {  // [3,T,H,W] -> [H, (to-from)*W, 3]
  auto f = clip.slice(1, from, to).add(0.5).mul(255).round().clamp(0, 255).to(torch::kUInt8);
  return f.permute({2, 1, 3, 0}).reshape({f.size(2), (to - from) * f.size(3), 3});
}

}  // namespace

ArPredictEval ar_eval_prediction(ArModel& ar, Model& tok, const std::vector<Video>& videos, int clips,
                                 const SampleParams& p, uint64_t seed, int strip_clips) {
  check_ar_tokenizer(ar, tok);
  const ArConfig& c = ar.cfg;
  ArClipSource src(videos, c, seed);
  ArPredictEval r;
  std::vector<Tensor> rows;
  const int cf = c.cond_frames, T = c.clip_frames;
  for (int done = 0; done < clips;) {
    const int n = std::min(8, clips - done);
    auto x = src.sample(n, nullptr);
    SampleParams ps = p;
    ps.seed = p.seed + done;
    auto pred = predict_clips(ar, tok, x.slice(2, 0, cf), ps).clamp(-0.5, 0.5);
    auto rec = tok.reconstruct(x, tok.has_router ? tok.route(x, kArTargetWq)
                                                 : std::vector<Assignment>(n, Assignment(c.num_blocks, 0)))
                   .clamp(-0.5, 0.5)
                   .cpu();
    for (int i = 0; i < n; ++i) {
      auto truth = x[i].slice(1, cf, T);
      auto copy = x[i].slice(1, cf - 1, cf).expand_as(truth);
      r.psnr_pred += psnr(pred[i].slice(1, cf, T), truth);
      r.psnr_copy += psnr(copy, truth);
      r.psnr_recon += psnr(rec[i].slice(1, cf, T), truth);
      if ((int)rows.size() < 3 * strip_clips) {
        auto full_copy = torch::cat({x[i].slice(1, 0, cf), copy}, 1);
        auto full_pred = torch::cat({x[i].slice(1, 0, cf), pred[i].slice(1, cf, T)}, 1);
        rows.push_back(to_u8_frames(x[i], 0, T));
        rows.push_back(to_u8_frames(full_copy, 0, T));
        rows.push_back(to_u8_frames(full_pred, 0, T));
      }
    }
    done += n;
    printf("predicted %d/%d held-out clips\n", done, clips);
    fflush(stdout);
  }
  r.clips = clips;
  r.psnr_pred /= clips;
  r.psnr_copy /= clips;
  r.psnr_recon /= clips;
  if (!rows.empty()) {
    // 2-pixel white separators between rows
    std::vector<Tensor> parts;
    for (auto& row : rows) {
      parts.push_back(row);
      parts.push_back(torch::full({2, row.size(1), 3}, 255, torch::kUInt8));
    }
    r.strip = torch::cat(parts, 0).contiguous();
  }
  return r;
}

}  // namespace evatok
