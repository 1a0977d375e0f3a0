// Sampling token sequences from the AR model: structure masks (a length
// token where a block starts, visual tokens inside a block), temperature,
// top-k, top-p, a seeded generator, classifier-free guidance and the KV cache.
#pragma once
#include <string>
#include <cstdint>
#include <random>
#include <vector>

#include "ar/ar_model.h"

namespace evatok {

struct SampleParams {
  float temperature = 1.f;  // 0: greedy (argmax)
  int top_k = 0;            // 0: off
  float top_p = 1.f;        // 1: off
  uint64_t seed = 0;
  float cfg = 1.f;          // guidance scale; used when class_id >= 0 and != 1
  int class_id = -1;        // -1: null class (unconditional)
  bool kv_cache = true;     // false: recompute the whole sequence every step (reference/benchmark)
  bool fast_step = true;    // with the cache on CPU: ArStep's half-float step; false: LibTorch's float ops (reference)
  int force_choice = -1;    // >= 0: every block gets this choice instead of a sampled length

  // Empty when usable, else what is wrong; the C API and the CLI both check with it.
  std::string invalid(int num_classes) const;
};

struct SampleOutput {
  std::vector<std::vector<int>> choices;       // [N][block] choice index
  std::vector<std::vector<int64_t>> tokens;    // [N] visual tokens, blocks concatenated
  int64_t sampled = 0;                         // tokens sampled (length + visual, all sequences)
};

// Picks one id in [lo, hi) from a row of logits. Deterministic given rng state.
int64_t sample_from_logits(const float* logits, int lo, int hi, const SampleParams& p, std::mt19937_64& rng);

// Samples N sequences. prefixes: N prefix token lists, all empty (generate
// task) or all of cfg.prefix_len() tokens (predict task).
SampleOutput ar_sample(ArModel& m, const std::vector<std::vector<int64_t>>& prefixes, const SampleParams& p);

}  // namespace evatok
