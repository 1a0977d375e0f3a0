// Options every training command shares: where the data and the output are,
// the device, and the training loop's schedule.
#pragma once
#include <cmath>
#include <stdexcept>
#include <string>

namespace evatok {

struct RunOptions {
  std::string data_dir;      // training videos
  std::string val_dir;       // held-out videos (validation/report only)
  std::string out;           // model file written at every checkpoint
  std::string device = "cpu";
  int steps = 1000, batch = 8, threads = 0, log_every = 25, ckpt_every = 250;
  float lr = 1e-3f;
  unsigned long long seed = 1;
  float max_minutes = 0;     // stop (with a checkpoint) after this wall time; 0 = no limit

  // Every training entry point calls this first: a zero interval or a NaN rate
  // would otherwise crash or silently train nothing.
  void validate() const {
    if (steps < 1 || batch < 1 || log_every < 1 || ckpt_every < 1)
      throw std::runtime_error("--steps, --batch, --log-every and --ckpt-every must be at least 1");
    if (threads < 0) throw std::runtime_error("--threads must be 0 (every core) or more");
    if (!std::isfinite(lr) || lr <= 0) throw std::runtime_error("--lr must be a positive number");
    if (!std::isfinite(max_minutes) || max_minutes < 0)
      throw std::runtime_error("--max-minutes must be 0 (no limit) or more");
  }
};

}  // namespace evatok
