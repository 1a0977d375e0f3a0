// Reading and writing the safetensors container (8-byte header length, JSON
// header with dtype/shape/offsets and a string->string "__metadata__", raw
// little-endian data). Every field is bounds-checked on read.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>

namespace evatok {

struct TensorFile {
  std::map<std::string, torch::Tensor> tensors;  // CPU tensors, owned
  std::map<std::string, std::string> metadata;
};

// Throws std::runtime_error with a message naming the problem.
TensorFile load_safetensors(const std::string& path);
void save_safetensors(const std::string& path, const TensorFile& file);

// 128-bit content fingerprint over the config text and the tensors (names,
// dtypes, shapes, bytes) in name order. Identifies a model; not cryptographic.
std::array<uint8_t, 16> fingerprint(const std::string& config_json,
                                    const std::map<std::string, torch::Tensor>& tensors);
std::string to_hex(const uint8_t* data, size_t n);

}  // namespace evatok
