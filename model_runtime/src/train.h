// Training stages of the EVATok pipeline (design section 2):
//  1. tokenizer under random assignments (proxy tokenizer / uniform baseline),
//  2. proxy-reward labels (quality of every assignment, z-scored),
//  3. router trained on argmax-reward labels, conditioned on wq,
//  4. final tokenizer trained from scratch on the router's assignments.
// Each writes a self-describing model file and resumes from its checkpoint.
#pragma once
#include <string>

#include "data.h"
#include "run_options.h"

namespace evatok {

struct TrainOptions : RunOptions {
  std::string config;        // model config JSON (new model) ...
  std::string init;          // ... or an existing model file to start from
  VideoLoadOptions video;    // frame rate, resize, frames per video
  int uniform_tokens = 0;    // >0: fixed-length baseline (every block this many tokens)
  std::string router;        // stage 4: a model whose router picks each clip's assignment
  float router_mix = 0.25f;  // stage 4: share of clips that get a random assignment instead
  float mean_loss = 0;       // tokenizer stages: weight of an extra loss on each patch's mean
                             // colour error (short CPU runs drift in colour on smooth content)
  // label and router stages
  std::string labels;        // labels file (stage 2 output, stage 3 input)
  std::string reuse_labels;  // stage 2: an earlier labels file whose matching clips are not scored again
  std::string quality = "psnr";  // psnr | ssim | torchscript:FILE
  bool exact = true;         // every assignment scored by its own encode+decode
  int label_clips = 256, val_clips = 64, label_batch = 16;  // label_batch: clips per exact search
  float router_temp = 0;     // stage 3: 0 = argmax targets; T > 0 = softmax(reward / T) targets
  float wq_max = 2.5f;       // stage 3: rate preferences are sampled from [0.3, wq_max]; stage 4 uses
                             // its router's range, or this for a router that predicts quality
  std::string router_input;  // stage 3: "pixels" | "motion" (a new router); empty = keep the model's
  std::string router_target; // stage 3: "assignment" | "quality" (a new router); empty = keep the model's

  // RunOptions' checks plus the ranges of the stage options; every stage calls
  // it first, and train-all before stage 1 for every stage file.
  void validate() const;
};

int train_tokenizer(const TrainOptions& o);  // stage 1, stage 4 (o.router) or uniform
int make_labels(const TrainOptions& o);      // stage 2: o.init tokenizer -> o.labels
int train_router(const TrainOptions& o);     // stage 3: o.init + o.labels -> o.out
// The tokenizer of `model` with the router (and its reward statistics) of
// `router_from`, saved as `out`: what stage 4 does when it starts, for a router
// retrained later. Both must share clip geometry and assignments.
int set_router(const std::string& model, const std::string& router_from, const std::string& out);
}  // namespace evatok
