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
  bool sample_known = false;  // frame prediction: also sample the blocks the condition frames fill
                              // (the published recipe) instead of taking them from the tokenizer

  // Empty when usable, else what is wrong; the C API and the CLI both check with it.
  std::string invalid(int num_classes) const;
};

struct SampleOutput {
  std::vector<std::vector<int>> choices;       // [N][block] choice index
  std::vector<std::vector<int64_t>> tokens;    // [N] visual tokens, blocks concatenated
  int64_t sampled = 0;                         // tokens sampled (length + visual, all sequences)
};

// Target blocks that are not sampled but given (frame prediction: the blocks
// whose frames are all condition frames): their choices and their tokens,
// blocks concatenated. They are fed to the model like sampled ones.
struct KnownBlocks {
  std::vector<int> choices;
  std::vector<int64_t> tokens;
};

// Picks one id in [lo, hi) from a row of logits. Deterministic given rng state.
int64_t sample_from_logits(const float* logits, int lo, int hi, const SampleParams& p, std::mt19937_64& rng);

// Samples N sequences. prefixes: N prefix token lists, all empty (generate
// task) or all of cfg.prefix_len() tokens (predict task). known: none, or one
// entry per sequence (its first blocks; out.sampled does not count them).
SampleOutput ar_sample(ArModel& m, const std::vector<std::vector<int64_t>>& prefixes, const SampleParams& p,
                       const std::vector<KnownBlocks>* known = nullptr);

}  // namespace evatok
