#include "data/ar_data.h"

#include <chrono>
#include <cstdio>
#include <set>
#include <sys/stat.h>

#include "ar/ar_predict.h"
#include "core/safetensors.h"

namespace evatok {
using torch::Tensor;

std::string clip_class(const std::string& path) {
  std::string n = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
  if (n.size() > 4 && n.substr(n.size() - 4) == ".y4m") n.resize(n.size() - 4);
  if (n.rfind("synth", 0) == 0) return "synth";
  const size_t d = n.find_last_of('-');
  return d == std::string::npos ? n : n.substr(d + 1);
}

std::vector<std::string> corpus_classes(const std::vector<Video>& videos) {
  std::set<std::string> s;
  for (const auto& v : videos) s.insert(clip_class(v.name));
  return {s.begin(), s.end()};
}

ArClipSource::ArClipSource(const std::vector<Video>& videos, const ArConfig& cfg, uint64_t seed)
    : videos_(videos), T_(cfg.clip_frames), H_(cfg.clip_height), W_(cfg.clip_width), rng_(seed) {
  if (videos_.empty()) throw std::runtime_error("no videos");
  for (const auto& v : videos_)
    if (v.width < W_ || v.height < H_) throw std::runtime_error(v.name + " is smaller than the clip size");
}

Tensor ArClipSource::sample(int n, std::vector<int>* idx) {
  std::vector<Tensor> out;
  for (int i = 0; i < n; ++i) {
    const int vi = (int)(rng_() % videos_.size());
    const auto& v = videos_[vi];
    const int F = (int)v.frames.size(0);
    const int start = F > T_ ? (int)(rng_() % (F - T_ + 1)) : 0;
    const int y = (int)(rng_() % (v.height - H_ + 1)), x = (int)(rng_() % (v.width - W_ + 1));
    const bool flip = rng_() & 1;
    auto t = torch::arange(start, start + T_, torch::kInt64).clamp_max(F - 1);
    auto c = v.frames.index_select(0, t).slice(1, y, y + H_).slice(2, x, x + W_);
    if (flip) c = c.flip({2});
    out.push_back(c.permute({3, 0, 1, 2}).to(torch::kFloat32).div(255.0).sub(0.5));
    if (idx) idx->push_back(vi);
  }
  return torch::stack(out);
}

std::vector<ArSample> tokenize_clips(Model& tok, const ArConfig& cfg, const std::vector<Video>& videos,
                                     const TokenizeOptions& o) {
  ArClipSource src(videos, cfg, o.seed);
  const bool router = o.assign == "router" && tok.has_router;
  if (o.assign == "router" && !tok.has_router)
    printf("note: tokenizer has no trained router; target assignments are drawn at random\n");
  else if (o.assign != "router" && o.assign != "random")
    throw std::runtime_error("unknown assignment mode '" + o.assign + "' (router or random)");
  std::mt19937_64 rng(o.seed * 31 + 7);
  std::vector<ArSample> out;
  const auto t0 = std::chrono::steady_clock::now();
  while ((int)out.size() < o.samples) {
    const int n = std::min(o.batch, o.samples - (int)out.size());
    std::vector<int> vids;
    auto x = src.sample(n, &vids);
    auto pre = prefix_tokens(cfg, tok, pad_condition(cfg, x.slice(2, 0, cfg.cond_frames)));
    std::vector<Assignment> as;
    if (router) {
      as = tok.route(x, o.wq);
    } else {
      for (int i = 0; i < n; ++i) {
        Assignment a(cfg.num_blocks);
        for (auto& c : a) c = (int)(rng() % cfg.num_choices());
        as.push_back(a);
      }
    }
    auto toks = tok.encode(x, as);
    for (int i = 0; i < n; ++i) {
      ArSample s;
      s.cls = cfg.class_index(clip_class(videos[vids[i]].name));
      s.prefix = pre[i];
      s.choices = as[i];
      s.tokens = toks[i];
      out.push_back(std::move(s));
    }
    const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if ((int)out.size() % (o.batch * 16) == 0 || (int)out.size() == o.samples) {
      printf("tokenizing %zu/%d clips, %.1f clips/s\n", out.size(), o.samples, out.size() / std::max(el, 1e-9));
      fflush(stdout);
    }
  }
  return out;
}

namespace {

std::string cache_key(const Model& tok, const ArConfig& cfg, const std::vector<Video>& videos,
                      const TokenizeOptions& o) {
  std::string k = to_hex(tok.fp.data(), 16) + "|" + std::to_string(o.samples) + "|" + std::to_string(o.seed) + "|" +
                  o.assign + "|" + std::to_string(o.wq) + "|" + std::to_string(cfg.cond_frames) + "|";
  for (int c : cfg.prefix_choices) k += std::to_string(c) + ",";
  for (const auto& c : cfg.classes) k += c + ",";
  for (const auto& v : videos)
    k += "|" + v.name.substr(v.name.find_last_of('/') + 1) + ":" + std::to_string(v.frames.size(0));
  return k;
}

Tensor rows_to_tensor(const std::vector<std::vector<int64_t>>& rows, int64_t width) {
  auto t = torch::full({(int64_t)rows.size(), width}, -1, torch::kInt32);
  auto a = t.accessor<int32_t, 2>();
  for (size_t i = 0; i < rows.size(); ++i)
    for (size_t j = 0; j < rows[i].size(); ++j) a[i][j] = (int32_t)rows[i][j];
  return t;
}

}  // namespace

std::vector<ArSample> tokenize_cached(Model& tok, const ArConfig& cfg, const std::vector<Video>& videos,
                                      const TokenizeOptions& o, const std::string& path) {
  const std::string key = cache_key(tok, cfg, videos, o);
  struct stat st;
  if (!path.empty() && stat(path.c_str(), &st) == 0) {
    try {
      TensorFile f = load_safetensors(path);
      if (f.metadata["ar_cache.key"] == key) {
        auto cls = f.tensors.at("cls"), pre = f.tensors.at("prefix"), ch = f.tensors.at("choices");
        auto tk = f.tensors.at("tokens");
        const int64_t N = cls.size(0);
        if (pre.size(0) != N || ch.size(0) != N || tk.size(0) != N || ch.size(1) != cfg.num_blocks ||
            pre.size(1) != cfg.prefix_len())
          throw std::runtime_error("inconsistent cache");
        std::vector<ArSample> out(N);
        auto ac = cls.accessor<int32_t, 1>();
        auto ap = pre.accessor<int32_t, 2>(), ah = ch.accessor<int32_t, 2>(), at = tk.accessor<int32_t, 2>();
        for (int64_t i = 0; i < N; ++i) {
          auto& s = out[i];
          s.cls = ac[i];
          for (int64_t j = 0; j < pre.size(1); ++j) s.prefix.push_back(ap[i][j]);
          int64_t len = 0;
          for (int64_t b = 0; b < cfg.num_blocks; ++b) {
            const int c = ah[i][b];
            if (c < 0 || c >= cfg.num_choices()) throw std::runtime_error("bad choice in cache");
            s.choices.push_back(c);
            len += cfg.choices[c];
          }
          if (len > tk.size(1)) throw std::runtime_error("bad token count in cache");
          for (int64_t j = 0; j < len; ++j) s.tokens.push_back(at[i][j]);
        }
        printf("token cache %s: %zu samples\n", path.c_str(), out.size());
        return out;
      }
      printf("token cache %s is stale (other tokenizer, data or options); re-tokenizing\n", path.c_str());
    } catch (const std::exception& e) {
      printf("token cache %s unreadable (%s); re-tokenizing\n", path.c_str(), e.what());
    }
  }
  auto out = tokenize_clips(tok, cfg, videos, o);
  if (!path.empty()) {
    TensorFile f;
    f.metadata["format"] = "evatok-ar-token-cache";
    f.metadata["ar_cache.key"] = key;
    std::vector<std::vector<int64_t>> pre, ch, tk;
    auto cls = torch::empty({(int64_t)out.size()}, torch::kInt32);
    for (size_t i = 0; i < out.size(); ++i) {
      cls[i] = out[i].cls;
      pre.push_back(out[i].prefix);
      ch.emplace_back(out[i].choices.begin(), out[i].choices.end());
      tk.push_back(out[i].tokens);
    }
    f.tensors["cls"] = cls;
    f.tensors["prefix"] = rows_to_tensor(pre, cfg.prefix_len());
    f.tensors["choices"] = rows_to_tensor(ch, cfg.num_blocks);
    f.tensors["tokens"] = rows_to_tensor(tk, (int64_t)cfg.num_blocks * cfg.max_choice());
    save_safetensors(path, f);
  }
  return out;
}

ArSequence sample_sequence(const ArConfig& cfg, const ArSample& s, int class_id, bool generate) {
  ArSequence seq = ar_prompt(cfg, class_id, generate ? std::vector<int64_t>() : s.prefix);
  size_t off = 0;
  for (int b = 0; b < cfg.num_blocks; ++b) {
    ar_append_block(cfg, seq, b, s.choices[b], s.tokens.data() + off);
    off += cfg.choices[s.choices[b]];
  }
  return seq;
}

}  // namespace evatok
