// Token data for the AR model: clips cut from the corpus, tokenized with the
// tokenizer (frame-prediction prefix + routed target), cached to a file.
#pragma once
#include <string>
#include <vector>

#include "ar/ar_model.h"
#include "data/data.h"
#include "tokenizer/model.h"

namespace evatok {

// Motion class of a corpus file, from its name: "photo03-panslow.y4m" ->
// "panslow", "synth-life.y4m" -> "synth" (data/make_corpus.sh).
std::string clip_class(const std::string& path);
// Sorted distinct classes of a list of videos.
std::vector<std::string> corpus_classes(const std::vector<Video>& videos);

struct ArSample {
  int cls = -1;                 // class index, -1 unknown
  std::vector<int64_t> prefix;  // prefix tokens of the condition frames
  std::vector<int> choices;     // target assignment (choice index per block)
  std::vector<int64_t> tokens;  // target tokens, blocks concatenated
};

// Random clips (window, crop, mirror) from the videos, cut at the
// tokenizer's geometry. videos_out (optional) receives each clip's video index.
class ArClipSource {
 public:
  ArClipSource(const std::vector<Video>& videos, const ArConfig& cfg, uint64_t seed);
  torch::Tensor sample(int n, std::vector<int>* video_idx);  // [n,3,T,H,W] in [-0.5,0.5]
 private:
  const std::vector<Video>& videos_;
  int T_, H_, W_;
  std::mt19937_64 rng_;
};

struct TokenizeOptions {
  int samples = 4096;
  uint64_t seed = 1;
  std::string assign = "router";  // router | random (router falls back to random without one)
  float wq = kArTargetWq;
  int batch = 16;
};

// Tokenizes opts.samples random clips; prints progress.
std::vector<ArSample> tokenize_clips(Model& tok, const ArConfig& cfg, const std::vector<Video>& videos,
                                     const TokenizeOptions& o);
// The same, through a cache file: reused when it was made from the same
// tokenizer, videos and options; rewritten otherwise.
std::vector<ArSample> tokenize_cached(Model& tok, const ArConfig& cfg, const std::vector<Video>& videos,
                                      const TokenizeOptions& o, const std::string& cache_path);

// The training/evaluation sequence of a sample: class (or -1 = null), task
// (predict with the prefix, or generate without it), then the target blocks.
ArSequence sample_sequence(const ArConfig& cfg, const ArSample& s, int class_id, bool generate);

}  // namespace evatok
