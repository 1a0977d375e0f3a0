#include "cli.h"

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace evatok::cli {

int exit_status = 0;

void add_video_options(CLI::App* c, VideoLoadOptions& v) {
  c->add_option("--fps", v.fps, "resample videos to this frame rate (0 = as stored)")
      ->check(CLI::Range(0.0, 1000.0))->group("Data");
  c->add_option("--short-side", v.short_side, "resize the shorter side to this many pixels (0 = as stored)")
      ->check(CLI::Range(0, 65536))->group("Data");
  c->add_option("--max-frames", v.max_frames, "frames read per video")->check(CLI::Range(1, 1 << 24))->group("Data");
}

// The data, device and seed of every training command.
static void add_common_options(CLI::App* c, RunOptions& o) {
  c->add_option("--data", o.data_dir, "folder of training videos (.y4m or anything FFmpeg decodes)")->required();
  c->add_option("--val", o.val_dir, "folder of held-out videos (reported or labelled for the report)");
  c->add_option("--device", o.device, "cpu, cuda or cuda:N");
  c->add_option("--threads", o.threads, "CPU threads (0 = every core)");
  c->add_option("--seed", o.seed, "random seed");
}

void add_run_options(CLI::App* c, RunOptions& o) {
  add_common_options(c, o);
  c->add_option("--out", o.out, "model file written at every checkpoint; a run resumes from it")->required();
  c->add_option("--steps", o.steps, "training steps");
  c->add_option("--batch", o.batch, "clips per step");
  c->add_option("--lr", o.lr, "learning rate");
  c->add_option("--log-every", o.log_every, "steps between log lines");
  c->add_option("--ckpt-every", o.ckpt_every, "steps between checkpoints");
  c->add_option("--max-minutes", o.max_minutes, "stop with a checkpoint after this wall time (0 = no limit)");
}

void add_tokenizer_options(CLI::App* c, TokenizerOptions& o) {
  add_run_options(c, o);
  add_video_options(c, o.video);
  c->add_option("--config", o.config, "model config JSON of a new model (with --init: a warm start)");
  c->add_option("--init", o.init, "model file to start from");
  c->add_option("--uniform", o.uniform_tokens, "uniform baseline: every block gets this many tokens (0 = off)");
  c->add_option("--router", o.router, "stage 4: the model whose router picks each clip's assignment");
  c->add_option("--router-mix", o.router_mix, "stage 4: share of clips given a random assignment instead");
  c->add_option("--wq-max", o.wq_max, "stage 4 with a quality router: wq drawn from 0.3..X");
  c->add_option("--mean-loss", o.mean_loss, "weight of the error of each patch's mean colour in the loss");
  c->add_option("--inter-carry", o.inter_carry,
                "share of steps whose clips continue a previous packet (first block carries from its last frame)");
  c->add_option("--ema", o.ema, "save an exponential moving average of the weights with this decay per step (0 = off)");
}

void add_label_options(CLI::App* c, LabelOptions& o) {
  add_common_options(c, o);
  add_video_options(c, o.video);
  c->add_option("--init", o.init, "the proxy tokenizer (stage 1)")->required();
  c->add_option("--labels", o.labels, "labels file written; an interrupted run resumes from LABELS.part")->required();
  c->add_option("--reuse-labels", o.reuse_labels, "an earlier labels file whose matching clips are not scored again");
  c->add_option("--quality", o.quality, "psnr, ssim, mse or torchscript:FILE (evatok compile-metric)");
  c->add_flag_callback("--separable", [&o] { o.exact = false; },
                       "score each block as if every block had its count (fast) instead of every assignment exactly");
  c->add_option("--label-clips", o.label_clips, "training clips labelled");
  c->add_option("--val-clips", o.val_clips, "held-out clips labelled");
  c->add_option("--label-batch", o.label_batch, "clips per exact search");
}

void add_router_options(CLI::App* c, RouterOptions& o) {
  add_run_options(c, o);
  add_video_options(c, o.video);
  c->add_option("--init", o.init, "the proxy tokenizer the labels were made with")->required();
  c->add_option("--labels", o.labels, "labels file of stage 2")->required();
  c->add_option("--router-temp", o.router_temp, "0 = argmax-reward targets; T > 0 = softmax(reward / T)");
  c->add_option("--wq-max", o.wq_max, "rate preferences drawn from 0.3..X");
  c->add_option("--router-input", o.router_input, "a new router that sees pixels, motion (|frame - previous|) or stats (15 per patch)")
      ->check(CLI::IsMember({"pixels", "motion", "stats"}));
  c->add_option("--router-target", o.router_target, "a new router that predicts the assignment or every assignment's quality")
      ->check(CLI::IsMember({"assignment", "quality"}));
}

void add_entropy_options(CLI::App* c, EntropyOptions& o) {
  add_video_options(c, o.video);
  c->add_option("--model", o.model, "the tokenizer (its router picks the assignments)")->required();
  c->add_option("--data", o.data_dir, "folder of training videos (never held-out ones)")->required();
  c->add_option("--out", o.out, "model file written: MODEL with the tables")->required();
  c->add_option("--wq", o.wq, "router rates whose tokens are counted")->delimiter(',');
  c->add_option("--clips", o.clips, "random tile-clips per rate");
  c->add_option("--threads", o.threads, "CPU threads (0 = every core)");
  c->add_option("--device", o.device, "cpu or cuda[:N]");
  c->add_option("--seed", o.seed, "which clips are drawn");
}

void parse_json_options(CLI::App& stage, const std::string& file, const std::vector<std::string>& extra) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error("recipe stage file " + file + " is missing");
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(file + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw std::runtime_error(file + ": a stage file holds one JSON object of options");
  std::map<std::string, std::string> kv;  // extra replaces the file's value
  std::vector<std::string> flags;
  for (auto& [k, v] : j.items()) {
    if (!stage.get_option_no_throw("--" + k)) throw std::runtime_error(file + ": unknown option --" + k);
    if (v.is_boolean()) {
      if (v.get<bool>()) flags.push_back("--" + k);
    } else if (v.is_string() || v.is_number()) {
      kv["--" + k] = v.is_string() ? v.get<std::string>() : v.dump();
    } else {
      throw std::runtime_error(file + ": option '" + k + "' must be a string, number or boolean");
    }
  }
  for (size_t i = 0; i + 1 < extra.size(); i += 2) kv[extra[i]] = extra[i + 1];
  std::vector<std::string> args(flags);
  for (auto& [k, v] : kv) args.insert(args.end(), {k, v});
  std::reverse(args.begin(), args.end());  // CLI11 takes a vector last argument first
  try {
    stage.parse(args);
  } catch (const CLI::ParseError& e) {
    throw std::runtime_error(file + ": " + e.what());
  }
}

}  // namespace evatok::cli
