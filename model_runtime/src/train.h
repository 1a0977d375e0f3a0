// Training stages of the EVATok pipeline (design section 2):
//  1. tokenizer under random assignments (proxy tokenizer / uniform baseline),
//  2. proxy-reward labels (quality of every assignment, z-scored),
//  3. router trained on argmax-reward labels, conditioned on wq,
//  4. final tokenizer trained from scratch on the router's assignments.
// Each writes a self-describing model file and resumes from its checkpoint.
#pragma once
#include <string>

#include "data.h"

namespace evatok {

struct TrainOptions {
  std::string data_dir;      // training .y4m videos
  std::string val_dir;       // held-out .y4m videos (validation/report only)
  std::string config;        // model config JSON (new model) ...
  std::string init;          // ... or an existing model file to start from
  std::string out;           // model file written at every checkpoint
  std::string device = "cpu";
  VideoLoadOptions video;    // frame rate, resize, frames per video
  int steps = 1000, batch = 8, threads = 0, log_every = 25, ckpt_every = 250;
  float lr = 1e-3f;
  unsigned long long seed = 1;
  int uniform_tokens = 0;    // >0: fixed-length baseline (every block this many tokens)
  std::string router;        // stage 4: a model whose router picks each clip's assignment
  float router_mix = 0.25f;  // stage 4: share of clips that get a random assignment instead
  // label and router stages
  std::string labels;        // labels file (stage 2 output, stage 3 input)
  std::string quality = "psnr";  // psnr | ssim | torchscript:FILE
  bool exact = true;         // every assignment scored by its own encode+decode
  int label_clips = 256, val_clips = 64, label_batch = 16;  // label_batch: clips per exact search
  float max_minutes = 0;     // stop (with a checkpoint) after this wall time; 0 = no limit
};

int train_tokenizer(const TrainOptions& o);  // stage 1, stage 4 (o.router) or uniform
int make_labels(const TrainOptions& o);      // stage 2: o.init tokenizer -> o.labels
int train_router(const TrainOptions& o);     // stage 3: o.init + o.labels -> o.out
}  // namespace evatok
