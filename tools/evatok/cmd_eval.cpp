// eval: tokens, PSNR and SSIM of held-out clips under uniform, router and
// search assignments (and baseline models), with CSV and a quality-cost plot;
// bench: the codec's speed against the machine's GEMM peak.
#include "cli.h"
#include "eval/codec_bench.h"
#include "eval/evaluate.h"
#include "evatok/evatok.h"

namespace evatok::cli {

void add_eval_commands(CLI::App& app) {
  auto o = std::make_shared<EvalOptions>();
  o->model = evatok_default_model_path();
  o->device = "cpu";
  auto* c = app.add_subcommand("eval", "tokens, PSNR and SSIM per clip for uniform-K, the router and search");
  c->add_option("--model", o->model, "model under test (tokenizer + router)");
  c->add_option("--data", o->data_dir, "folder of held-out videos")->required();
  c->add_option("--clips", o->clips, "at most this many clips (centre crop)");
  c->add_option("--clips-per-video", o->clips_per_video, "clips per video, evenly spaced (1: the first window)");
  c->add_option("--wq", o->wq, "rate preferences of the router and search")->delimiter(',');
  c->add_option("--search", o->search, "max-proxy-reward search: none, separable or exact")
      ->check(CLI::IsMember({"none", "separable", "exact"}));
  c->add_option("--baseline", o->baselines, "other models, at their own assignments")->delimiter(',');
  c->add_option("--fixed", o->fixed, "assignments given as tokens per block, e.g. 128-8-8-8")->delimiter(',');
  c->add_option("--reward-from", o->reward_from, "search with this model's reward statistics");
  c->add_option("--csv", o->csv, "per-clip rows (the summary goes to CSV.summary.csv)");
  c->add_option("--png", o->png, "quality-cost curves (needs gnuplot)");
  c->add_option("--threads", o->threads, "CPU threads (0 = every core)");
  c->add_option("--device", o->device, "cpu, cuda or cuda:N");
  add_video_options(c, o->video);
  c->callback([o] { exit_status = evaluate(*o); });

  auto b = std::make_shared<CodecBenchOptions>();
  c = app.add_subcommand("bench",
                         "the codec's speed through the C API against this machine's GEMM peak: FLOPs per "
                         "tile-clip, fps, GFLOP/s and the fraction of the peak (scripts/bench.sh runs it)");
  c->add_option("--video", b->video, "Y4M input (every frame is encoded and decoded)")->required();
  c->add_option("--model", b->model, "tokenizer model (default: the default model)");
  c->add_option("--assign", b->assign, "router, uniform:K or search");
  c->add_option("--threads", b->threads, "CPU threads (0 = the library's default)");
  c->add_option("--runs", b->runs, "timed passes (the best is reported)")->check(CLI::Range(1, 100));
  c->add_flag("--profile", b->profile, "also print the ops that take most of one packet's encode and decode");
  c->callback([b] { exit_status = bench_codec(*b); });
}

}  // namespace evatok::cli
