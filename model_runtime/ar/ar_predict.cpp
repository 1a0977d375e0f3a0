#include "ar/ar_predict.h"

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

Tensor predict_clips(ArModel& ar, Model& tok, const Tensor& cond, const SampleParams& p, int64_t* sampled) {
  check_ar_tokenizer(ar, tok);
  auto prefixes = prefix_tokens(ar.cfg, tok, pad_condition(ar.cfg, cond));
  auto s = ar_sample(ar, prefixes, p);
  if (sampled) *sampled = s.sampled;
  return tok.decode(s.choices, s.tokens).to(torch::kCPU);
}

}  // namespace evatok
