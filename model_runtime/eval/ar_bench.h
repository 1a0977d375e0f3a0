// Speed of the AR model on this machine: sampled tokens per second with and
// without the KV cache, and seconds per predicted clip (end to end).
#pragma once
#include <string>

namespace evatok {

// Prints a table; data_dir (optional) gives a real condition clip.
int bench_ar(const std::string& tokenizer, const std::string& ar, const std::string& data_dir, int runs,
             const std::string& device);

}  // namespace evatok
