// Bitstream version 2's probability tables (bitstream/token_model.h), as a
// model file keeps them: int32 tensors named entropy.*. They are not part of
// the codec fingerprint (tokens and decoding do not depend on them, so v1
// streams and AR models stay valid when tables are added); they have their
// own fingerprint, which v2 stream headers carry.
#pragma once

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bitstream/token_model.h"
#include "core/config.h"

namespace evatok {

struct EntropyTables {
  int num_blocks = 0, num_choices = 0, codebook_size = 0;
  uint32_t base_total = 0;
  std::vector<uint32_t> token_cum;   // [B*C][V+1]
  std::vector<uint32_t> count_w, prev_w, coloc_w;  // [B*C]
  std::vector<uint32_t> assign_cum;  // [B*(C+1)][C+1]
  std::array<uint8_t, 16> fp{};

  // The C view; valid while this object lives and is not changed.
  EvbsEntropy view() const;
  std::map<std::string, torch::Tensor> tensors() const;
  void refresh_fp();
  // Checks the tables against the config (shapes, every symbol a non-zero
  // probability, weight bounds); throws std::runtime_error with the reason.
  void check(const ModelConfig& cfg) const;

  // Moves the entropy.* tensors out of `tensors` into tables (none: nullopt);
  // throws on a malformed or mismatched set.
  static std::optional<EntropyTables> take(std::map<std::string, torch::Tensor>& tensors, const ModelConfig& cfg);
};

bool is_entropy_tensor(const std::string& name);

}  // namespace evatok
