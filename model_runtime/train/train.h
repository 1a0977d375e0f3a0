// Training stages of the EVATok pipeline (design section 2):
//  1. tokenizer under random assignments (proxy tokenizer / uniform baseline),
//  2. proxy-reward labels (quality of every assignment, z-scored),
//  3. router trained on argmax-reward labels, conditioned on wq,
//  4. final tokenizer trained from scratch on the router's assignments.
// Each writes a self-describing model file and resumes from its checkpoint.
#pragma once
#include <string>

#include "data/data.h"
#include "train/run_options.h"

namespace evatok {

// Stage 1 (random assignments), stage 4 (`router` picks them) and the
// uniform baseline (`uniform_tokens`).
struct TokenizerOptions : RunOptions {
  std::string config;        // model config JSON (new model) ...
  std::string init;          // ... or an existing model file to start from
  VideoLoadOptions video;    // frame rate, resize, frames per video
  int uniform_tokens = 0;    // >0: fixed-length baseline (every block this many tokens)
  std::string router;        // stage 4: a model whose router picks each clip's assignment
  float router_mix = 0.25f;  // stage 4: share of clips that get a random assignment instead
  float wq_max = 2.5f;       // stage 4 with a router that predicts quality: wq drawn from [0.3, wq_max]
                             // (an assignment router's own trained range is used otherwise)
  float mean_loss = 0;       // weight of an extra loss on each patch's mean colour error
                             // (short CPU runs drift in colour on smooth content)
  float inter_carry = 0;     // share of steps whose clips continue a previous packet: the decoder's
                             // first block may carry from that packet's last decoded frame
                             // (inter packets, bitstream 3); 0 = every clip a keyframe
  float ema = 0;             // >0: the saved model is an exponential moving average of the
                             // weights with this decay per step (the raw weights go on in the
                             // .optim file); 0 = the last step's weights
  void validate() const;     // RunOptions' checks plus this stage's ranges
};

// Stage 2: the quality of every assignment of `label_clips` clips.
struct LabelOptions : RunOptions {
  std::string init;          // the proxy tokenizer
  VideoLoadOptions video;
  std::string labels;        // labels file written
  std::string reuse_labels;  // an earlier labels file whose matching clips are not scored again
  std::string quality = "psnr";  // psnr | ssim | mse | torchscript:FILE
  bool exact = true;         // every assignment scored by its own encode+decode
  int label_clips = 256, val_clips = 64, label_batch = 16;  // label_batch: clips per exact search
  void validate() const;
};

// Stage 3: the router, on the labels of stage 2.
struct RouterOptions : RunOptions {
  std::string init;          // the proxy tokenizer the labels were made with
  VideoLoadOptions video;
  std::string labels;        // labels file (stage 2 output)
  float router_temp = 0;     // 0 = argmax targets; T > 0 = softmax(reward / T) targets
  float wq_max = 2.5f;       // rate preferences are sampled from [0.3, wq_max]
  std::string router_input;  // "pixels" | "motion" | "stats" (a new router); empty = keep the model's
  std::string router_target; // "assignment" | "quality" (a new router); empty = keep the model's
  void validate() const;
};

int train_tokenizer(const TokenizerOptions& o);  // stage 1, stage 4 (o.router) or uniform
int make_labels(const LabelOptions& o);          // stage 2: o.init tokenizer -> o.labels
int train_router(const RouterOptions& o);        // stage 3: o.init + o.labels -> o.out
// The tokenizer of `model` with the router (and its reward statistics) of
// `router_from`, saved as `out`: what stage 4 does when it starts, for a router
// retrained later. Both must share clip geometry and assignments.
int set_router(const std::string& model, const std::string& router_from, const std::string& out);
}  // namespace evatok
