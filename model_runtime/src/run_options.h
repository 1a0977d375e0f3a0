// Options every training command shares: where the data and the output are,
// the device, and the training loop's schedule.
#pragma once
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
};

}  // namespace evatok
