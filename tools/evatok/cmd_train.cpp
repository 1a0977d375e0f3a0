// The training stages (train-tokenizer, label, train-router) and train-all,
// which runs them from a recipe folder.
#include <sys/stat.h>

#include <cstdio>

#include "cli.h"
#include "core/config.h"
#include "tokenizer/model.h"

namespace evatok::cli {
namespace {

bool file_exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

struct TrainAll {
  std::string recipe, work, data, val, device, config, only = "1,2,3,4,5,6";
  int threads = -1;  // -1: as the stage files say
  VideoLoadOptions video;
  bool check = false;
};

// Runs the pipeline from a recipe folder: 1-proxy.json, 2-labels.json,
// 3-router.json, 4-final.json, 5-uniform.json, 6-tables.json (optional: its
// defaults when missing), each holding the options of its stage's command.
// Outputs go to --work; rerunning resumes or skips.
int train_all(const TrainAll& t, const CLI::App& cmd) {
  const std::string proxy = t.work + "/proxy.safetensors", labels = t.work + "/labels.safetensors",
                    router = t.work + "/router.safetensors";
  enum Stage { kProxy, kLabels, kRouter, kFinal, kUniform, kTables, kStages };
  const char* files[kStages] = {"1-proxy", "2-labels", "3-router", "4-final", "5-uniform", "6-tables"};
  const std::string final_model = t.work + "/final.safetensors";
  bool run[kStages] = {};
  for (const auto& n : CLI::detail::split(t.only, ',')) {
    if (n.empty()) continue;
    const int k = n.size() == 1 ? n[0] - '1' : -1;
    if (k < 0 || k >= kStages) throw std::runtime_error("--only takes stage numbers 1 to 6, not '" + n + "'");
    run[k] = true;
  }
  // Command-line options that override every stage file.
  std::vector<std::string> common = {"--data", t.data};
  if (!t.val.empty()) common.insert(common.end(), {"--val", t.val});
  if (!t.device.empty()) common.insert(common.end(), {"--device", t.device});
  if (t.threads >= 0) common.insert(common.end(), {"--threads", std::to_string(t.threads)});
  for (const char* k : {"--fps", "--short-side", "--max-frames"})
    if (cmd.count(k)) common.insert(common.end(), {k, cmd.get_option(k)->as<std::string>()});

  // Every stage file is read and checked before the first stage starts, so a
  // typo in 4-final.json fails now, not after hours of stages 1 to 3.
  TokenizerOptions tok[kStages];
  LabelOptions lab;
  RouterOptions rou;
  EntropyOptions ent;
  for (int i = 0; i < kStages; ++i) {
    if (!run[i]) continue;
    const std::string file = t.recipe + "/" + files[i] + ".json";
    CLI::App stage{file};
    std::vector<std::string> extra = common;
    if (i == kTables) {  // no --val: the tables see training clips only
      add_entropy_options(&stage, ent);
      extra = {"--data", t.data, "--model", final_model, "--out", final_model};
      if (!t.device.empty()) extra.insert(extra.end(), {"--device", t.device});
      if (t.threads >= 0) extra.insert(extra.end(), {"--threads", std::to_string(t.threads)});
      for (const char* k : {"--fps", "--short-side", "--max-frames"})
        if (cmd.count(k)) extra.insert(extra.end(), {k, cmd.get_option(k)->as<std::string>()});
      if (!file_exists(file)) {
        std::vector<std::string> args(extra.rbegin(), extra.rend());
        stage.parse(args);
      } else {
        parse_json_options(stage, file, extra);
      }
      try {
        ent.validate();
      } catch (const std::exception& e) {
        throw std::runtime_error(file + ": " + e.what());
      }
      continue;
    }
    switch (i) {  // the files each stage reads and writes in --work
      case kLabels:
        add_label_options(&stage, lab);
        extra.insert(extra.end(), {"--init", proxy, "--labels", labels});
        break;
      case kRouter:
        add_router_options(&stage, rou);
        extra.insert(extra.end(), {"--init", proxy, "--labels", labels, "--out", router});
        break;
      default:
        add_tokenizer_options(&stage, tok[i]);
        extra.insert(extra.end(), {"--out", t.work + (i == kProxy ? "/proxy" : i == kFinal ? "/final" : "/uniform") +
                                                ".safetensors"});
        if (i == kFinal) extra.insert(extra.end(), {"--router", router});
        if (!t.config.empty()) extra.insert(extra.end(), {"--config", t.config});
        break;
    }
    parse_json_options(stage, file, extra);
    try {
      if (i == kLabels) {
        lab.validate();
      } else if (i == kRouter) {
        rou.validate();
      } else {
        tok[i].validate();
        if (!tok[i].config.empty()) ModelConfig::from_file(tok[i].config);  // a bad config fails now too
      }
    } catch (const std::exception& e) {
      throw std::runtime_error(file + ": " + e.what());
    }
  }
  if (t.check) {
    printf("recipe %s: every stage file to run is complete and valid\n", t.recipe.c_str());
    return 0;
  }
  mkdir(t.work.c_str(), 0755);
  for (int i = 0; i < kStages; ++i) {
    if (!run[i]) continue;
    printf("== train-all: stage %s (%s/%s.json)\n", files[i], t.recipe.c_str(), files[i]);
    fflush(stdout);
    int rc = 0;
    if (i == kLabels) {
      if (file_exists(labels))
        printf("%s exists; skipped\n", labels.c_str());
      else
        rc = make_labels(lab);
    } else if (i == kRouter) {
      if (file_exists(router))
        printf("%s exists; skipped\n", router.c_str());
      else
        rc = train_router(rou);
    } else if (i == kTables) {
      if (Model::load(final_model, torch::kCPU)->entropy)
        printf("%s has entropy tables; skipped\n", final_model.c_str());
      else
        rc = train_entropy_tables(ent);
    } else {
      rc = train_tokenizer(tok[i]);
    }
    if (rc != 0) return rc;
  }
  printf("== train-all: done; the final model is %s/final.safetensors\n", t.work.c_str());
  return 0;
}

}  // namespace

void add_train_commands(CLI::App& app) {
  auto tok = std::make_shared<TokenizerOptions>();
  auto* c = app.add_subcommand("train-tokenizer",
                               "stage 1 (random assignments), stage 4 (--router picks them) or the uniform baseline "
                               "(--uniform); resumes from --out if it exists; --init with --config is a warm start "
                               "(the tensors of --init that fit the new config)");
  add_tokenizer_options(c, *tok);
  c->callback([tok] { exit_status = train_tokenizer(*tok); });

  auto lab = std::make_shared<LabelOptions>();
  c = app.add_subcommand("label", "stage 2: quality of every assignment of each clip (proxy-reward labels)");
  add_label_options(c, *lab);
  c->callback([lab] { exit_status = make_labels(*lab); });

  auto rou = std::make_shared<RouterOptions>();
  c = app.add_subcommand("train-router", "stage 3: the router, on argmax-reward labels (or softmax(reward/T))");
  add_router_options(c, *rou);
  c->callback([rou] { exit_status = train_router(*rou); });

  auto all = std::make_shared<TrainAll>();
  c = app.add_subcommand("train-all",
                         "every stage from a recipe folder (one JSON file of its command's options per stage: "
                         "1-proxy, 2-labels, 3-router, 4-final, 5-uniform); finished stages are skipped");
  c->add_option("--recipe", all->recipe, "recipe folder")->required();
  c->add_option("--work", all->work, "folder of the stages' outputs")->required();
  c->add_option("--data", all->data, "training videos")->required();
  c->add_option("--val", all->val, "held-out videos")->required();
  c->add_option("--only", all->only, "stages to run, by number");
  c->add_option("--device", all->device, "cpu, cuda or cuda:N (replaces the stage files' value)");
  c->add_option("--threads", all->threads, "CPU threads (replaces the stage files' value; -1 = theirs)");
  c->add_option("--config", all->config, "replaces the tokenizer stages' model config");
  c->add_flag("--check", all->check, "only check every stage file, then exit");
  add_video_options(c, all->video);
  c->callback([all, c] { exit_status = train_all(*all, *c); });
}

}  // namespace evatok::cli
