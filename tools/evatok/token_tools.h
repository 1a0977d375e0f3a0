// Shared by `evatok tokenize` and `evatok detokenize`: the model through the C
// API (what the codec runs), and the frame rate as a fraction.
#pragma once
#include <cmath>
#include <stdexcept>
#include <string>

#include "evatok/evatok.h"

namespace evatok::cli {

inline EvatokModel* open_model(const std::string& path, int threads) {
  EvatokOpenOptions oo;
  evatok_open_options_default(&oo);
  oo.threads = threads;
  EvatokModel* m = nullptr;
  char err[512] = "";
  if (evatok_model_open(path.empty() ? nullptr : path.c_str(), &oo, &m, err, sizeof err))
    throw std::runtime_error(err);
  return m;
}

// 25 -> 25/1, 29.97 -> 30000/1001, 12.5 -> 25/2: the nearest of a few
// denominators, as containers want it.
inline void fps_fraction(double fps, int* num, int* den) {
  if (!(fps > 0) || fps > 1000) {
    *num = 25, *den = 1;
    return;
  }
  for (int d : {1, 1001, 2, 4, 1000}) {
    const double n = fps * d;
    if (std::fabs(n - std::round(n)) < 1e-3 * d) {
      *num = (int)std::lround(n), *den = d;
      return;
    }
  }
  *num = (int)std::lround(fps * 1000), *den = 1000;
}

}  // namespace evatok::cli
