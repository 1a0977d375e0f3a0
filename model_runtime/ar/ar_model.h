// The autoregressive (AR) model over EVATok token sequences: a small
// Llama-style decoder-only transformer (RMSNorm, RoPE, SwiGLU, causal
// attention, KV cache), its vocabulary and sequence layout, and its file.
//
// Vocabulary (ids):
//   [0, K)               visual tokens (the tokenizer's codebook)
//   K + c                length token of choice c (a block of choices[c] tokens)
//   K + nc + i           class token i (classes[i])
//   K + nc + C           null class (unconditional; classifier-free guidance)
//   K + nc + C + 1       task "predict": prefix tokens of the condition frames follow
//   K + nc + C + 2       task "generate": no prefix
// Sequence: [class][task][prefix tokens (predict only)] then for every block
// b of the clip: [length token][k_b visual tokens]. Only the part after the
// prefix (length + visual tokens) is predicted, trained on and sampled.
#pragma once
#include <torch/torch.h>

#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace evatok {

class Model;

// The router rate (wq) of train-ar's target assignments by default; frame
// prediction codes the known blocks and eval-ar the ceiling at the same rate.
constexpr float kArTargetWq = 1.2f;

struct ArConfig {
  std::string name = "evatok-ar";
  int dim = 256, layers = 6, heads = 4, mlp_hidden = 512;
  float rope_theta = 10000.f;
  // Copied from the tokenizer the model is trained on (checked at load).
  int codebook_size = 4096, num_blocks = 4, patch_t = 4;
  int clip_frames = 16, clip_height = 64, clip_width = 64;
  std::vector<int> choices{128, 64, 32, 16, 8};
  std::string tokenizer_fingerprint;  // hex; the tokenizer whose tokens this model speaks
  // Class conditioning (names from the training corpus).
  std::vector<std::string> classes;
  // Frame prediction: cond_frames frames padded to prefix_choices.size()
  // blocks, encoded with this fixed per-block choice; those tokens are the prefix.
  int cond_frames = 5;
  std::vector<int> prefix_choices{0, 2};

  // vocabulary
  int num_choices() const { return (int)choices.size(); }
  int length_token(int c) const { return codebook_size + c; }
  int class_token(int i) const { return codebook_size + num_choices() + i; }
  int null_token() const { return class_token((int)classes.size()); }
  int task_predict() const { return null_token() + 1; }
  int task_generate() const { return null_token() + 2; }
  int vocab_size() const { return null_token() + 3; }
  bool is_length(int64_t t) const { return t >= codebook_size && t < codebook_size + num_choices(); }
  // layout
  int prefix_blocks() const { return (int)prefix_choices.size(); }
  int prefix_len() const;                                           // visual tokens in the prefix
  double min_parameters() const {  // attention weights and the embedding: a lower bound
    return 4.0 * dim * dim * layers + (double)vocab_size() * dim;
  }
  int max_choice() const { return choices.front(); }
  int max_target_len() const { return num_blocks * (1 + max_choice()); }
  int max_seq_len() const { return 2 + prefix_len() + max_target_len(); }
  int num_segments() const { return 1 + prefix_blocks() + num_blocks; }
  int class_index(const std::string& n) const;  // -1 if unknown

  void validate() const;  // throws std::runtime_error
  std::string to_json() const;
  static ArConfig from_json(const std::string& text);
  // Geometry, vocabulary and fingerprint of a tokenizer model.
  static ArConfig for_tokenizer(const Model& tok);
};

// Structural features of every input token, so the network knows where in
// the block structure it stands: segment (0: class/task, 1+p: prefix block p,
// 1+P+b: target block b), index inside the block (0: length token / special,
// j+1: visual token j) and choice of the block (nc for specials).
struct ArFeatures {
  std::vector<int64_t> seg, pos, choice;
  void push(int64_t s, int64_t p, int64_t c) { seg.push_back(s), pos.push_back(p), choice.push_back(c); }
  size_t size() const { return seg.size(); }
};

// One token sequence with its features; target marks the positions whose
// token is to be predicted (the length and visual tokens of the target blocks).
struct ArSequence {
  std::vector<int64_t> tokens;
  ArFeatures feat;
  std::vector<uint8_t> target;
};

// Prompt: [class][task][prefix]. prefix empty = generate task.
ArSequence ar_prompt(const ArConfig& cfg, int class_id, const std::vector<int64_t>& prefix);
// Appends a target block (length token + tokens) to a sequence.
void ar_append_block(const ArConfig& cfg, ArSequence& s, int block, int choice, const int64_t* tokens);

struct RMSNormImpl : torch::nn::Module {
  explicit RMSNormImpl(int dim);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight;
};
TORCH_MODULE(RMSNorm);

// Per-layer key/value cache, [B, H, max_len, dh] each.
struct KVCache {
  std::vector<torch::Tensor> k, v;
};

struct ArLayerImpl : torch::nn::Module {
  ArLayerImpl(const ArConfig& cfg);
  // x [B,T,D] at positions pos0..pos0+T-1; cos/sin [T, dh/2]. With a cache,
  // keys/values are stored at those positions and attention covers 0..pos0+T-1.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin, int64_t pos0,
                        torch::Tensor* cache_k, torch::Tensor* cache_v);
  int heads;
  RMSNorm n1{nullptr}, n2{nullptr};
  torch::nn::Linear qkv{nullptr}, wo{nullptr}, w1{nullptr}, w2{nullptr}, w3{nullptr};
};
TORCH_MODULE(ArLayer);

struct ArNetImpl : torch::nn::Module {
  explicit ArNetImpl(const ArConfig& cfg);
  // tokens/seg/pos/choice [B,T] int64 at positions pos0..; returns hidden [B,T,D].
  torch::Tensor forward(const torch::Tensor& tokens, const torch::Tensor& seg, const torch::Tensor& pos,
                        const torch::Tensor& choice, int64_t pos0, KVCache* cache);
  torch::Tensor logits(const torch::Tensor& hidden) { return head(norm(hidden)); }
  KVCache new_cache(int64_t batch) const;
  ArConfig cfg;
  torch::nn::Embedding tok_emb{nullptr}, seg_emb{nullptr}, pos_emb{nullptr}, choice_emb{nullptr};
  torch::nn::ModuleList layers;
  RMSNorm norm{nullptr};
  torch::nn::Linear head{nullptr};
  torch::Tensor rope_cos, rope_sin;  // [max_seq, dh/2], not saved (derived)
};
TORCH_MODULE(ArNet);

class ArModel {
 public:
  ArModel(const ArConfig& cfg, uint64_t seed, torch::Device device = torch::kCPU);
  // Loads and verifies an AR model file; throws std::runtime_error.
  static std::unique_ptr<ArModel> load(const std::string& path, torch::Device device);
  void save(const std::string& path);  // refreshes fp
  int64_t num_parameters() const;
  std::map<std::string, torch::Tensor> state() const;
  // Batch of sequences (padded to the longest) -> tensors on the device.
  struct Batch {
    torch::Tensor tokens, seg, pos, choice, target;  // [B, T]; target: bool, next-token positions
  };
  Batch collate(const std::vector<ArSequence>& seqs) const;
  // Mean cross-entropy (nats) of the target tokens and their count.
  std::pair<torch::Tensor, int64_t> loss(const Batch& b);

  ArConfig cfg;
  ArNet net{nullptr};
  torch::Device device;
  std::array<uint8_t, 16> fp{};
  std::map<std::string, std::string> info;  // training record (train.* metadata)

 private:
  // Without fingerprinting the random weights: load() replaces them at once.
  struct Unhashed {};
  ArModel(const ArConfig& cfg, uint64_t seed, torch::Device device, Unhashed);
};

}  // namespace evatok
