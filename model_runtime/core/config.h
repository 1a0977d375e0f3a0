// Model configuration: everything that defines a model's geometry and widths.
// Stored as JSON inside the model file, so a file is self-describing.
#pragma once
#include <string>
#include <vector>

namespace evatok {

struct ModelConfig {
  std::string name = "evatok";
  int clip_frames = 16, clip_height = 64, clip_width = 64;
  int patch_t = 4, patch_s = 8;
  std::vector<int> choices{128, 64, 32, 16, 8};  // tokens per block, descending
  int codebook_size = 4096, code_dim = 8;
  int enc_dim = 192, enc_layers = 3, enc_heads = 4;
  int dec_dim = 192, dec_layers = 4, dec_heads = 4;
  int mlp_ratio = 4, stem_channels = 32, head_channels = 32;
  int router_dim = 128, router_layers = 2, router_heads = 4, router_patch_s = 16;
  // What the router sees: "pixels" (the clip) or "motion" (the clip and
  // |frame - previous frame|, so still and moving versions of one picture differ
  // in its input, not only in fine texture a linear patch must learn to compare).
  std::string router_input = "pixels";
  // What the router predicts: "assignment" (published: a classifier over the
  // assignments, wq an input) or "quality" (each assignment's z-scored quality;
  // the pick is the argmax of wq*z(Q) - wl*z(L), so one prediction serves every wq).
  std::string router_target = "assignment";
  // Temporal carry: the decoder may copy the last frame of the previous block,
  // moved by a per-pixel flow and mixed in by a per-pixel gate, both from its
  // pixel head, so still or panning content costs few tokens.
  bool temporal_carry = false;
  // Proxy reward R = wq*z(Q) - wl*z(L); z-scoring statistics come from training.
  float reward_wq = 1.2f, reward_wl = 0.8f;
  float q_mean = 0.f, q_std = 1.f, l_mean = 0.f, l_std = 1.f;
  std::string reward_quality = "psnr";  // metric the statistics were taken with

  int num_blocks() const { return clip_frames / patch_t; }
  int grid_h() const { return clip_height / patch_s; }
  int grid_w() const { return clip_width / patch_s; }
  int patches_per_block() const { return grid_h() * grid_w(); }
  int max_choice() const { return choices.empty() ? 0 : choices.front(); }
  int num_assignments() const;  // choices^blocks
  // A lower bound on the parameters of the network this config describes
  // (attention weights and the codebook), checked against a file's tensors
  // before anything is allocated.
  double min_parameters() const;
  int bits_per_token() const;   // ceil(log2(codebook_size))
  // Assignment index <-> choice index per block (block 0 most significant).
  std::vector<int> assignment_choices(int assignment) const;
  int assignment_index(const std::vector<int>& choice_idx) const;
  int choice_index(int tokens) const;  // -1 if not a choice
  // Same candidate assignments (choices and blocks): routers and reward
  // statistics carry over between such configs.
  bool same_assignments(const ModelConfig& o) const { return choices == o.choices && num_blocks() == o.num_blocks(); }
  bool same_clip_geometry(const ModelConfig& o) const {
    return clip_frames == o.clip_frames && clip_height == o.clip_height && clip_width == o.clip_width;
  }

  // Throws std::runtime_error with a readable message on an invalid config.
  void validate() const;
  std::string to_json() const;
  // The part of the config that tokens and decoding depend on: without the
  // name, the router and the reward (see Model::codec_fp).
  std::string codec_json() const;
  static ModelConfig from_json(const std::string& text);  // validates
  static ModelConfig from_file(const std::string& path);
};

}  // namespace evatok
