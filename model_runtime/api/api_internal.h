// Shared by the C API sources (api.cpp, ar_api.cpp): the tokenizer handle and
// the error helpers. Not installed.
#pragma once
#include <torch/torch.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>

#include "bitstream/bitstream.h"
#include "bitstream/token_model.h"
#include "core/cpu_runtime.h"
#include "evatok/evatok.h"
#include "tokenizer/model.h"

struct EvatokModel {
  std::unique_ptr<evatok::Model> model;
  EvatokModelInfo info{};
  EvbsParams params{};      // params.entropy points at entropy below, or is NULL
  EvbsEntropy entropy{};    // view of model->entropy (bitstream v2's tables)
  int workers = 1;  // threads over a packet's batches of tiles (set_codec_threads)
  std::mutex lock;  // one inference at a time per handle
};

namespace evatok {

inline EvatokStatus set_err(char* err, size_t n, EvatokStatus st, const char* fmt, ...)
    __attribute__((format(printf, 4, 5)));
inline EvatokStatus set_err(char* err, size_t n, EvatokStatus st, const char* fmt, ...) {
  if (err && n) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
  }
  return st;
}

// Runs f, mapping exceptions to status codes + messages.
template <typename F>
EvatokStatus guarded(char* err, size_t n, F&& f) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return set_err(err, n, EVATOK_ERR_NO_MEMORY, "out of memory");
  } catch (const c10::Error& e) {
    return set_err(err, n, EVATOK_ERR_INTERNAL, "LibTorch error: %s", e.what_without_backtrace());
  } catch (const std::exception& e) {
    return set_err(err, n, EVATOK_ERR_INTERNAL, "%s", e.what());
  }
}

// The int a C caller stored in an enum field or argument: loading a value
// outside the enumeration as the C++ enum itself would be undefined behaviour.
template <class E>
int enum_value(const E& e) {
  static_assert(sizeof(E) == sizeof(int), "C API enums are int-sized");
  int v;
  memcpy(&v, &e, sizeof v);
  return v;
}

// The device named in opts ("cpu" when none); an error status if unusable.
EvatokStatus open_device(const EvatokOpenOptions* opts, torch::Device* dev, char* err, size_t n);

bool file_exists(const char* path);

// Loads a network file (Model or ArModel) for a handle: the file must exist,
// device and threads come from opts, and a file that does not load is
// EVATOK_ERR_MODEL_FORMAT. `what` names it in messages ("model", "AR model"),
// `hint` says how a host chooses another file. *workers (when given) gets
// the thread count for the handle's batches (set_codec_threads).
template <class M>
EvatokStatus load_network(const char* path, const char* what, const char* hint, const EvatokOpenOptions* opts,
                          std::unique_ptr<M>* out, char* err, size_t es, int* workers = nullptr) {
  if (!file_exists(path)) return set_err(err, es, EVATOK_ERR_IO, "%s file '%s' not found (%s)", what, path, hint);
  torch::Device device(torch::kCPU);
  if (EvatokStatus st = open_device(opts, &device, err, es)) return st;
  init_cpu_runtime();
  const int w = set_codec_threads(opts ? opts->threads : 0);
  if (workers) *workers = w;
  try {
    *out = M::load(path, device);
  } catch (const c10::Error& e) {
    return set_err(err, es, EVATOK_ERR_MODEL_FORMAT, "cannot load %s '%s': %s", what, path, e.what_without_backtrace());
  } catch (const std::runtime_error& e) {
    return set_err(err, es, EVATOK_ERR_MODEL_FORMAT, "%s", e.what());
  }
  return EVATOK_OK;
}

// Checks the pixel format (enum_value of the caller's) and that every plane
// of n frames has data.
EvatokStatus check_images(const EvatokImage* frames, int n, int fmt, char* err, size_t es);

}  // namespace evatok
