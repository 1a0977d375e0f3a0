// How close the codec runs to this machine's limit: the GEMM peak through our
// LibTorch, the network's FLOPs per tile-clip (LibTorch's profiler, FLOP
// counting on), and the encode and decode rate through the C API, as GFLOP/s
// and as a fraction of the peak. scripts/bench.sh adds the end-to-end ffmpeg
// figures and Debian's x264/x265 beside it.
#pragma once
#include <string>

namespace evatok {

struct CodecBenchOptions {
  std::string model;   // tokenizer file (empty: the default)
  std::string video;   // Y4M input; every frame is used, in groups of the model's clip length
  std::string assign = "router";  // router | uniform:K | search
  int threads = 0;     // 0: the library's default
  int runs = 3;        // timed passes over the video (the best one is reported)
  bool profile = false;  // also print the ops that take most of one packet's time
};

int bench_codec(const CodecBenchOptions& o);

}  // namespace evatok
