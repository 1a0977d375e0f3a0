#include "ar/ar_model.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "tokenizer/model.h"
#include "core/json_fields.h"
#include "core/module_file.h"

namespace evatok {
using json = nlohmann::json;
using torch::Tensor;

// ------------------------------------------------------------------ config
int ArConfig::prefix_len() const {
  int n = 0;
  for (int c : prefix_choices) n += choices.at(c);
  return n;
}

int ArConfig::class_index(const std::string& n) const {
  for (size_t i = 0; i < classes.size(); ++i)
    if (classes[i] == n) return (int)i;
  return -1;
}

static void check_ar(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("invalid AR model config: " + what);
}

void ArConfig::validate() const {
  check_ar(dim >= 8 && dim <= 4096 && heads >= 1 && dim % heads == 0 && (dim / heads) % 2 == 0,
        "dim must be in 8..4096, divisible by heads, with an even head size");
  check_ar(layers >= 1 && layers <= 64, "layers must be in 1..64");
  check_ar(mlp_hidden >= 8 && mlp_hidden <= 16384, "mlp_hidden must be in 8..16384");
  check_ar(rope_theta > 1, "rope_theta must be > 1");
  check_ar(codebook_size >= 2 && codebook_size <= (1 << 20), "codebook_size must be in 2..2^20");
  check_ar(num_blocks >= 1 && num_blocks <= 16 && patch_t >= 1 && clip_frames == num_blocks * patch_t,
        "clip_frames must be num_blocks * patch_t (at most 16 blocks)");
  check_ar(clip_height >= 1 && clip_width >= 1 && clip_height <= 1024 && clip_width <= 1024, "bad clip size");
  check_ar(!choices.empty() && choices.size() <= 8, "1..8 choices");
  for (size_t i = 0; i < choices.size(); ++i) {
    check_ar(choices[i] >= 1 && choices[i] <= 4096, "choices must be in 1..4096");
    if (i) check_ar(choices[i] < choices[i - 1], "choices must be strictly descending");
  }
  check_ar(classes.size() <= 1024, "at most 1024 classes");
  std::set<std::string> uniq(classes.begin(), classes.end());
  check_ar(uniq.size() == classes.size(), "class names must be unique");
  check_ar(prefix_choices.size() >= 1 && (int)prefix_choices.size() < num_blocks,
        "prefix must cover 1..num_blocks-1 blocks");
  for (int c : prefix_choices) check_ar(c >= 0 && c < (int)choices.size(), "prefix choice out of range");
  check_ar(cond_frames >= 1 && cond_frames <= prefix_blocks() * patch_t,
        "cond_frames must fit into the prefix blocks");
  check_ar(max_seq_len() <= 65536, "sequence too long");
}

// Every stored field, once (core/json_fields.h).
template <class C, class F>
static void visit_ar_fields(C& c, F&& f) {
  f("name", c.name), f("dim", c.dim), f("layers", c.layers), f("heads", c.heads), f("mlp_hidden", c.mlp_hidden);
  f("rope_theta", c.rope_theta), f("codebook_size", c.codebook_size), f("num_blocks", c.num_blocks);
  f("patch_t", c.patch_t), f("clip_frames", c.clip_frames), f("clip_height", c.clip_height);
  f("clip_width", c.clip_width), f("choices", c.choices), f("tokenizer_fingerprint", c.tokenizer_fingerprint);
  f("classes", c.classes), f("cond_frames", c.cond_frames), f("prefix_choices", c.prefix_choices);
}

std::string ArConfig::to_json() const {
  json j = json::object();
  visit_ar_fields(*this, JsonFieldWriter{j});
  return j.dump();
}

ArConfig ArConfig::from_json(const std::string& text) {
  ArConfig c;
  try {
    json j = json::parse(text);
    if (!j.is_object()) throw std::runtime_error("AR config is not a JSON object");
    visit_ar_fields(c, JsonFieldReader{j});
  } catch (const json::exception& e) {
    throw std::runtime_error(std::string("invalid AR model config JSON: ") + e.what());
  }
  c.validate();
  return c;
}

ArConfig ArConfig::for_tokenizer(const Model& tok) {
  ArConfig c;
  const auto& t = tok.cfg;
  c.codebook_size = t.codebook_size;
  c.num_blocks = t.num_blocks();
  c.patch_t = t.patch_t;
  c.clip_frames = t.clip_frames;
  c.clip_height = t.clip_height;
  c.clip_width = t.clip_width;
  c.choices = t.choices;
  c.tokenizer_fingerprint = to_hex(tok.codec_fp.data(), tok.codec_fp.size());
  // Published frame prediction: 5 frames padded to two blocks, encoded with
  // (largest, middle) choice. Fewer blocks/frames for short clips.
  const int pb = std::max(1, std::min(2, c.num_blocks - 1));
  c.prefix_choices = {0};
  if (pb == 2) c.prefix_choices.push_back((int)c.choices.size() / 2);
  c.cond_frames = std::min(5, pb * c.patch_t);
  return c;
}

// ------------------------------------------------------------------ sequences
ArSequence ar_prompt(const ArConfig& cfg, int class_id, const std::vector<int64_t>& prefix) {
  ArSequence s;
  const int nc = cfg.num_choices();
  s.tokens.push_back(class_id >= 0 ? cfg.class_token(class_id) : cfg.null_token());
  s.tokens.push_back(prefix.empty() ? cfg.task_generate() : cfg.task_predict());
  s.feat.push(0, 0, nc);
  s.feat.push(0, 0, nc);
  if (!prefix.empty()) {
    if ((int)prefix.size() != cfg.prefix_len()) throw std::runtime_error("prefix has the wrong length");
    size_t i = 0;
    for (int p = 0; p < cfg.prefix_blocks(); ++p)
      for (int j = 0; j < cfg.choices[cfg.prefix_choices[p]]; ++j, ++i) {
        s.tokens.push_back(prefix[i]);
        s.feat.push(1 + p, j + 1, cfg.prefix_choices[p]);
      }
  }
  s.target.assign(s.tokens.size(), 0);
  return s;
}

void ar_append_block(const ArConfig& cfg, ArSequence& s, int block, int choice, const int64_t* tokens) {
  const int64_t seg = 1 + cfg.prefix_blocks() + block;
  s.tokens.push_back(cfg.length_token(choice));
  s.feat.push(seg, 0, choice);
  s.target.push_back(1);
  for (int j = 0; j < cfg.choices[choice]; ++j) {
    s.tokens.push_back(tokens[j]);
    s.feat.push(seg, j + 1, choice);
    s.target.push_back(1);
  }
}

// ------------------------------------------------------------------ network
RMSNormImpl::RMSNormImpl(int dim) { weight = register_parameter("weight", torch::ones({dim})); }

Tensor RMSNormImpl::forward(const Tensor& x) {
  return x * torch::rsqrt(x.pow(2).mean(-1, true) + 1e-6) * weight;
}

ArLayerImpl::ArLayerImpl(const ArConfig& cfg) : heads(cfg.heads) {
  const int D = cfg.dim, H = cfg.mlp_hidden;
  auto lin = [](int i, int o) { return torch::nn::Linear(torch::nn::LinearOptions(i, o).bias(false)); };
  n1 = register_module("n1", RMSNorm(D));
  n2 = register_module("n2", RMSNorm(D));
  qkv = register_module("qkv", lin(D, 3 * D));
  wo = register_module("wo", lin(D, D));
  w1 = register_module("w1", lin(D, H));
  w3 = register_module("w3", lin(D, H));
  w2 = register_module("w2", lin(H, D));
}

// Rotates pairs (x[2i], x[2i+1]) of the last dim by the position's angles.
static Tensor rope(const Tensor& x, const Tensor& cos, const Tensor& sin) {
  auto xp = x.unflatten(-1, {x.size(-1) / 2, 2});
  auto a = xp.select(-1, 0), b = xp.select(-1, 1);
  return torch::stack({a * cos - b * sin, a * sin + b * cos}, -1).flatten(-2);
}

Tensor ArLayerImpl::forward(const Tensor& x, const Tensor& cos, const Tensor& sin, int64_t pos0, Tensor* ck,
                            Tensor* cv) {
  const int64_t B = x.size(0), T = x.size(1), D = x.size(2), dh = D / heads;
  auto h = qkv(n1(x)).view({B, T, 3, heads, dh}).permute({2, 0, 3, 1, 4});  // [3,B,H,T,dh]
  auto q = rope(h[0], cos, sin), k = rope(h[1], cos, sin), v = h[2];
  if (ck) {
    ck->slice(2, pos0, pos0 + T).copy_(k);
    cv->slice(2, pos0, pos0 + T).copy_(v);
    k = ck->slice(2, 0, pos0 + T);
    v = cv->slice(2, 0, pos0 + T);
  }
  auto att = torch::matmul(q, k.transpose(-2, -1)) * (1.0 / std::sqrt((double)dh));
  if (T > 1) {  // causal: query pos0+i sees keys 0..pos0+i
    const int64_t S = k.size(2);
    auto qi = torch::arange(pos0, pos0 + T, torch::TensorOptions().dtype(torch::kInt64).device(x.device()));
    auto ki = torch::arange(S, torch::TensorOptions().dtype(torch::kInt64).device(x.device()));
    att = att.masked_fill(ki.view({1, S}) > qi.view({T, 1}), -std::numeric_limits<float>::infinity());
  }
  auto o = torch::matmul(torch::softmax(att, -1), v).transpose(1, 2).reshape({B, T, D});
  auto y = x + wo(o);
  auto m = n2(y);
  return y + w2(torch::silu(w1(m)) * w3(m));
}

ArNetImpl::ArNetImpl(const ArConfig& c) : cfg(c) {
  const int D = cfg.dim;
  tok_emb = register_module("tok_emb", torch::nn::Embedding(cfg.vocab_size(), D));
  seg_emb = register_module("seg_emb", torch::nn::Embedding(cfg.num_segments(), D));
  pos_emb = register_module("pos_emb", torch::nn::Embedding(cfg.max_choice() + 1, D));
  choice_emb = register_module("choice_emb", torch::nn::Embedding(cfg.num_choices() + 1, D));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int i = 0; i < cfg.layers; ++i) layers->push_back(ArLayer(cfg));
  norm = register_module("norm", RMSNorm(D));
  head = register_module("head", torch::nn::Linear(torch::nn::LinearOptions(D, cfg.vocab_size()).bias(false)));
  {
    torch::NoGradGuard ng;
    for (auto& p : parameters())
      if (p.dim() == 2) p.normal_(0, 0.02);
    // Residual projections scaled down with depth (GPT-2 style).
    for (auto& m : *layers) {
      auto* l = m->as<ArLayer>();
      l->wo->weight.mul_(1.0 / std::sqrt(2.0 * cfg.layers));
      l->w2->weight.mul_(1.0 / std::sqrt(2.0 * cfg.layers));
    }
  }
  const int64_t half = D / cfg.heads / 2, S = cfg.max_seq_len();
  auto inv = torch::pow((double)cfg.rope_theta, -torch::arange(half, torch::kFloat64) / (double)half);
  auto ang = torch::arange(S, torch::kFloat64).unsqueeze(1) * inv.unsqueeze(0);
  rope_cos = ang.cos().to(torch::kFloat32);
  rope_sin = ang.sin().to(torch::kFloat32);
}

KVCache ArNetImpl::new_cache(int64_t batch) const {
  KVCache c;
  const int64_t dh = cfg.dim / cfg.heads;
  auto opt = tok_emb->weight.options();
  for (int i = 0; i < cfg.layers; ++i) {
    c.k.push_back(torch::zeros({batch, cfg.heads, cfg.max_seq_len(), dh}, opt));
    c.v.push_back(torch::zeros({batch, cfg.heads, cfg.max_seq_len(), dh}, opt));
  }
  return c;
}

Tensor ArNetImpl::forward(const Tensor& tokens, const Tensor& seg, const Tensor& pos, const Tensor& choice,
                          int64_t pos0, KVCache* cache) {
  const int64_t T = tokens.size(1);
  if (pos0 < 0 || pos0 + T > cfg.max_seq_len()) throw std::runtime_error("AR sequence longer than the model allows");
  if (rope_cos.device() != tokens.device()) {
    rope_cos = rope_cos.to(tokens.device());
    rope_sin = rope_sin.to(tokens.device());
  }
  auto cos = rope_cos.slice(0, pos0, pos0 + T), sin = rope_sin.slice(0, pos0, pos0 + T);
  auto x = tok_emb(tokens) + seg_emb(seg) + pos_emb(pos) + choice_emb(choice);
  int i = 0;
  for (auto& m : *layers) {
    x = m->as<ArLayer>()->forward(x, cos, sin, pos0, cache ? &cache->k[i] : nullptr, cache ? &cache->v[i] : nullptr);
    ++i;
  }
  return x;
}

// ------------------------------------------------------------------ model
ArModel::ArModel(const ArConfig& c, uint64_t seed, torch::Device dev, Unhashed) : cfg(c), device(dev) {
  cfg.validate();
  torch::manual_seed(seed);
  net = ArNet(cfg);
  net->to(device);
  net->eval();
}

ArModel::ArModel(const ArConfig& c, uint64_t seed, torch::Device dev) : ArModel(c, seed, dev, Unhashed{}) {
  fp = fingerprint(cfg.to_json(), state());
}

std::map<std::string, Tensor> ArModel::state() const { return module_tensors(*net); }

int64_t ArModel::num_parameters() const { return count_parameters(*net); }

void ArModel::save(const std::string& path) {
  auto meta = info;
  meta["evatok.tokenizer_fingerprint"] = cfg.tokenizer_fingerprint;
  fp = save_module_file(path, "evatok-ar-model", "evatok.ar_config", cfg.to_json(), state(), meta);
}

std::unique_ptr<ArModel> ArModel::load(const std::string& path, torch::Device device) {
  ModuleFile f(path, "AR model");
  if (f.meta("format") == "evatok-model")
    throw std::runtime_error("'" + path + "' is a tokenizer model, not an AR model (pass it as the tokenizer)");
  f.verify("evatok-ar-model", "evatok.ar_config");
  const ArConfig cfg = ArConfig::from_json(f.config_json);
  f.check_fits(cfg.min_parameters());
  std::unique_ptr<ArModel> m(new ArModel(cfg, 0, torch::kCPU, Unhashed{}));
  f.copy_into(*m->net);
  m->fp = f.fp;
  for (auto& [k, v] : f.file.metadata)
    if (k.rfind("train.", 0) == 0) m->info[k] = v;
  m->device = device;
  m->net->to(device);
  m->net->eval();
  return m;
}

ArModel::Batch ArModel::collate(const std::vector<ArSequence>& seqs) const {
  size_t T = 0;
  for (const auto& s : seqs) T = std::max(T, s.tokens.size());
  const int64_t B = (int64_t)seqs.size();
  auto opt = torch::TensorOptions().dtype(torch::kInt64);
  Batch b;
  b.tokens = torch::zeros({B, (int64_t)T}, opt);
  b.seg = torch::zeros({B, (int64_t)T}, opt);
  b.pos = torch::zeros({B, (int64_t)T}, opt);
  b.choice = torch::full({B, (int64_t)T}, cfg.num_choices(), opt);
  b.target = torch::zeros({B, (int64_t)T}, torch::kBool);
  for (int64_t i = 0; i < B; ++i) {
    const auto& s = seqs[i];
    const int64_t n = (int64_t)s.tokens.size();
    b.tokens[i].slice(0, 0, n).copy_(torch::tensor(s.tokens, opt));
    b.seg[i].slice(0, 0, n).copy_(torch::tensor(s.feat.seg, opt));
    b.pos[i].slice(0, 0, n).copy_(torch::tensor(s.feat.pos, opt));
    b.choice[i].slice(0, 0, n).copy_(torch::tensor(s.feat.choice, opt));
    std::vector<int64_t> t(s.target.begin(), s.target.end());
    b.target[i].slice(0, 0, n).copy_(torch::tensor(t, opt).to(torch::kBool));
  }
  b.tokens = b.tokens.to(device);
  b.seg = b.seg.to(device);
  b.pos = b.pos.to(device);
  b.choice = b.choice.to(device);
  b.target = b.target.to(device);
  return b;
}

std::pair<Tensor, int64_t> ArModel::loss(const Batch& b) {
  const int64_t T = b.tokens.size(1);
  auto h = net->forward(b.tokens, b.seg, b.pos, b.choice, 0, nullptr);
  auto mask = b.target.slice(1, 1, T);  // token i+1 is predicted at position i
  auto hs = h.slice(1, 0, T - 1).masked_select(mask.unsqueeze(-1)).view({-1, cfg.dim});
  auto labels = b.tokens.slice(1, 1, T).masked_select(mask);
  // Structure masks as at sampling: a length position allows only length
  // tokens, a visual position only visual tokens (the label says which).
  const int64_t K = cfg.codebook_size, nc = cfg.num_choices();
  auto ids = torch::arange(cfg.vocab_size(), labels.options()).unsqueeze(0);
  auto is_len = (labels >= K).unsqueeze(1);
  auto allowed = torch::where(is_len, (ids >= K) & (ids < K + nc), ids < K);
  auto logits = net->logits(hs).masked_fill(allowed.logical_not(), -1e9);
  return {torch::nn::functional::cross_entropy(logits, labels), labels.size(0)};
}

}  // namespace evatok
