// The AR model's one-token step with the KV cache, on plain buffers:
// embeddings, norms, RoPE and attention written out, the projections as
// half-float matrices (core/half_matrix.h) applied to all rows at once, and
// keys/values kept as half floats. A LibTorch step of this small model spends
// its time in per-op overhead (about 150 ops per token) and in streaming 24 MB
// of float weights (and up to 8 MB of float cache) per token; this path has no
// op overhead and streams half the bytes. Its logits differ from
// ArNet::forward's by the rounding to half (test_ar: test_step_matches_forward
// states the tolerance).
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "ar/ar_model.h"
#include "core/half_matrix.h"

namespace evatok {

class ArStep {
 public:
  // Whether the fast step can run this network (CPU, float32).
  static bool supports(const ArNetImpl& net);
  // B rows; `cache` (ArNetImpl::new_cache(B)) holds the prompt's keys and
  // values, filled by ArNet::forward before the first step and read from
  // there; later keys/values live in this object only. The net and the cache
  // must outlive it.
  ArStep(ArNetImpl& net, KVCache& cache, int64_t rows);
  // One token per row at position pos (the cache holds positions 0..pos-1):
  // stores its key/value and returns the logits, [rows][vocab] row-major.
  const float* step(const int64_t* tokens, const int64_t* seg, const int64_t* pos_in_block, const int64_t* choice,
                    int64_t pos);

 private:
  struct Layer {
    const float *n1, *n2;
    HalfMatrix qkv, wo, w1, w2, w3;
    const float *k, *v;            // the prompt's cache [rows, heads, max_len, dh]
    std::vector<uint16_t> kh, vh;  // the same layout, as half floats
  };
  ArNetImpl& net_;
  int64_t B_, D_, H_, dh_, F_, V_, S_;
  int64_t converted_ = 0;  // positions copied from the prompt's cache
  std::vector<Layer> layers_;
  const float *tok_, *seg_, *pos_, *choice_, *norm_, *cos_, *sin_;
  HalfMatrix head_;
  std::vector<float> x_, h_, qkv_, o_, a_, c_, logits_, scores_;
};

}  // namespace evatok
