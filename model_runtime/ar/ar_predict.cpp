#include "ar/ar_predict.h"

#include <algorithm>

#include "core/safetensors.h"

namespace evatok {
using torch::Tensor;

void check_ar_tokenizer(const ArModel& ar, const Model& tok) {
  const std::string fp = to_hex(tok.codec_fp.data(), tok.codec_fp.size());
  if (!tok.answers_to(ar.cfg.tokenizer_fingerprint))
    throw ModelMismatch("the AR model was trained on the tokens of tokenizer " + ar.cfg.tokenizer_fingerprint +
                        ", but the tokenizer given is " + fp + " ('" + tok.cfg.name +
                        "'); use the AR model trained for this tokenizer (evatok train-ar) or the matching tokenizer");
  const auto& t = tok.cfg;
  if (t.codebook_size != ar.cfg.codebook_size || t.choices != ar.cfg.choices || t.num_blocks() != ar.cfg.num_blocks ||
      t.clip_frames != ar.cfg.clip_frames || t.clip_height != ar.cfg.clip_height || t.clip_width != ar.cfg.clip_width)
    throw ModelMismatch("the AR model's vocabulary or geometry differs from the tokenizer's");
}

Tensor pad_condition(const ArConfig& cfg, const Tensor& cond) {
  const int64_t c = cond.size(2);
  if (c < 1 || c > cfg.cond_frames) throw std::runtime_error("condition frame count out of range");
  auto x = cond;
  if (c < cfg.cond_frames)
    x = torch::cat({cond.slice(2, 0, 1).expand({-1, -1, cfg.cond_frames - c, -1, -1}), cond}, 2);
  return torch::cat({x, x.slice(2, cfg.cond_frames - 1, cfg.cond_frames)
                            .expand({-1, -1, cfg.clip_frames - cfg.cond_frames, -1, -1})},
                    2)
      .contiguous();
}

std::vector<int> prefix_assignment(const ArConfig& cfg) {
  std::vector<int> a(cfg.prefix_choices);
  a.resize(cfg.num_blocks, cfg.num_choices() - 1);
  return a;
}

std::vector<std::vector<int64_t>> prefix_tokens(const ArConfig& cfg, Model& tok, const Tensor& padded) {
  std::vector<Assignment> as(padded.size(0), prefix_assignment(cfg));
  auto toks = tok.encode(padded, as);
  for (auto& t : toks) t.resize(cfg.prefix_len());
  return toks;
}

std::vector<KnownBlocks> known_blocks(const ArConfig& cfg, Model& tok, const Tensor& padded) {
  const int nk = std::min(cfg.cond_frames / cfg.patch_t, cfg.num_blocks - 1);
  const int64_t n = padded.size(0);
  std::vector<KnownBlocks> out(n);
  if (nk <= 0) return out;
  std::vector<Assignment> as =
      tok.has_router ? tok.route(padded, kArTargetWq) : std::vector<Assignment>(n, prefix_assignment(cfg));
  for (auto& a : as) std::fill(a.begin() + nk, a.end(), cfg.num_choices() - 1);  // the rest is not used
  auto toks = tok.encode(padded, as);
  for (int64_t i = 0; i < n; ++i) {
    size_t len = 0;
    for (int b = 0; b < nk; ++b) len += cfg.choices[as[i][b]];
    out[i].choices.assign(as[i].begin(), as[i].begin() + nk);
    out[i].tokens.assign(toks[i].begin(), toks[i].begin() + len);
  }
  return out;
}

Tensor predict_clips(ArModel& ar, Model& tok, const Tensor& cond, const SampleParams& p, int64_t* sampled) {
  check_ar_tokenizer(ar, tok);
  const Tensor padded = pad_condition(ar.cfg, cond);
  auto prefixes = prefix_tokens(ar.cfg, tok, padded);
  std::vector<KnownBlocks> known;
  if (!p.sample_known) known = known_blocks(ar.cfg, tok, padded);
  auto s = ar_sample(ar, prefixes, p, p.sample_known ? nullptr : &known);
  if (sampled) *sampled = s.sampled;
  return tok.decode(s.choices, s.tokens).to(torch::kCPU);
}

}  // namespace evatok
