#include "core/module_file.h"

#include <stdexcept>

namespace evatok {

std::map<std::string, torch::Tensor> module_tensors(const torch::nn::Module& m) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : m.named_parameters()) out[p.key()] = p.value();
  for (const auto& b : m.named_buffers()) out[b.key()] = b.value();
  return out;
}

int64_t count_parameters(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

ModuleFile::ModuleFile(const std::string& p, const std::string& k) : path(p), kind(k), file(load_safetensors(p)) {}

void ModuleFile::verify(const std::string& format, const std::string& config_key) {
  check_format(format, config_key);
  check_fingerprint();
}

void ModuleFile::check_format(const std::string& format, const std::string& config_key) {
  if (meta("format") != format)
    throw std::runtime_error("'" + path + "' is not an evatok " + kind + " file (format " + meta("format") + ")");
  config_json = meta(config_key);
  meta("evatok.fingerprint");
}

void ModuleFile::check_fingerprint() {
  fp = fingerprint(config_json, file.tensors);
  if (to_hex(fp.data(), fp.size()) != meta("evatok.fingerprint"))
    throw std::runtime_error(kind + " file '" + path + "' is corrupt: its content does not match its fingerprint");
}

const std::string& ModuleFile::meta(const std::string& key) const {
  auto it = file.metadata.find(key);
  if (it == file.metadata.end())
    throw std::runtime_error("'" + path + "' is not an evatok " + kind + " file (no " + key + " metadata)");
  return it->second;
}

void ModuleFile::check_fits(double min_params) const {
  double have = 0;
  for (const auto& [name, t] : file.tensors) have += (double)t.numel();
  if (min_params > have)
    throw std::runtime_error(kind + " file '" + path + "': its config describes a network of at least " +
                             std::to_string((long long)min_params) + " parameters, but the file holds " +
                             std::to_string((long long)have) + " values");
}

void ModuleFile::copy_into(torch::nn::Module& m) const {
  torch::NoGradGuard ng;
  size_t matched = 0;
  for (auto& [name, t] : module_tensors(m)) {
    auto it = file.tensors.find(name);
    if (it == file.tensors.end()) throw std::runtime_error(kind + " file '" + path + "' lacks tensor " + name);
    if (it->second.sizes() != t.sizes())
      throw std::runtime_error(kind + " file '" + path + "': tensor " + name + " has the wrong shape for its config");
    t.copy_(it->second.to(t.dtype()));
    ++matched;
  }
  if (matched != file.tensors.size()) throw std::runtime_error(kind + " file '" + path + "' has unexpected tensors");
}

std::array<uint8_t, 16> save_module_file(const std::string& path, const std::string& format,
                                         const std::string& config_key, const std::string& config_json,
                                         std::map<std::string, torch::Tensor> tensors,
                                         std::map<std::string, std::string> metadata) {
  TensorFile f;
  f.tensors = std::move(tensors);
  auto fp = fingerprint(config_json, f.tensors);
  f.metadata = std::move(metadata);
  f.metadata["format"] = format;
  f.metadata["evatok.version"] = "1";
  f.metadata[config_key] = config_json;
  f.metadata["evatok.fingerprint"] = to_hex(fp.data(), fp.size());
  save_safetensors(path, f);
  return fp;
}

}  // namespace evatok
