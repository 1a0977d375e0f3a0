// `evatok entropy-tables`: bitstream v2's probability tables for a tokenizer,
// estimated from its own tokens of training clips (tokenizer/entropy_tables.h).
#pragma once
#include <string>
#include <vector>

#include "data/data.h"

namespace evatok {

struct EntropyOptions {
  std::string model, data_dir, out;
  std::vector<float> wq{0.6f, 1.2f, 2.5f};  // router rates whose tokens are counted
  int clips = 4000;                         // random tile-clips drawn per rate
  int threads = 0;
  std::string device = "cpu";
  unsigned long long seed = 1;
  VideoLoadOptions video;
  void validate() const;
};

// Writes OUT: MODEL with tables (replacing any it had). Prints the bits per
// token of each context on the clips held back for choosing the weights.
int train_entropy_tables(const EntropyOptions& o);

}  // namespace evatok
