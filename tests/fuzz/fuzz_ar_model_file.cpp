// Fuzz target for the AR model-file loader (ArModel::load: safetensors,
// config, the tokenizer it must match) through the C API's evatok_ar_open,
// what the evatok_predict filter trusts. An input is a whole AR model file,
// opened as it is and again with its fingerprint made valid (see
// model_file_mutator.h). A file that opens must sample: one greedy clip is
// generated with it.
// libFuzzer build: scripts/fuzz.sh SECONDS ar_model_file (docs/hardening.md).
// Without -DEVATOK_LIBFUZZER (the meson test): a deterministic driver mutates a
// tiny untrained AR model of a tiny untrained tokenizer.
#include <cstring>

#include "ar/ar_model.h"
#include "evatok/evatok.h"
#include "evatok/evatok_ar.h"
#include "model_file_mutator.h"
#include "tokenizer/model.h"

namespace {

// The tokenizer every input is opened against (made once, in the scratch folder).
EvatokModel* tokenizer() {
  static EvatokModel* m = fuzz::open_tiny_tokenizer(fuzz::scratch_dir() + "/tokenizer.safetensors");
  return m;
}

bool open_and_use(const std::string& path) {
  EvatokOpenOptions oo;
  evatok_open_options_default(&oo);
  oo.threads = 1;
  EvatokAr* ar = nullptr;
  char err[512];
  if (evatok_ar_open(path.c_str(), tokenizer(), &oo, &ar, err, sizeof err) != EVATOK_OK) {
    if (ar || !err[0]) abort();
    return false;
  }
  const EvatokArInfo* in = evatok_ar_get_info(ar);
  (void)in;
  const int w = 16, h = 16, n = 2;
  std::vector<uint8_t> pix((size_t)w * h * 3 * n);
  EvatokImage out[n];
  for (int f = 0; f < n; ++f) out[f] = EvatokImage{{pix.data() + (size_t)f * w * h * 3, nullptr, nullptr}, {w * 3, 0, 0}};
  EvatokSampleOptions so;
  evatok_sample_options_default(&so);
  so.temperature = 0;
  int64_t sampled = 0;
  if (evatok_ar_generate(ar, w, h, EVATOK_PIX_RGB24, &so, out, n, &sampled, err, sizeof err) != EVATOK_OK) {
    fprintf(stderr, "an accepted AR model generates a clip: %s\n", err);
    abort();
  }
  evatok_ar_close(&ar);
  return true;
}

bool try_input(const uint8_t* data, size_t size) {
  const std::string path = fuzz::scratch_dir() + "/ar.safetensors";
  fuzz::write_bytes(path, data, size);
  bool opened = open_and_use(path);
  if (fuzz::repair_fingerprint(path)) opened = open_and_use(path) || opened;
  return opened;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try_input(data, size);
  return 0;
}

#ifndef EVATOK_LIBFUZZER
static std::string make_seed(const std::string& path) {
  auto tok = evatok::Model::load(fuzz::scratch_dir() + "/tokenizer.safetensors", torch::kCPU);
  auto cfg = evatok::ArConfig::for_tokenizer(*tok);
  cfg.dim = 8, cfg.layers = 1, cfg.heads = 2, cfg.mlp_hidden = 16;
  cfg.classes = {"still", "pan"};
  evatok::ArModel m(cfg, 1);
  m.info["train.kind"] = "untrained";
  m.save(path);
  return path;
}

// fuzz_ar_model_file [ITERATIONS] | fuzz_ar_model_file --write-seed DIR
int main(int argc, char** argv) {
  tokenizer();
  if (argc > 2 && !strcmp(argv[1], "--write-seed")) {
    make_seed(std::string(argv[2]) + "/tiny-ar.safetensors");
    return 0;
  }
  const long iters = argc > 1 ? atol(argv[1]) : 2000;
  const std::string seed = make_seed(fuzz::scratch_dir() + "/seed.safetensors");
  return fuzz::run_model_file_driver("fuzz_ar_model_file", seed, iters, 2, try_input);
}
#endif
