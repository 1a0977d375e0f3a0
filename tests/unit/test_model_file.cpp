// Hostile model files cost bounded memory and time (issue 26): a config that
// describes a far larger network than the file's tensors is refused before the
// network is built, as are non-finite weights and a JSON header nested deeper
// than a safetensors header ever is. Each file is valid in every other way
// (fingerprint included), so only the check under test can refuse it.
#include <torch/torch.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "ar/ar_model.h"
#include "core/module_file.h"
#include "core/safetensors.h"
#include "tokenizer/model.h"

static int failures = 0;

template <class F>
static void expect_error(const char* what, const char* needle, F&& f) {
  std::string msg = "(no error)";
  try {
    f();
  } catch (const std::exception& e) {
    msg = e.what();
  }
  const bool ok = msg.find(needle) != std::string::npos;
  printf("%s %s: %s\n", ok ? "ok:  " : "FAIL:", what, msg.c_str());
  failures += !ok;
}

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : ".";
  std::map<std::string, torch::Tensor> small = {{"w", torch::zeros({4, 4})}};

  // A tokenizer config within every per-field bound, but 64 layers of 4096
  // wide: about 4.3G parameters, against a file of 16 values.
  evatok::ModelConfig big;
  big.enc_dim = big.dec_dim = big.router_dim = 4096;
  big.enc_layers = big.dec_layers = big.router_layers = 64;
  big.enc_heads = big.dec_heads = big.router_heads = 8;
  const std::string tok_path = dir + "/hostile-huge-config.safetensors";
  evatok::save_module_file(tok_path, "evatok-model", "evatok.config", big.to_json(), small, {});
  expect_error("a tokenizer config far larger than its tensors", "describes a network of at least",
               [&] { evatok::Model::load(tok_path, torch::kCPU); });

  evatok::ArConfig ar;
  ar.dim = 4096, ar.layers = 64, ar.heads = 8, ar.mlp_hidden = 8192;
  const std::string ar_path = dir + "/hostile-huge-ar.safetensors";
  evatok::save_module_file(ar_path, "evatok-ar-model", "evatok.ar_config", ar.to_json(), small, {});
  expect_error("an AR config far larger than its tensors", "describes a network of at least",
               [&] { evatok::ArModel::load(ar_path, torch::kCPU); });

  evatok::TensorFile nan_file;
  auto t = torch::ones({8});
  t[3] = std::numeric_limits<float>::quiet_NaN();
  nan_file.tensors["w"] = t;
  const std::string nan_path = dir + "/hostile-nan.safetensors";
  evatok::save_safetensors(nan_path, nan_file);
  expect_error("a NaN weight", "non-finite", [&] { evatok::load_safetensors(nan_path); });
  nan_file.tensors["w"] = torch::full({8}, std::numeric_limits<float>::infinity());
  evatok::save_safetensors(nan_path, nan_file);
  expect_error("an infinite weight", "non-finite", [&] { evatok::load_safetensors(nan_path); });

  // {"a": [[[[...]]]]}: 100k levels, which a recursive reader would not survive.
  std::string header = "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  const std::string deep_path = dir + "/hostile-deep.safetensors";
  {
    std::ofstream f(deep_path, std::ios::binary);
    uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) f.put((char)(n >> (8 * i)));
    f << header;
  }
  expect_error("a JSON header nested 100000 deep", "nested deeper", [&] { evatok::load_safetensors(deep_path); });

  printf("%d failure(s)\n", failures);
  return failures ? 1 : 0;
}
