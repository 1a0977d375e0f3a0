// Stage 4 of the pipeline: the AR model, trained on token sequences of the
// shipped tokenizer (frame prediction, plus class-conditional generation),
// and its held-out evaluation.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "data/ar_data.h"
#include "ar/ar_model.h"
#include "train/run_options.h"

namespace evatok {

struct ArTrainOptions : RunOptions {
  ArTrainOptions() { steps = 3000, batch = 16; }
  std::string tokenizer;     // tokenizer model file (its tokens are the vocabulary)
  std::string cache;         // token cache; default OUT.tokens
  int samples = 8192, val_samples = 256;
  float gen_fraction = 0.2f; // share of class-conditional generation sequences (no prefix)
  float class_drop = 0.1f;   // share of sequences with the null class (CFG)
  int dim = 0, layers = 0, heads = 0, mlp = 0;  // 0 = ArConfig defaults
};

int train_ar(const ArTrainOptions& o);

struct ArBits {
  double bits_per_token = 0;     // AR model, teacher-forced, structure-masked
  double unigram_entropy = 0;    // entropy of the same tokens' own unigram distribution
  double unigram_structured = 0; // same, with separate distributions for length and visual tokens
  double unigram_train = 0;      // cross-entropy under the training tokens' unigram model
                                 // (length/visual apart, add-0.5 smoothing); 0 without train
  int64_t tokens = 0;
};
// Held-out bits per target token (predict task, null class unless with_class).
ArBits ar_heldout_bits(ArModel& m, const std::vector<ArSample>& val, bool with_class,
                       const std::vector<ArSample>* train = nullptr, int batch = 16);

struct ArPredictEval {
  double psnr_pred = 0, psnr_copy = 0, psnr_recon = 0;  // mean over clips of frames cond..T-1
  int clips = 0;
  torch::Tensor strip;  // uint8 [H, W, 3]: rows truth / copy-last / predicted for a few clips
};
// Frame prediction on held-out clips against the true continuation and a
// copy-last-frame baseline (and the tokenizer's reconstruction of the truth).
ArPredictEval ar_eval_prediction(ArModel& ar, Model& tok, const std::vector<Video>& videos, int clips,
                                 const struct SampleParams& p, uint64_t seed, int strip_clips);

}  // namespace evatok
