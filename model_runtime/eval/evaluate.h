// Evaluation over a folder of held-out videos: tokens, PSNR and SSIM per clip
// for uniform-K assignments, the router and max-proxy-reward search at several
// rate preferences, and optional other models (e.g. a uniform baseline);
// writes a CSV and a summary, and a quality-cost PNG through gnuplot.
#pragma once
#include <string>
#include <vector>

#include "data/data.h"

namespace evatok {

struct EvalOptions {
  std::string model;                      // model under test (tokenizer + router)
  std::vector<std::string> baselines;     // other models, evaluated at their own assignments
  std::vector<std::string> fixed;         // assignments given as tokens per block, "128-8-8-8"
  std::string data_dir;
  VideoLoadOptions video;
  int clips = 64;                         // at most this many clips (centre crop) ...
  int clips_per_video = 1;                // ... this many per video, evenly spaced (1: first window)
  std::vector<float> wq{0.3f, 0.6f, 1.2f, 1.8f, 2.5f};
  std::string search = "separable";       // none | separable | exact
  std::string reward_from;                // search with this model's reward statistics
  std::string device = "cpu";
  int threads = 0;                        // 0: every core
  std::string csv;                        // per-clip rows; summary goes to CSV.summary.csv
  std::string png;                        // quality-cost curves (needs gnuplot)
};

int evaluate(const EvalOptions& o);

}  // namespace evatok
