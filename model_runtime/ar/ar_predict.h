// Frame prediction with the AR model (design: the published recipe mapped to
// the tokenizer's geometry): condition frames are padded to a full clip
// (last frame repeated), encoded with the fixed prefix assignment, and the
// tokens of the first prefix blocks become the prompt; the AR model samples
// every block of the clip (length token, then tokens) and the tokenizer
// decodes it. Frames cond_frames..clip_frames-1 are the prediction.
#pragma once
#include <stdexcept>
#include <vector>

#include "ar/ar_model.h"
#include "ar/ar_sampler.h"
#include "tokenizer/model.h"

namespace evatok {

// Thrown when an AR model and a tokenizer do not belong together.
struct ModelMismatch : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Throws ModelMismatch unless `ar` was trained on the tokens of `tok`.
void check_ar_tokenizer(const ArModel& ar, const Model& tok);

// cond [N,3,c,H,W], c <= cfg.cond_frames (fewer: the first frame is repeated
// in front) -> [N,3,clip_frames,H,W] with the last frame repeated.
torch::Tensor pad_condition(const ArConfig& cfg, const torch::Tensor& cond);
// Prompt tokens of padded condition clips (fixed prefix assignment).
std::vector<std::vector<int64_t>> prefix_tokens(const ArConfig& cfg, Model& tok, const torch::Tensor& padded);
// The assignment used to encode condition clips: prefix choices, then the
// smallest choice for the remaining blocks (they do not influence the prefix:
// the encoder is block-causal).
std::vector<int> prefix_assignment(const ArConfig& cfg);

// The target blocks that the condition frames fill entirely (5 condition
// frames, 4 frames per block: the first block), encoded the way the AR
// model's training targets were: the router's assignment of the padded clip
// (kArTargetWq, train-ar's default), or the prefix's choices without a router. A
// prediction takes these blocks as given instead of sampling them, so the
// blocks it samples follow the tokenizer's own coding of the known frames.
std::vector<KnownBlocks> known_blocks(const ArConfig& cfg, Model& tok, const torch::Tensor& padded);

// cond [N,3,c,H,W] in [-0.5,0.5] at the tokenizer's clip size -> decoded
// clips [N,3,clip_frames,H,W] on the CPU. *sampled receives the number of
// sampled tokens when given.
torch::Tensor predict_clips(ArModel& ar, Model& tok, const torch::Tensor& cond, const SampleParams& p,
                            int64_t* sampled = nullptr);

}  // namespace evatok
