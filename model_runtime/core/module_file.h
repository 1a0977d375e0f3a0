// What the tokenizer and AR model files share: a torch module's tensors by
// name, and a safetensors file that holds them with a fingerprinted config.
#pragma once
#include <torch/torch.h>

#include <array>
#include <map>
#include <string>

#include "core/safetensors.h"

namespace evatok {

// Parameters and buffers of a module, by name.
std::map<std::string, torch::Tensor> module_tensors(const torch::nn::Module& m);
int64_t count_parameters(const torch::nn::Module& m);

// A model file opened for loading; `kind` names it in errors ("model",
// "AR model"). Errors throw std::runtime_error with the reason.
struct ModuleFile {
  ModuleFile(const std::string& path, const std::string& kind);  // reads the file
  // Checks the format, and that the content matches its fingerprint; sets
  // config_json and fp.
  void verify(const std::string& format, const std::string& config_key);
  // The two halves of verify: the format and the config's presence (cheap;
  // sets config_json), then the fingerprint (hashes every tensor; sets fp).
  void check_format(const std::string& format, const std::string& config_key);
  void check_fingerprint();
  // Metadata value; throws when it is missing.
  const std::string& meta(const std::string& key) const;
  // Copies every tensor into the module's tensor of the same name; throws on a
  // missing, misshapen or extra one.
  void copy_into(torch::nn::Module& m) const;
  // Throws unless the file holds at least min_params values: a config that
  // describes a far larger network than its tensors is refused before the
  // network is built (and allocated).
  void check_fits(double min_params) const;
  std::string path, kind;
  TensorFile file;
  std::string config_json;
  std::array<uint8_t, 16> fp{};
};

// Writes tensors + metadata with the config and its fingerprint under
// `config_key`; returns the fingerprint.
std::array<uint8_t, 16> save_module_file(const std::string& path, const std::string& format,
                                         const std::string& config_key, const std::string& config_json,
                                         std::map<std::string, torch::Tensor> tensors,
                                         std::map<std::string, std::string> metadata);

}  // namespace evatok
