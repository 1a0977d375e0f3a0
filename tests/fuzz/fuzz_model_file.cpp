// Fuzz target for the tokenizer model-file loader (core/safetensors.cpp,
// core/module_file.cpp, core/config.cpp, Model::load) through the C API's
// evatok_model_open, what `ffmpeg -model FILE` and `evatok info` trust.
// An input is a whole model file. It is opened as it is, and again with its
// fingerprint made valid, so that mutated configs and tensors reach the checks
// behind the integrity check. A file that opens must be usable: one tile-clip
// is encoded and decoded with it.
// libFuzzer build: scripts/fuzz.sh SECONDS model_file (docs/hardening.md).
// Without -DEVATOK_LIBFUZZER (the meson test): a deterministic driver mutates a
// tiny untrained model, with bounds on each input's memory and time.
#include <cstring>

#include "evatok/evatok.h"
#include "model_file_mutator.h"
#include "tokenizer/model.h"

namespace {

// Opens `path`; if it opens, checks its info and runs one encode + decode.
bool open_and_use(const std::string& path) {
  EvatokOpenOptions oo;
  evatok_open_options_default(&oo);
  oo.threads = 1;
  EvatokModel* m = nullptr;
  char err[512];
  if (evatok_model_open(path.c_str(), &oo, &m, err, sizeof err) != EVATOK_OK) {
    if (m || !err[0]) abort();  // a refusal says why and returns no model
    return false;
  }
  const EvatokModelInfo* in = evatok_model_get_info(m);
  if (in->num_blocks * in->patch_t != in->clip_frames || in->num_choices < 1 || in->codebook_size < 2) abort();
  for (int c = 1; c < in->num_choices; ++c)
    if (in->choices[c] >= in->choices[c - 1]) abort();
  // One clip at the tile size, or refused cleanly when the model is too large to try.
  const int w = in->clip_width, h = in->clip_height, n = in->clip_frames;
  if ((int64_t)w * h * n <= (int64_t)64 * 64 * 16) {
    std::vector<uint8_t> pix((size_t)w * h * 3 * n, 128);
    std::vector<EvatokImage> frames(n);
    for (int f = 0; f < n; ++f) {
      for (size_t i = 0; i < (size_t)w * h * 3; ++i) pix[(size_t)f * w * h * 3 + i] = (uint8_t)(i * 7 + f);
      frames[f] = EvatokImage{{pix.data() + (size_t)f * w * h * 3, nullptr, nullptr}, {w * 3, 0, 0}};
    }
    EvatokEncodeOptions eo;
    evatok_encode_options_default(&eo);
    if (!in->has_router) eo.mode = EVATOK_ASSIGN_UNIFORM, eo.uniform_tokens = in->choices[0];
    uint8_t* pkt = nullptr;
    size_t size = 0;
    if (evatok_encode_block(m, frames.data(), n, w, h, EVATOK_PIX_RGB24, &eo, &pkt, &size, err, sizeof err) != EVATOK_OK) {
      fprintf(stderr, "an accepted model encodes a clip: %s\n", err);
      abort();
    }
    int got = 0;
    if (evatok_decode_block(m, pkt, size, frames.data(), n, EVATOK_PIX_RGB24, &got, err, sizeof err) != EVATOK_OK ||
        got != n) {
      fprintf(stderr, "an accepted model decodes its own packet: %s\n", err);
      abort();
    }
    evatok_free(pkt);
  }
  evatok_model_close(&m);
  return true;
}

// True when either form of the input opened.
bool try_input(const uint8_t* data, size_t size) {
  const std::string path = fuzz::scratch_dir() + "/model.safetensors";
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
  evatok::Model m(evatok::ModelConfig::from_json(fuzz::kTinyConfig), 1);
  m.info["train.kind"] = "untrained";
  m.save(path);
  return path;
}

// fuzz_model_file [ITERATIONS] | fuzz_model_file --write-seed DIR
int main(int argc, char** argv) {
  if (argc > 2 && !strcmp(argv[1], "--write-seed")) {
    make_seed(std::string(argv[2]) + "/tiny.safetensors");
    return 0;
  }
  const long iters = argc > 1 ? atol(argv[1]) : 2000;
  const std::string seed = make_seed(fuzz::scratch_dir() + "/seed.safetensors");
  return fuzz::run_model_file_driver("fuzz_model_file", seed, iters, 1, try_input);
}
#endif
