// Shared by the model-file fuzz targets (fuzz_model_file.cpp,
// fuzz_ar_model_file.cpp): scratch files, the fingerprint repair that lets a
// mutated file reach the checks behind the integrity check (as the packet
// target repairs CRCs), the mutations of the deterministic drivers, and the
// memory/time watch that turns an unbounded allocation into a failure.
#pragma once
#include <nlohmann/json.hpp>
#include <sys/resource.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "core/safetensors.h"
#include "evatok/evatok.h"
#include "tokenizer/model.h"

namespace fuzz {

// The tiny tokenizer of the seeds: 8 frames of 16x16, 18.2k parameters,
// untrained (a fixture for the loaders, never a model).
inline const char* kTinyConfig = R"({
  "name": "evatok-fuzz-tiny", "clip_frames": 8, "clip_height": 16, "clip_width": 16,
  "patch_t": 4, "patch_s": 8, "choices": [4, 2, 1], "codebook_size": 16, "code_dim": 2,
  "enc_dim": 8, "enc_layers": 1, "enc_heads": 1, "dec_dim": 8, "dec_layers": 1, "dec_heads": 1,
  "mlp_ratio": 1, "stem_channels": 2, "head_channels": 3,
  "router_dim": 8, "router_layers": 1, "router_heads": 1, "router_patch_s": 8, "temporal_carry": true})";

inline std::string scratch_dir() {
  static std::string dir;
  if (dir.empty()) {
    char t[] = "/tmp/fuzz-model-file-XXXXXX";
    if (!mkdtemp(t)) abort();
    dir = t;
  }
  return dir;
}

inline void write_bytes(const std::string& path, const uint8_t* d, size_t n) {
  FILE* f = fopen(path.c_str(), "wb");
  if (!f) abort();
  if (n && fwrite(d, 1, n, f) != n) abort();
  fclose(f);
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::vector<uint8_t> out;
  FILE* f = fopen(path.c_str(), "rb");
  if (!f) abort();
  int c;
  while ((c = fgetc(f)) != EOF) out.push_back((uint8_t)c);
  fclose(f);
  return out;
}

// The config key of an evatok module file, or "" when the file has neither.
inline std::string config_key(const evatok::TensorFile& f) {
  for (const char* k : {"evatok.config", "evatok.ar_config"})
    if (f.metadata.count(k)) return k;
  return "";
}

// Rewrites `path` with the fingerprint its content needs. False when the file
// is not a readable safetensors file with an evatok config (nothing to repair).
inline bool repair_fingerprint(const std::string& path) {
  evatok::TensorFile f;
  try {
    f = evatok::load_safetensors(path);
  } catch (const std::exception&) {
    return false;
  }
  const std::string key = config_key(f);
  if (key.empty()) return false;
  const auto fp = evatok::fingerprint(f.metadata[key], f.tensors);
  const std::string hex = evatok::to_hex(fp.data(), fp.size());
  if (f.metadata["evatok.fingerprint"] == hex) return false;  // already valid: as-is covered it
  f.metadata["evatok.fingerprint"] = hex;
  evatok::save_safetensors(path, f);
  return true;
}

// Values that sit on or past the bounds a config field can have.
inline nlohmann::json interesting_value(std::mt19937_64& rng) {
  static const nlohmann::json v[] = {0,       1,     -1,         2,       3,     4,     5,        7,
                                     8,       9,     16,         63,      64,    4095,  4096,     4097,
                                     65536,   1 << 20, (1 << 20) + 1, 2147483647, -2147483647 - 1,
                                     4294967296LL, 9007199254740993LL, 1e308, -1e308, 0.5, 1e-9,
                                     "x",     nullptr, true,     nlohmann::json::array(), nlohmann::json::object()};
  return v[rng() % (sizeof v / sizeof v[0])];
}

inline nlohmann::json interesting_array(std::mt19937_64& rng) {
  nlohmann::json a = nlohmann::json::array();
  const int n = (int)(rng() % 20);
  for (int i = 0; i < n; ++i) a.push_back(rng() % 3 ? nlohmann::json((int)(rng() % 300) - 20) : interesting_value(rng));
  return a;
}

// One structured mutation of a module file: a config field, a tensor, or the
// metadata, then saved with a valid fingerprint so the loader's later checks
// are what decide. The description says what was done (for failure reports).
inline std::string mutate_structured(const std::string& in_path, const std::string& out_path, std::mt19937_64& rng) {
  evatok::TensorFile f = evatok::load_safetensors(in_path);
  const std::string key = config_key(f);
  std::string what;
  const int kind = (int)(rng() % 10);
  if (kind < 6) {  // a config field
    auto j = nlohmann::json::parse(f.metadata[key]);
    std::vector<std::string> keys;
    for (auto& [k, v] : j.items()) keys.push_back(k);
    const std::string k = rng() % 8 ? keys[rng() % keys.size()] : std::string("unknown_field");
    const bool array = j.contains(k) && j[k].is_array();
    j[k] = array && rng() % 2 ? interesting_array(rng) : interesting_value(rng);
    if (rng() % 4 == 0) j.erase(keys[rng() % keys.size()]);
    what = "config " + k + " = " + j.value(k, nlohmann::json()).dump();
    f.metadata[key] = j.dump();
  } else if (kind < 9 && !f.tensors.empty()) {  // a tensor
    auto it = f.tensors.begin();
    std::advance(it, (long)(rng() % f.tensors.size()));
    const std::string name = it->first;
    switch (rng() % 5) {
      case 0: f.tensors.erase(it); what = "dropped tensor " + name; break;
      case 1: f.tensors["extra." + name] = torch::zeros({3}); what = "extra tensor"; break;
      case 2: it->second = torch::zeros({(int64_t)(rng() % 70) + 1}); what = "reshaped " + name; break;
      case 3: it->second = it->second.to(rng() % 2 ? torch::kFloat16 : torch::kInt64); what = "retyped " + name; break;
      default:
        it->second = it->second.clone();
        it->second.view({-1})[0] = rng() % 2 ? NAN : INFINITY;
        what = "non-finite value in " + name;
    }
  } else {  // the metadata
    f.metadata["format"] = rng() % 2 ? "evatok-model" : "evatok-ar-model";
    what = "format " + f.metadata["format"];
  }
  const auto fp = evatok::fingerprint(f.metadata[key], f.tensors);
  f.metadata["evatok.fingerprint"] = evatok::to_hex(fp.data(), fp.size());
  evatok::save_safetensors(out_path, f);
  return what;
}

// Byte edits, mostly inside the 8-byte length and the JSON header.
inline std::string mutate_bytes(std::vector<uint8_t>& b, std::mt19937_64& rng) {
  uint64_t hlen = 0;
  for (int i = 0; i < 8 && i < (int)b.size(); ++i) hlen |= (uint64_t)b[i] << (8 * i);
  const size_t region = rng() % 4 ? std::min<uint64_t>(b.size(), 8 + hlen) : b.size();
  const int edits = 1 + (int)(rng() % 4);
  for (int e = 0; e < edits && !b.empty(); ++e) {
    const size_t p = rng() % std::min(region, b.size());  // b may have shrunk
    switch (rng() % 5) {
      case 0: b[p] ^= (uint8_t)(1u << (rng() % 8)); break;
      case 1: b[p] = (uint8_t)rng(); break;
      case 2: b.resize(p + 1); break;
      case 3: b.insert(b.begin() + (long)p, (uint8_t)"0123456789[]{},:\"-e."[rng() % 20]); break;
      default: b.erase(b.begin() + (long)p); break;
    }
  }
  return "byte edits";
}

// Peak memory and time per input: a hostile file must cost bounded memory
// and time (issue 26). Returns false, with a message, past the limits.
struct Watch {
  long limit_mib;
  double limit_s;
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  static long peak_mib() {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
  }
  bool ok(const std::string& what, double* seconds = nullptr) const {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (seconds) *seconds = s;
    if (peak_mib() > limit_mib || s > limit_s) {
      fprintf(stderr, "input (%s) took %.2f s, peak memory %ld MiB (limits %.1f s, %ld MiB)\n", what.c_str(), s,
              peak_mib(), limit_s, limit_mib);
      return false;
    }
    return true;
  }
};

// The tiny tokenizer saved at `path` and opened through the C API (one
// thread), for the targets that need a tokenizer to open or decode with.
inline EvatokModel* open_tiny_tokenizer(const std::string& path) {
  evatok::Model t(evatok::ModelConfig::from_json(kTinyConfig), 1);
  t.info["train.kind"] = "untrained";
  t.save(path);
  EvatokOpenOptions oo;
  evatok_open_options_default(&oo);
  oo.threads = 1;
  EvatokModel* m = nullptr;
  char err[512];
  if (evatok_model_open(path.c_str(), &oo, &m, err, sizeof err) != EVATOK_OK) {
    fprintf(stderr, "the tiny tokenizer is refused: %s\n", err);
    abort();
  }
  return m;
}

// The deterministic driver of a model-file target: `iters` mutations of the
// file at `seed` (structured or byte edits, half each), each given to
// try_input under the Watch's bounds. Returns the process exit status.
template <class TryInput>
int run_model_file_driver(const char* name, const std::string& seed, long iters, uint64_t rng_seed,
                          TryInput&& try_input) {
  const std::vector<uint8_t> valid = read_bytes(seed);
  if (!try_input(valid.data(), valid.size())) {
    fprintf(stderr, "%s: the valid seed file is refused\n", name);
    return 1;
  }
  std::mt19937_64 rng(rng_seed);
  long accepted = 0;
  double slowest = 0;
  const std::string mutated = scratch_dir() + "/mutated.safetensors";
  for (long i = 0; i < iters; ++i) {
    std::string what;
    std::vector<uint8_t> in;
    if (rng() % 2) {
      what = mutate_structured(seed, mutated, rng);
      in = read_bytes(mutated);
    } else {
      in = valid;
      what = mutate_bytes(in, rng);
    }
    if (getenv("FUZZ_VERBOSE")) fprintf(stderr, "trying #%ld: %s\n", i, what.c_str());
    const Watch watch{1024, 10.0};
    const bool opened = try_input(in.data(), in.size());
    accepted += opened;
    if (opened && getenv("FUZZ_VERBOSE")) printf("opened #%ld: %s\n", i, what.c_str());
    double s = 0;
    if (!watch.ok("#" + std::to_string(i) + ": " + what, &s)) return 1;
    slowest = std::max(slowest, s);
  }
  printf("%s: %ld inputs, %ld opened, slowest %.3f s, peak memory %ld MiB\n", name, iters, accepted, slowest,
         Watch::peak_mib());
  return 0;
}

}  // namespace fuzz
