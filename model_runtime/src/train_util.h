// Small helpers shared by the training stages (tokenizer, router, AR model).
#pragma once
#include <torch/torch.h>

#include <chrono>
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
  char b[32];
  snprintf(b, sizeof b, "%dm%02ds", (int)s / 60, (int)s % 60);
  return b;
}

// A --device value, refused with a reason when this LibTorch has no CUDA.
inline torch::Device parse_device(const std::string& d) {
  torch::Device dev(d);
  if (dev.is_cuda() && !torch::cuda::is_available()) throw std::runtime_error("--device " + d + ": no CUDA in this LibTorch");
  return dev;
}

}  // namespace evatok
