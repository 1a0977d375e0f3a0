// Small helpers shared by the training stages (tokenizer, router, AR model).
#pragma once
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <sys/stat.h>

namespace evatok {

using Clock = std::chrono::steady_clock;

inline bool file_exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// "12m05s", for progress lines.
inline std::string mmss(double s) {
  if (!std::isfinite(s) || s < 0) return "?";  // no rate yet
  char b[32];
  snprintf(b, sizeof b, "%dm%02ds", (int)s / 60, (int)s % 60);
  return b;
}

// Seconds left: the sooner of the last step and the time limit (max_minutes <= 0: no limit;
// seconds_spent counts this run's earlier sessions too when the limit does).
inline double eta_seconds(int steps_left, double steps_per_second, double max_minutes, double seconds_spent) {
  double eta = steps_left / std::max(steps_per_second, 1e-9);
  if (max_minutes > 0) eta = std::min(eta, std::max(0.0, 60.0 * max_minutes - seconds_spent));
  return eta;
}

// A --device value, refused with a reason when this LibTorch has no CUDA.
inline torch::Device parse_device(const std::string& d) {
  torch::Device dev(d);
  if (dev.is_cuda() && !torch::cuda::is_available()) throw std::runtime_error("--device " + d + ": no CUDA in this LibTorch");
  return dev;
}

}  // namespace evatok
