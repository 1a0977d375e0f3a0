// The AR model: init-ar (untrained), train-ar, eval-ar, bench-ar.
#include <cstdio>

#include "ar/ar_model.h"
#include "ar/ar_sampler.h"
#include "cli.h"
#include "core/cpu_runtime.h"
#include "eval/ar_bench.h"
#include "png.h"
#include "tokenizer/model.h"
#include "train/ar_train.h"

namespace evatok::cli {
namespace {

// Network size options of init-ar and train-ar (0 = ArConfig's default).
struct ArSize {
  int dim = 0, layers = 0, heads = 0, mlp = 0;
};
void add_size_options(CLI::App* c, ArSize& s) {
  c->add_option("--dim", s.dim, "model width (0 = default)")->group("Network");
  c->add_option("--layers", s.layers, "transformer layers (0 = default)")->group("Network");
  c->add_option("--heads", s.heads, "attention heads (0 = default)")->group("Network");
  c->add_option("--mlp", s.mlp, "SwiGLU hidden width (0 = 2 x dim)")->group("Network");
}

struct EvalAr {
  std::string tokenizer, ar, data, png, class_name, device = "cpu";
  int clips = 32, strip_clips = 3, threads = 0;
  SampleParams sp;
  TokenizeOptions vo;
  EvalAr() { vo.samples = 256; }
};

int eval_ar(EvalAr& o) {
  if (o.clips < 1 || o.vo.samples < 1 || o.strip_clips < 0)
    throw std::runtime_error("--clips and --val-samples must be at least 1, --strip-clips 0 or more");
  o.vo.seed = 1000003;  // the held-out set of train-ar
  set_cpu_threads(o.threads);
  torch::Device dev(o.device);
  auto tok = evatok::Model::load(o.tokenizer, dev);
  auto ar = evatok::ArModel::load(o.ar, dev);
  std::vector<evatok::Video> videos;
  for (const auto& p : evatok::list_videos(o.data)) videos.push_back(evatok::read_y4m(p, 64));
  if (!o.class_name.empty()) {
    o.sp.class_id = ar->cfg.class_index(o.class_name);
    if (o.sp.class_id < 0) throw std::runtime_error("unknown class '" + o.class_name + "'");
  }
  if (const std::string e = o.sp.invalid((int)ar->cfg.classes.size()); !e.empty()) throw std::runtime_error(e);
  auto val = evatok::tokenize_clips(*tok, ar->cfg, videos, o.vo);
  auto b = evatok::ar_heldout_bits(*ar, val, false);
  auto bc = evatok::ar_heldout_bits(*ar, val, true);
  printf("held-out bits/token (%lld target tokens of %zu clips):\n", (long long)b.tokens, val.size());
  printf("  AR model, null class          %.3f\n  AR model, true class          %.3f\n", b.bits_per_token,
         bc.bits_per_token);
  printf("  unigram entropy               %.3f\n  unigram, length/visual apart  %.3f\n", b.unigram_entropy,
         b.unigram_structured);
  auto r = evatok::ar_eval_prediction(*ar, *tok, videos, o.clips, o.sp, 4242, o.strip_clips);
  printf("frame prediction, %d held-out clips, frames %d..%d (PSNR, dB):\n", r.clips, ar->cfg.cond_frames,
         ar->cfg.clip_frames - 1);
  printf("  AR prediction                 %.2f\n  copy last condition frame     %.2f\n", r.psnr_pred, r.psnr_copy);
  printf("  tokenizer reconstruction of the truth (ceiling) %.2f\n", r.psnr_recon);
  if (!o.png.empty() && r.strip.defined()) {
    write_png_rgb(o.png, r.strip.data_ptr<uint8_t>(), (int)r.strip.size(1), (int)r.strip.size(0));
    printf("wrote %s (rows per clip: truth, copy-last, AR prediction; first %d frames are the condition)\n",
           o.png.c_str(), ar->cfg.cond_frames);
  }
  return 0;
}


struct InitAr {
  std::string tokenizer, out;
  std::vector<std::string> classes;
  int seed = 1;
  ArSize size;
};

struct BenchAr {
  std::string tokenizer, ar, data, device = "cpu";
  int runs = 3, threads = 0;
};

void add_sampling_options(CLI::App* c, SampleParams& sp) {
  c->add_option("--temperature", sp.temperature, "sampling temperature (0 = greedy)")->group("Sampling");
  c->add_option("--top-k", sp.top_k, "sample from the k most likely tokens (0 = all)")->group("Sampling");
  c->add_option("--top-p", sp.top_p, "nucleus mass (1 = off)")->group("Sampling");
  c->add_option("--seed", sp.seed, "random seed")->group("Sampling");
  c->add_option("--cfg", sp.cfg, "classifier-free guidance scale, with --class (1 = off)")->group("Sampling");
}

}  // namespace

void add_ar_commands(CLI::App& app) {
  auto in = std::make_shared<InitAr>();
  auto* c = app.add_subcommand("init-ar", "write an UNTRAINED AR model for a tokenizer (tests only)");
  c->add_option("--tokenizer", in->tokenizer, "tokenizer model file")->required();
  c->add_option("--out", in->out, "AR model file written")->required();
  c->add_option("--seed", in->seed, "random seed of the weights");
  c->add_option("--classes", in->classes, "class names, comma-separated")->delimiter(',');
  add_size_options(c, in->size);
  c->callback([in] {
    auto tok = Model::load(in->tokenizer, torch::kCPU);
    auto cfg = ArConfig::for_tokenizer(*tok);
    const ArSize& s = in->size;
    if (s.dim) cfg.dim = s.dim;
    if (s.layers) cfg.layers = s.layers;
    if (s.heads) cfg.heads = s.heads;
    cfg.mlp_hidden = s.mlp ? s.mlp : 2 * cfg.dim;
    cfg.classes = in->classes;
    cfg.validate();
    ArModel m(cfg, (uint64_t)in->seed);
    m.info["train.kind"] = "untrained";
    m.save(in->out);
    printf("wrote untrained AR model %s (%lld parameters) for tokenizer %s\n", in->out.c_str(),
           (long long)m.num_parameters(), cfg.tokenizer_fingerprint.c_str());
  });

  auto tr = std::make_shared<ArTrainOptions>();
  auto size = std::make_shared<ArSize>();
  c = app.add_subcommand("train-ar",
                         "tokenize clips with the tokenizer (cached in OUT.tokens) and train the AR model; resumes "
                         "from --out if it exists");
  add_run_options(c, *tr);
  c->add_option("--tokenizer", tr->tokenizer, "tokenizer model file (its tokens are the vocabulary)")->required();
  c->add_option("--cache", tr->cache, "token cache (default OUT.tokens)");
  c->add_option("--samples", tr->samples, "training token sequences")->check(CLI::PositiveNumber);
  c->add_option("--val-samples", tr->val_samples, "held-out token sequences")->check(CLI::PositiveNumber);
  c->add_option("--gen-fraction", tr->gen_fraction, "share of class-conditional generation sequences");
  c->add_option("--class-drop", tr->class_drop, "share of sequences with the null class (CFG)");
  add_size_options(c, *size);
  c->callback([tr, size] {
    tr->dim = size->dim, tr->layers = size->layers, tr->heads = size->heads, tr->mlp = size->mlp;
    exit_status = train_ar(*tr);
  });

  auto ev = std::make_shared<EvalAr>();
  c = app.add_subcommand("eval-ar",
                         "held-out bits/token against unigram entropy; predicted frames against the true "
                         "continuation and copy-last-frame");
  c->add_option("--tokenizer", ev->tokenizer, "tokenizer model file")->required();
  c->add_option("--ar", ev->ar, "AR model file")->required();
  c->add_option("--data", ev->data, "folder of held-out Y4M videos")->required();
  c->add_option("--clips", ev->clips, "clips predicted");
  c->add_option("--val-samples", ev->vo.samples, "held-out token sequences scored");
  c->add_option("--png", ev->png, "strip of truth / copy-last / prediction written");
  c->add_option("--strip-clips", ev->strip_clips, "clips in the strip");
  c->add_option("--class", ev->class_name, "class to condition on");
  add_sampling_options(c, ev->sp);
  c->add_flag("--sample-known", ev->sp.sample_known,
              "sample the blocks the condition frames fill too (the published recipe) instead of encoding them")
      ->group("Sampling");
  c->add_option("--threads", ev->threads, "CPU threads (0 = every core)");
  c->add_option("--device", ev->device, "cpu, cuda or cuda:N");
  c->callback([ev] { exit_status = eval_ar(*ev); });

  auto be = std::make_shared<BenchAr>();
  c = app.add_subcommand("bench-ar", "sampling speed with and without the KV cache, seconds per predicted clip");
  c->add_option("--tokenizer", be->tokenizer, "tokenizer model file")->required();
  c->add_option("--ar", be->ar, "AR model file")->required();
  c->add_option("--data", be->data, "videos to predict from (default: synthetic)");
  c->add_option("--runs", be->runs, "timed runs");
  c->add_option("--threads", be->threads, "CPU threads (0 = every core)");
  c->add_option("--device", be->device, "cpu, cuda or cuda:N");
  c->callback([be] {
    if (be->runs < 1) throw std::runtime_error("--runs must be at least 1");
    set_cpu_threads(be->threads);
    exit_status = bench_ar(be->tokenizer, be->ar, be->data, be->runs, be->device);
  });
}

}  // namespace evatok::cli
