// `evatok`: command-line front end for model inspection and the training
// pipeline. Usage: evatok <command> [--option value ...]; `evatok help`.
#include <cmath>
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <string>

#include "ar_bench.h"
#include "ar_model.h"
#include "ar_sampler.h"
#include "ar_train.h"
#include "evatok/evatok.h"
#include "model.h"
#include "safetensors.h"
#include "evaluate.h"
#include "png.h"
#include "quality.h"
#include "train.h"

namespace {

const char* kUsage =
    "usage: evatok <command> [options]\n"
    "  info MODEL                       a model file's config and fingerprint (tokenizer or AR),\n"
    "                                   or what a labels file holds\n"
    "  init --config C --out M [--seed S]\n"
    "                                   write an UNTRAINED model (for tests/plumbing only)\n"
    "  train-tokenizer --data DIR --out M (--config C | --init M0 | --init M0 --config C)\n"
    "        [--val DIR] [--steps N] [--batch B] [--lr X] [--seed S] [--threads T] [--device D]\n"
    "        [--uniform K] [--router R [--router-mix F] [--wq-max X]] [--max-minutes X] [--ckpt-every N]\n"
    "        [--mean-loss W]\n"
    "                                   stage 1 (random assignments), stage 4 (--router: the\n"
    "                                   router of model R picks them, at wq over its trained\n"
    "                                   range, or 0.3..X for a quality router) or the uniform baseline;\n"
    "                                   --mean-loss adds W x the error of each patch's mean colour;\n"
    "                                   resumes from M if it exists; --init with --config is a\n"
    "                                   warm start (tensors of M0 that fit the new config)\n"
    "  label --init M0 --data DIR --val DIR --labels L [--label-clips N] [--val-clips N]\n"
    "        [--quality psnr|ssim|mse|torchscript:FILE] [--separable] [--label-batch N] [--device D]\n"
    "        [--reuse-labels OLD]\n"
    "                                   stage 2: quality of every assignment (proxy reward labels);\n"
    "                                   an interrupted run resumes from L.part; OLD's clips (an\n"
    "                                   earlier run with fewer --label-clips) are not scored again\n"
    "  train-router --init M0 --labels L --data DIR --val DIR --out M [--steps N] [--batch B]\n"
    "        [--lr X] [--threads T] [--device D] [--router-temp T] [--wq-max X]\n"
    "        [--router-input pixels|motion|stats] [--router-target assignment|quality]\n"
    "                                   stage 3: the router, on argmax-reward labels (or on\n"
    "                                   softmax(reward/T) with --router-temp), for wq 0.3..X;\n"
    "                                   motion: it also sees |frame - previous frame|; stats: it\n"
    "                                   sees 15 statistics per patch instead of pixels; quality:\n"
    "                                   it predicts every assignment's quality instead (any wq)\n"
    "  compile-metric --source F --out F.pt\n"
    "                                   TorchScript source defining forward(self, rec, ref) ->\n"
    "                                   [B] distance, compiled for --quality torchscript:F.pt\n"
    "  set-router --model M --router R --out M2\n"
    "                                   M's tokenizer with R's router and reward statistics\n"
    "                                   (a router retrained after stage 4)\n"
    "  train-all --recipe DIR --data DIR --val DIR --work DIR [--only 1,2,3,4,5]\n"
    "        [--device D] [--threads T] [--config C] [--check]\n"
    "                                   every stage from a recipe folder (one JSON file of the\n"
    "                                   options above per stage); finished stages are skipped;\n"
    "                                   --config replaces the tokenizer stages' model config;\n"
    "                                   --check only checks every stage file and exits\n"
    "  eval --model M --data DIR [--clips N] [--clips-per-video N] [--wq 0.3,0.6,1.2,1.8,2.5]\n"
    "        [--search none|separable|exact] [--baseline M2[,M3]] [--csv F.csv [--png F.png]]\n"
    "        [--reward-from M4] [--fixed 128-8-8-8,...] [--threads T] [--device D]\n"
    "                                   tokens, PSNR, SSIM for uniform-K, router and search per clip\n"
    "  init-ar --tokenizer M --out AR [--seed S] [--dim D] [--layers L] [--heads H]\n"
    "        [--mlp N] [--classes a,b,...]\n"
    "                                   write an UNTRAINED AR model for tokenizer M (tests only)\n"
    "  train-ar --tokenizer M --data DIR --val DIR --out AR [--steps N] [--batch B]\n"
    "        [--lr X] [--seed S] [--threads T] [--device D] [--max-minutes X]\n"
    "        [--samples N] [--val-samples N] [--cache F] [--gen-fraction X] [--class-drop X]\n"
    "        [--dim D] [--layers L] [--heads H] [--mlp N] [--ckpt-every N] [--log-every N]\n"
    "                                   AR stage: tokenize clips with M (cached in AR.tokens)\n"
    "                                   and train the AR model; resumes from AR if it exists\n"
    "  eval-ar --tokenizer M --ar AR --data DIR [--clips N] [--val-samples N] [--png F]\n"
    "        [--strip-clips N] [--temperature X] [--top-k K] [--top-p X] [--seed S]\n"
    "        [--cfg X] [--class NAME] [--threads T] [--device D]\n"
    "                                   held-out bits/token vs unigram entropy; predicted\n"
    "                                   frames vs the true continuation and copy-last-frame\n"
    "  bench-ar --tokenizer M --ar AR [--data DIR] [--runs N] [--threads T] [--device D]\n"
    "                                   sampling speed with/without KV cache, s per predicted clip\n"
    "Data options (every command that reads videos): --fps F (resample), --short-side S\n"
    "  (resize the shorter side to S pixels), --max-frames N (per video, default 64).\n"
    "  Folders may hold .y4m and any video the system's FFmpeg libraries decode.\n";

// Parses "--name value" pairs. Every option a command reads is remembered, so
// that a misspelt or misplaced one is an error (reject_unread) instead of
// being silently ignored; numbers must be numbers in full.
template <class Convert>
auto parse_number(const std::string& s, const std::string& what, const char* kind, Convert convert) {
  size_t end = 0;
  decltype(convert(s, &end)) v{};
  try {
    v = convert(s, &end);
  } catch (const std::exception&) {
    end = 0;
  }
  if (s.empty() || end != s.size()) throw std::runtime_error(what + " needs " + kind + ", not '" + s + "'");
  return v;
}
int parse_int(const std::string& s, const std::string& what) {
  return parse_number(s, what, "a whole number", [](const std::string& x, size_t* e) { return std::stoi(x, e); });
}
float parse_real(const std::string& s, const std::string& what) {
  return parse_number(s, what, "a number", [](const std::string& x, size_t* e) { return std::stof(x, e); });
}

struct Args {
  std::map<std::string, std::string> kv;
  std::string positional;
  mutable std::set<std::string> read;
  bool has(const char* k) const {
    read.insert(k);
    return kv.count(k) > 0;
  }
  std::string str(const char* k, const std::string& d = "") const { return has(k) ? kv.at(k) : d; }
  int num(const char* k, int d) const { return has(k) ? parse_int(kv.at(k), std::string("--") + k) : d; }
  float real(const char* k, float d) const { return has(k) ? parse_real(kv.at(k), std::string("--") + k) : d; }
  // Call once every option of the command has been read.
  void reject_unread(const std::string& where = "") const {
    for (const auto& [k, v] : kv)
      if (!read.count(k))
        throw std::runtime_error("unknown option --" + k + where + " (evatok help lists each command's options)");
  }
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 2; i < argc; ++i) {
    std::string s = argv[i];
    if (s.rfind("--", 0) == 0) {
      std::string key = s.substr(2);
      if (key == "separable" || key == "check") {  // flags without a value
        a.kv[key] = "1";
      } else if (i + 1 < argc) {
        a.kv[key] = argv[++i];
      } else {
        throw std::runtime_error("option " + s + " needs a value");
      }
    } else {
      a.positional = s;
    }
  }
  return a;
}

evatok::VideoLoadOptions video_options(const Args& a) {
  evatok::VideoLoadOptions v;
  v.fps = a.real("fps", 0);
  v.short_side = a.num("short-side", 0);
  v.max_frames = a.num("max-frames", v.max_frames);
  if (!(v.fps >= 0) || std::isinf(v.fps) || v.short_side < 0 || v.max_frames < 1) throw std::runtime_error("bad --fps, --short-side or --max-frames");
  return v;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t p = 0;
  while (p <= s.size()) {
    const size_t q = s.find(',', p);
    const std::string item = s.substr(p, q == std::string::npos ? std::string::npos : q - p);
    if (!item.empty()) out.push_back(item);
    if (q == std::string::npos) break;
    p = q + 1;
  }
  return out;
}

evatok::EvalOptions eval_options(const Args& a) {
  evatok::EvalOptions o;
  o.model = a.str("model", evatok_default_model_path());
  o.data_dir = a.str("data");
  if (o.data_dir.empty()) throw std::runtime_error("--data is required");
  o.clips = a.num("clips", o.clips);
  o.clips_per_video = a.num("clips-per-video", o.clips_per_video);
  if (a.has("wq")) {
    o.wq.clear();
    for (const auto& w : split(a.str("wq"))) o.wq.push_back(parse_real(w, "--wq"));
  }
  o.search = a.str("search", o.search);
  o.baselines = split(a.str("baseline"));
  o.fixed = split(a.str("fixed"));
  o.device = a.str("device", "cpu");
  o.reward_from = a.str("reward-from");
  o.threads = a.num("threads", 0);
  o.csv = a.str("csv");
  o.png = a.str("png");
  o.video = video_options(a);
  return o;
}

// The options every training command shares (run_options.h).
void read_run_options(const Args& a, evatok::RunOptions& o) {
  o.data_dir = a.str("data");
  o.val_dir = a.str("val");
  o.out = a.str("out");
  o.device = a.str("device", "cpu");
  o.steps = a.num("steps", o.steps);
  o.batch = a.num("batch", o.batch);
  o.threads = a.num("threads", 0);
  o.log_every = a.num("log-every", o.log_every);
  o.ckpt_every = a.num("ckpt-every", o.ckpt_every);
  o.lr = a.real("lr", o.lr);
  o.seed = (unsigned long long)a.num("seed", 1);
  o.max_minutes = a.real("max-minutes", 0);
}

evatok::TrainOptions train_options(const Args& a) {
  evatok::TrainOptions o;
  read_run_options(a, o);
  o.config = a.str("config");
  o.init = a.str("init");
  o.uniform_tokens = a.num("uniform", 0);
  o.label_clips = a.num("label-clips", o.label_clips);
  o.val_clips = a.num("val-clips", o.val_clips);
  o.video = video_options(a);
  o.router = a.str("router");
  o.router_mix = a.real("router-mix", o.router_mix);
  o.mean_loss = a.real("mean-loss", o.mean_loss);
  o.labels = a.str("labels");
  o.reuse_labels = a.str("reuse-labels");
  o.quality = a.str("quality", o.quality);
  o.exact = !a.has("separable");
  o.label_batch = a.num("label-batch", o.label_batch);
  o.router_temp = a.real("router-temp", o.router_temp);
  o.wq_max = a.real("wq-max", o.wq_max);
  o.router_input = a.str("router-input");
  o.router_target = a.str("router-target");
  if (o.out.empty() && o.labels.empty()) throw std::runtime_error("--out is required");
  if (o.data_dir.empty()) throw std::runtime_error("--data is required");
  return o;
}

// Network size options shared by init-ar and train-ar.
evatok::ArConfig ar_config_from_args(const Args& a, evatok::ArConfig c) {
  c.dim = a.num("dim", c.dim);
  c.layers = a.num("layers", c.layers);
  c.heads = a.num("heads", c.heads);
  c.mlp_hidden = a.num("mlp", 2 * c.dim);
  c.validate();
  return c;
}

evatok::ArTrainOptions ar_train_options(const Args& a) {
  evatok::ArTrainOptions o;
  read_run_options(a, o);
  o.tokenizer = a.str("tokenizer");
  o.cache = a.str("cache");
  o.samples = a.num("samples", o.samples);
  o.val_samples = a.num("val-samples", o.val_samples);
  o.gen_fraction = a.real("gen-fraction", o.gen_fraction);
  o.class_drop = a.real("class-drop", o.class_drop);
  o.dim = a.num("dim", 0);
  o.layers = a.num("layers", 0);
  o.heads = a.num("heads", 0);
  o.mlp = a.num("mlp", 0);
  if (o.samples < 1 || o.val_samples < 1) throw std::runtime_error("--samples and --val-samples must be positive");
  return o;
}

int eval_ar(const Args& a) {
  if (!a.has("tokenizer") || !a.has("ar") || !a.has("data"))
    throw std::runtime_error("eval-ar needs --tokenizer, --ar and --data");
  const int threads = a.num("threads", 0), clips = a.num("clips", 32), strip_clips = a.num("strip-clips", 3);
  const std::string device = a.str("device", "cpu"), png = a.str("png"), class_name = a.str("class");
  evatok::SampleParams sp;
  sp.temperature = a.real("temperature", 1.f);
  sp.top_k = a.num("top-k", 0);
  sp.top_p = a.real("top-p", 1.f);
  sp.seed = (uint64_t)a.num("seed", 0);
  sp.cfg = a.real("cfg", 1.f);
  evatok::TokenizeOptions vo;
  vo.samples = a.num("val-samples", 256);
  vo.seed = 1000003;  // the held-out set of train-ar
  a.reject_unread();
  if (clips < 1 || vo.samples < 1 || strip_clips < 0)
    throw std::runtime_error("--clips and --val-samples must be at least 1, --strip-clips 0 or more");
  if (threads > 0) torch::set_num_threads(threads);
  torch::Device dev(device);
  auto tok = evatok::Model::load(a.str("tokenizer"), dev);
  auto ar = evatok::ArModel::load(a.str("ar"), dev);
  std::vector<evatok::Video> videos;
  for (const auto& p : evatok::list_videos(a.str("data"))) videos.push_back(evatok::read_y4m(p, 64));
  if (!class_name.empty()) {
    sp.class_id = ar->cfg.class_index(class_name);
    if (sp.class_id < 0) throw std::runtime_error("unknown class '" + class_name + "'");
  }
  if (const std::string e = sp.invalid((int)ar->cfg.classes.size()); !e.empty()) throw std::runtime_error(e);
  auto val = evatok::tokenize_clips(*tok, ar->cfg, videos, vo);
  auto b = evatok::ar_heldout_bits(*ar, val, false);
  auto bc = evatok::ar_heldout_bits(*ar, val, true);
  printf("held-out bits/token (%lld target tokens of %zu clips):\n", (long long)b.tokens, val.size());
  printf("  AR model, null class          %.3f\n  AR model, true class          %.3f\n", b.bits_per_token,
         bc.bits_per_token);
  printf("  unigram entropy               %.3f\n  unigram, length/visual apart  %.3f\n", b.unigram_entropy,
         b.unigram_structured);
  auto r = evatok::ar_eval_prediction(*ar, *tok, videos, clips, sp, 4242, strip_clips);
  printf("frame prediction, %d held-out clips, frames %d..%d (PSNR, dB):\n", r.clips, ar->cfg.cond_frames,
         ar->cfg.clip_frames - 1);
  printf("  AR prediction                 %.2f\n  copy last condition frame     %.2f\n", r.psnr_pred, r.psnr_copy);
  printf("  tokenizer reconstruction of the truth (ceiling) %.2f\n", r.psnr_recon);
  if (!png.empty() && r.strip.defined()) {
    write_png_rgb(png, r.strip.data_ptr<uint8_t>(), (int)r.strip.size(1), (int)r.strip.size(0));
    printf("wrote %s (rows per clip: truth, copy-last, AR prediction; first %d frames are the condition)\n",
           png.c_str(), ar->cfg.cond_frames);
  }
  return 0;
}

int info_ar(const std::string& path) {
  auto m = evatok::ArModel::load(path, torch::kCPU);
  const auto& c = m->cfg;
  printf("name:        %s (AR model)\nfingerprint: %s\nparameters:  %lld\n", c.name.c_str(),
         evatok::to_hex(m->fp.data(), 16).c_str(), (long long)m->num_parameters());
  printf("network:     dim %d, %d layers, %d heads, SwiGLU %d, vocabulary %d, max sequence %d\n", c.dim, c.layers,
         c.heads, c.mlp_hidden, c.vocab_size(), c.max_seq_len());
  printf("tokenizer:   %s\n", c.tokenizer_fingerprint.c_str());
  printf("prediction:  %d condition frames, prefix %d tokens, %d frames predicted\n", c.cond_frames, c.prefix_len(),
         c.clip_frames - c.cond_frames);
  printf("classes:    ");
  for (const auto& n : c.classes) printf(" %s", n.c_str());
  printf("%s\n", c.classes.empty() ? " none" : "");
  for (const auto& [k, v] : m->info) printf("%-40s %s\n", k.c_str(), v.c_str());
  return 0;
}

// A labels file (stage 2): what it holds and what made it.
int info_labels(evatok::TensorFile& f) {
  auto rows = [&](const char* k) { return f.tensors.count(k) ? (long long)f.tensors[k].size(0) : 0LL; };
  auto meta = [&](const char* k) { return f.metadata.count(k) ? f.metadata[k] : std::string("?"); };
  printf("labels file%s\ntraining clips: %lld\nheld-out clips: %lld\nassignments:    %lld\n",
         meta("labels.partial") == "1" ? " (unfinished: rerun label to complete it)" : "", rows("quality"),
         rows("val_quality"), (long long)f.tensors["quality"].size(1));
  printf("metric:         %s, %s\ntokenizer:      %s (codec fingerprint)\n", meta("labels.metric").c_str(),
         meta("labels.exact") == "1" ? "exact" : "separable", meta("labels.tokenizer").c_str());
  printf("data:           %s (%s videos)\nheld-out:       %s\n", meta("labels.data").c_str(),
         meta("labels.videos").c_str(), meta("labels.val").c_str());
  if (f.metadata.count("labels.clips_per_second")) printf("clips/s:        %s\n", meta("labels.clips_per_second").c_str());
  return 0;
}

int info(const std::string& path) {
  {
    evatok::TensorFile f = evatok::load_safetensors(path);
    auto it = f.metadata.find("format");
    if (it != f.metadata.end() && it->second == "evatok-ar-model") return info_ar(path);
    if (it == f.metadata.end() && f.metadata.count("labels.tokenizer") && f.tensors.count("quality") &&
        f.tensors["quality"].dim() == 2)
      return info_labels(f);
  }
  EvatokModel* m = nullptr;
  char err[512];
  if (evatok_model_open(path.c_str(), nullptr, &m, err, sizeof err) != EVATOK_OK) {
    fprintf(stderr, "evatok: %s\n", err);
    return 1;
  }
  const EvatokModelInfo* i = evatok_model_get_info(m);
  printf("name:        %s\nfingerprint: %s\ncodec fingerprint: %s (streams, AR models and labels refer to it)\nparameters:  %lld\n",
         i->name, i->fingerprint_hex, i->codec_fingerprint_hex, (long long)i->num_parameters);
  printf("clip:        %d frames x %dx%d, patch %dx%dx%d, %d blocks\n", i->clip_frames, i->clip_width, i->clip_height,
         i->patch_t, i->patch_s, i->patch_s, i->num_blocks);
  printf("choices:    ");
  for (int c = 0; c < i->num_choices; ++c) printf(" %d", i->choices[c]);
  evatok::TensorFile f = evatok::load_safetensors(path);
  const auto cfg = evatok::ModelConfig::from_json(f.metadata["evatok.config"]);
  printf(" tokens per block\ncodebook:    %d\nrouter:      %s (input: %s, predicts: %s)\n", i->codebook_size,
         i->has_router ? "trained" : "none", cfg.router_input.c_str(), cfg.router_target.c_str());
  for (const auto& [k, v] : f.metadata)
    if (k.rfind("train.", 0) == 0) printf("%-40s %s\n", k.c_str(), v.c_str());
  evatok_model_close(&m);
  return 0;
}

bool file_exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

// Runs the pipeline from a recipe folder: 1-proxy.json, 2-labels.json,
// 3-router.json, 4-final.json, 5-uniform.json, each holding the options of its
// stage's command. Outputs go to --work; rerunning resumes or skips.
int train_all(const Args& cli) {
  const std::string recipe = cli.str("recipe"), work = cli.str("work");
  if (recipe.empty() || work.empty() || !cli.has("data") || !cli.has("val"))
    throw std::runtime_error("train-all needs --recipe, --work, --data and --val");
  const std::string proxy = work + "/proxy.safetensors", labels = work + "/labels.safetensors",
                    router = work + "/router.safetensors";
  // The stages, in order; --only takes their numbers.
  enum Stage { kProxy, kLabels, kRouter, kFinal, kUniform, kStages };
  const char* files[kStages] = {"1-proxy", "2-labels", "3-router", "4-final", "5-uniform"};
  const bool tokenizer_stage[kStages] = {true, false, false, true, true};  // take --config
  bool run[kStages] = {};
  for (const auto& n : split(cli.str("only", "1,2,3,4,5"))) {
    const int k = n.size() == 1 ? n[0] - '1' : -1;
    if (k < 0 || k >= kStages) throw std::runtime_error("--only takes stage numbers 1 to 5, not '" + n + "'");
    run[k] = true;
  }
  // Command-line options that override every stage file.
  std::map<std::string, std::string> overrides;
  for (const char* k : {"device", "threads", "fps", "short-side", "max-frames", "data", "val"})
    if (cli.has(k)) overrides[k] = cli.str(k);
  const std::string config = cli.str("config");
  const bool check_only = cli.has("check");
  cli.reject_unread();

  // Every stage file is read and checked before the first stage starts, so a
  // typo in 4-final.json fails now, not after hours of stages 1 to 3.
  evatok::TrainOptions options[kStages];
  for (int i = 0; i < kStages; ++i) {
    if (!run[i]) continue;
    const std::string file = recipe + "/" + files[i] + ".json";
    std::ifstream in(file);
    if (!in) throw std::runtime_error("recipe stage file " + file + " is missing");
    Args a;
    try {
      nlohmann::json j;
      in >> j;
      if (!j.is_object()) throw std::runtime_error("a stage file holds one JSON object of options");
      for (auto& [k, v] : j.items()) {
        if (v.is_boolean()) {
          if (v.get<bool>()) a.kv[k] = "1";
        } else if (v.is_string() || v.is_number()) {
          a.kv[k] = v.is_string() ? v.get<std::string>() : v.dump();
        } else {
          throw std::runtime_error("option '" + k + "' must be a string, number or boolean");
        }
      }
      for (const auto& [k, v] : overrides) a.kv[k] = v;
      if (!config.empty() && tokenizer_stage[i]) a.kv["config"] = config;
      switch (i) {  // the files each stage reads and writes in --work
        case kProxy: a.kv["out"] = proxy; break;
        case kLabels: a.kv["init"] = proxy, a.kv["labels"] = labels; break;
        case kRouter: a.kv["init"] = proxy, a.kv["labels"] = labels, a.kv["out"] = router; break;
        case kFinal: a.kv["router"] = router, a.kv["out"] = work + "/final.safetensors"; break;
        case kUniform: a.kv["out"] = work + "/uniform.safetensors"; break;
      }
      options[i] = train_options(a);
      a.reject_unread();
      options[i].validate();
      if (!options[i].config.empty()) evatok::ModelConfig::from_file(options[i].config);  // a bad config fails now too
    } catch (const std::exception& e) {
      throw std::runtime_error(file + ": " + e.what());
    }
  }
  if (check_only) {
    printf("recipe %s: every stage file to run is complete and valid\n", recipe.c_str());
    return 0;
  }
  mkdir(work.c_str(), 0755);
  for (int i = 0; i < kStages; ++i) {
    if (!run[i]) continue;
    printf("== train-all: stage %s (%s/%s.json)\n", files[i], recipe.c_str(), files[i]);
    fflush(stdout);
    int rc = 0;
    switch (i) {
      case kProxy: rc = evatok::train_tokenizer(options[i]); break;
      case kLabels:
        if (file_exists(labels)) { printf("%s exists; skipped\n", labels.c_str()); break; }
        rc = evatok::make_labels(options[i]);
        break;
      case kRouter:
        if (file_exists(router)) { printf("%s exists; skipped\n", router.c_str()); break; }
        rc = evatok::train_router(options[i]);
        break;
      case kFinal: rc = evatok::train_tokenizer(options[i]); break;
      case kUniform: rc = evatok::train_tokenizer(options[i]); break;
    }
    if (rc != 0) return rc;
  }
  printf("== train-all: done; the final model is %s/final.safetensors\n", work.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help")) {
    fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string cmd = argv[1];
  try {
    Args a = parse(argc, argv);
    if (!a.positional.empty() && cmd != "info")
      throw std::runtime_error("unexpected argument '" + a.positional + "' (options are --name value)");
    if (cmd == "info") {
      a.reject_unread();
      return info(a.positional.empty() ? evatok_default_model_path() : a.positional);
    }
    if (cmd == "init") {
      if (!a.has("config") || !a.has("out")) throw std::runtime_error("init needs --config and --out");
      const int seed = a.num("seed", 1);
      a.reject_unread();
      evatok::Model m(evatok::ModelConfig::from_file(a.str("config")), (uint64_t)seed);
      m.info["train.kind"] = "untrained";
      m.save(a.str("out"));
      printf("wrote untrained model %s (%lld parameters)\n", a.str("out").c_str(), (long long)m.num_parameters());
      return 0;
    }
    if (cmd == "init-ar") {
      if (!a.has("tokenizer") || !a.has("out")) throw std::runtime_error("init-ar needs --tokenizer and --out");
      auto tok = evatok::Model::load(a.str("tokenizer"), torch::kCPU);
      auto cfg = ar_config_from_args(a, evatok::ArConfig::for_tokenizer(*tok));
      std::string cl = a.str("classes");
      const int seed = a.num("seed", 1);
      a.reject_unread();
      for (size_t p = 0; !cl.empty() && p != std::string::npos;) {
        const size_t q = cl.find(',', p);
        cfg.classes.push_back(cl.substr(p, q == std::string::npos ? q : q - p));
        p = q == std::string::npos ? q : q + 1;
      }
      evatok::ArModel m(cfg, (uint64_t)seed);
      m.info["train.kind"] = "untrained";
      m.save(a.str("out"));
      printf("wrote untrained AR model %s (%lld parameters) for tokenizer %s\n", a.str("out").c_str(),
             (long long)m.num_parameters(), cfg.tokenizer_fingerprint.c_str());
      return 0;
    }
    // Each command reads all its options before it starts work, then refuses any it did not read.
    auto checked = [&](auto options) {
      a.reject_unread();
      return options;
    };
    if (cmd == "train-ar") return evatok::train_ar(checked(ar_train_options(a)));
    if (cmd == "eval-ar") return eval_ar(a);
    if (cmd == "bench-ar") {
      if (!a.has("tokenizer") || !a.has("ar")) throw std::runtime_error("bench-ar needs --tokenizer and --ar");
      const int threads = a.num("threads", 0), runs = a.num("runs", 3);
      if (runs < 1) throw std::runtime_error("--runs must be at least 1");
      const std::string data = a.str("data"), device = a.str("device", "cpu");
      a.reject_unread();
      if (threads > 0) torch::set_num_threads(threads);
      return evatok::bench_ar(a.str("tokenizer"), a.str("ar"), data, runs, device);
    }
    if (cmd == "train-tokenizer") return evatok::train_tokenizer(checked(train_options(a)));
    if (cmd == "train-router") return evatok::train_router(checked(train_options(a)));
    if (cmd == "label") return evatok::make_labels(checked(train_options(a)));
    if (cmd == "train-all") return train_all(a);
    if (cmd == "compile-metric") {
      const std::string src = a.str("source"), out = a.str("out");
      a.reject_unread();
      if (src.empty() || out.empty()) throw std::runtime_error("compile-metric needs --source and --out");
      std::ifstream in(src, std::ios::binary);
      if (!in) throw std::runtime_error("cannot read " + src);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      evatok::compile_metric(text, out);
      printf("wrote %s (use --quality torchscript:%s)\n", out.c_str(), out.c_str());
      return 0;
    }
    if (cmd == "set-router") {
      const std::string model = a.str("model"), router = a.str("router"), out = a.str("out");
      a.reject_unread();
      return evatok::set_router(model, router, out);
    }
    if (cmd == "eval") return evatok::evaluate(checked(eval_options(a)));
  } catch (const c10::Error& e) {
    fprintf(stderr, "evatok %s: %s\n", cmd.c_str(), e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {
    fprintf(stderr, "evatok %s: %s\n", cmd.c_str(), e.what());
    return 1;
  }
  fprintf(stderr, "evatok: unknown command '%s'\n%s", cmd.c_str(), kUsage);
  return 2;
}
