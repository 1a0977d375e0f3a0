// Hostile model files cost bounded memory and time (issue 26): a config that
// describes a far larger network than the file's tensors is refused before the
// network is built, as are non-finite weights and a JSON header nested deeper
// than a safetensors header ever is. Each file is valid in every other way
// (fingerprint included), so only the check under test can refuse it.
#include <torch/torch.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "ar/ar_model.h"
#include "core/module_file.h"
#include "core/safetensors.h"
#include "tokenizer/model.h"

static int failures = 0;

template <class F>
static void expect_error(const char* what, const char* needle, F&& f) {
  std::string msg = "(no error)";
  bool threw = false;
  try {
    f();
  } catch (const std::exception& e) {
    msg = e.what();
    threw = true;
  }
  const bool ok = threw && msg.find(needle) != std::string::npos;
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

  // Found by fuzz_model_file (2026-12-02): a head of 2^20 + 1 channels in a
  // file of the tiny model's size took 9.4 GB and 28 s before LibTorch
  // failed; 2 channels loaded but could never decode (the head's first three
  // channels are RGB); JSON true and 2^32 + 8 were read as 1 and 8.
  const std::string base = evatok::ModelConfig().to_json();
  auto with = [&](const char* key, const nlohmann::json& v) {
    auto j = nlohmann::json::parse(base);
    j[key] = v;
    return j.dump();
  };
  expect_error("head_channels 2^20 + 1", "head_channels must be in 3..256",
               [&] { evatok::ModelConfig::from_json(with("head_channels", (1 << 20) + 1)); });
  expect_error("head_channels 2", "head_channels must be in 3..256",
               [&] { evatok::ModelConfig::from_json(with("head_channels", 2)); });
  expect_error("stem_channels 512", "stem_channels must be in 1..256",
               [&] { evatok::ModelConfig::from_json(with("stem_channels", 512)); });
  expect_error("a 1024x1024 clip with 256 head channels", "at most 2^26",
               [&] {
                 auto j = nlohmann::json::parse(with("head_channels", 256));
                 j["clip_height"] = j["clip_width"] = 1024;
                 evatok::ModelConfig::from_json(j.dump());
               });
  expect_error("a boolean layer count", "must be an integer in range",
               [&] { evatok::ModelConfig::from_json(with("enc_layers", true)); });
  expect_error("clip_frames 2^32 + 16", "must be an integer in range",
               [&] { evatok::ModelConfig::from_json(with("clip_frames", 4294967312LL)); });
  expect_error("a choice of 2^32 + 8", "must be an integer in range",
               [&] { evatok::ModelConfig::from_json(with("choices", {4294967304LL, 4})); });
  expect_error("a fractional codebook size", "must be an integer in range",
               [&] { evatok::ModelConfig::from_json(with("codebook_size", 4096.5)); });
  expect_error("an AR width given as a string", "config field dim must be an integer",
               [&] {
                 auto j = nlohmann::json::parse(evatok::ArConfig().to_json());
                 j["dim"] = "256";
                 evatok::ArConfig::from_json(j.dump());
               });
  // The shipped configs still pass.
  for (const char* name : {"small.json", "small-carry.json", "sb.json"}) {
    const std::string path = std::string(EVATOK_CONFIG_DIR) + "/" + name;
    try {
      evatok::ModelConfig::from_file(path);
      printf("ok:   %s loads\n", name);
    } catch (const std::exception& e) {
      printf("FAIL: %s: %s\n", name, e.what());
      ++failures;
    }
  }

  printf("%d failure(s)\n", failures);
  return failures ? 1 : 0;
}
