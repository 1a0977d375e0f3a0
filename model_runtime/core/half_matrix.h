// A weight matrix stored as IEEE half floats for matrix-vector products
// with float vectors (float accumulation). A batch-1 step of a small
// transformer streams every weight once per token, so its speed is the memory
// bandwidth: half the bytes, twice the steps. Rounding a weight to half
// changes it by at most 2^-11 of its size (subnormals below 6e-5 lose more).
#pragma once
#include <cstdint>
#include <vector>

namespace evatok {

uint16_t float_to_half(float f);  // round to nearest even; overflow to infinity
float half_to_float(uint16_t h);
void floats_to_half(const float* x, uint16_t* h, int64_t n);  // the CPU's F16C where it has it

// On a plain [rows, cols] half array w: y[rows] = w x, and y[cols] = w^T p
// (a weighted sum of the rows: attention's values).
void half_rows_dot(const uint16_t* w, int64_t rows, int64_t cols, const float* x, float* y);
void half_rows_combine(const uint16_t* w, int64_t rows, int64_t cols, const float* p, float* y);

class HalfMatrix {
 public:
  HalfMatrix() = default;
  // w: [rows, cols] row-major float
  HalfMatrix(const float* w, int64_t rows, int64_t cols);
  // y[n, rows] = x[n, cols] W^T (+ y when accumulate): n vectors, W read once.
  void apply(const float* x, int64_t n, float* y, bool accumulate) const;
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }

 private:
  std::vector<uint16_t> w_;
  int64_t rows_ = 0, cols_ = 0;
};

}  // namespace evatok
