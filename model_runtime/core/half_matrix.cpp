#include "core/half_matrix.h"

#include <cpuid.h>
#include <immintrin.h>

#include <cstring>

// GCC 12 warns about an uninitialized value inside its own AVX-512 intrinsics
// (_mm512_cvtph_ps, _mm512_reduce_add_ps): a false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace evatok {

uint16_t float_to_half(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);   // NaN
  if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);  // rounds to >= 65520: infinity
  if (ax < 0x38800000u) {                                    // below 2^-14: subnormal half (or zero)
    if (ax < 0x33000000u) return (uint16_t)sign;             // below half of the smallest subnormal
    const uint32_t m = (ax & 0x7fffffu) | 0x800000u;         // 24-bit significand
    const int shift = 126 - (int)(ax >> 23);                 // 14..24
    uint32_t h = m >> shift;
    const uint32_t rest = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rest > half || (rest == half && (h & 1))) ++h;
    return (uint16_t)(sign | h);
  }
  uint32_t h = ((ax - 0x38000000u) >> 13);  // rebias the exponent 127 -> 15
  const uint32_t rest = ax & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1))) ++h;  // a carry into the exponent is right
  return (uint16_t)(sign | h);
}

float half_to_float(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ffu;
  uint32_t x;
  if (e == 0x1f) {
    x = sign | 0x7f800000u | (m << 13);
  } else if (e) {
    x = sign | ((e + 112) << 23) | (m << 13);
  } else if (m) {  // subnormal: normalize
    int s = 0;
    uint32_t mm = m;
    while (!(mm & 0x400u)) mm <<= 1, ++s;
    x = sign | ((uint32_t)(113 - s) << 23) | ((mm & 0x3ffu) << 13);
  } else {
    x = sign;
  }
  float f;
  memcpy(&f, &x, 4);
  return f;
}

namespace {

bool has_avx512() { return (__builtin_cpu_init(), __builtin_cpu_supports("avx512f")); }
// F16C from CPUID leaf 1 (ECX bit 29): clang 14's __builtin_cpu_supports
// does not know "f16c". AVX's check includes the OS saving the registers.
bool has_f16c() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29)) && (__builtin_cpu_init(), __builtin_cpu_supports("avx"));
}
bool has_avx2_f16c() { return has_f16c() && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

// The CPU's conversion (F16C; round to nearest even, as float_to_half): a
// model's weights are converted each time a sampler starts.
__attribute__((target("f16c,avx"))) void to_half_f16c(const float* x, uint16_t* h, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128((__m128i*)(h + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; ++i) h[i] = float_to_half(x[i]);
}

}  // namespace

void floats_to_half(const float* x, uint16_t* h, int64_t n) {
  static const bool f16c = has_f16c();
  if (f16c) return to_half_f16c(x, h, n);
  for (int64_t i = 0; i < n; ++i) h[i] = float_to_half(x[i]);
}

HalfMatrix::HalfMatrix(const float* w, int64_t rows, int64_t cols)
    : w_((size_t)(rows * cols)), rows_(rows), cols_(cols) {
  floats_to_half(w, w_.data(), rows * cols);
}

namespace {

using Kernel = void (*)(const uint16_t*, const float*, int64_t, float*, int64_t, int64_t, int64_t, bool);

// The columns from `from` on of row wr (the vector kernels' tail), added to
// the partial sum s, into out (added to it when acc).
void finish_row(const uint16_t* wr, const float* x, int64_t from, int64_t cols, float s, float& out, bool acc) {
  for (int64_t i = from; i < cols; ++i) s += half_to_float(wr[i]) * x[i];
  out = acc ? out + s : s;
}

// x [n, cols], y [n, ld] (its first `rows` columns)
void apply_generic(const uint16_t* w, const float* x, int64_t n, float* y, int64_t ld, int64_t rows, int64_t cols,
                   bool acc) {
  for (int64_t r = 0; r < rows; ++r) {
    const uint16_t* wr = w + r * cols;
    for (int64_t v = 0; v < n; ++v) finish_row(wr, x + v * cols, 0, cols, 0.f, y[v * ld + r], acc);
  }
}

// Each vector kernel clears the upper halves of the vector registers
// (vzeroupper) before it hands over to scalar code: GCC 12 emits none in
// these target() functions, and with the upper state left dirty every
// legacy-SSE instruction after them pays for it. Measured on a Xeon (family 6
// model 207): libm's expf took 138 ns instead of 2 ns, and the AR step's
// softmax and SwiGLU made sampling 3x slower than it is.
//
// Four rows of w at a time, kept in L1 while every vector passes over them, so
// w is streamed from memory once whatever n is. The tail of a row (cols not a
// multiple of the vector width) and the last rows go through scalar code.
__attribute__((target("avx512f"))) void apply_avx512(const uint16_t* w, const float* x0, int64_t n, float* y0,
                                                     int64_t ld, int64_t rows, int64_t cols, bool acc) {
  const int64_t vec = cols / 16 * 16;
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4)
    for (int64_t v = 0; v < n; ++v) {
      const uint16_t* w0 = w + r * cols;
      const float* x = x0 + v * cols;
      float* y = y0 + v * ld;
      __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      for (int64_t i = 0; i < vec; i += 16) {
        const __m512 xv = _mm512_loadu_ps(x + i);
        a0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(w0 + i))), xv, a0);
        a1 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(w0 + cols + i))), xv, a1);
        a2 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(w0 + 2 * cols + i))), xv, a2);
        a3 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(w0 + 3 * cols + i))), xv, a3);
      }
      float s[4] = {_mm512_reduce_add_ps(a0), _mm512_reduce_add_ps(a1), _mm512_reduce_add_ps(a2),
                    _mm512_reduce_add_ps(a3)};
      for (int k = 0; k < 4; ++k) finish_row(w0 + k * cols, x, vec, cols, s[k], y[r + k], acc);
    }
  _mm256_zeroupper();  // before the scalar code (above)
  apply_generic(w + r * cols, x0, n, y0 + r, ld, rows - r, cols, acc);
}

__attribute__((target("avx2,f16c,fma"))) void apply_avx2(const uint16_t* w, const float* x0, int64_t n, float* y0,
                                                         int64_t ld, int64_t rows, int64_t cols, bool acc) {
  const int64_t vec = cols / 8 * 8;
  auto sum8 = [](__m256 v) __attribute__((target("avx2"))) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
  };
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4)
    for (int64_t v = 0; v < n; ++v) {
      const uint16_t* w0 = w + r * cols;
      const float* x = x0 + v * cols;
      float* y = y0 + v * ld;
      __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      for (int64_t i = 0; i < vec; i += 8) {
        const __m256 xv = _mm256_loadu_ps(x + i);
        a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(w0 + i))), xv, a0);
        a1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(w0 + cols + i))), xv, a1);
        a2 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(w0 + 2 * cols + i))), xv, a2);
        a3 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(w0 + 3 * cols + i))), xv, a3);
      }
      float s[4] = {sum8(a0), sum8(a1), sum8(a2), sum8(a3)};
      for (int k = 0; k < 4; ++k) finish_row(w0 + k * cols, x, vec, cols, s[k], y[r + k], acc);
    }
  _mm256_zeroupper();  // before the scalar code (above)
  apply_generic(w + r * cols, x0, n, y0 + r, ld, rows - r, cols, acc);
}

// y[cols] = sum over r of p[r] w[r, :]: blocks of 4 vectors of columns held
// in registers while the rows pass.
using Combine = void (*)(const uint16_t*, int64_t, int64_t, const float*, float*);

// Columns from `from` on, in plain code (the vector kernels' tail).
void combine_columns(const uint16_t* w, int64_t rows, int64_t cols, int64_t from, const float* p, float* y) {
  for (int64_t c = from; c < cols; ++c) {
    float a = 0;
    for (int64_t r = 0; r < rows; ++r) a += p[r] * half_to_float(w[r * cols + c]);
    y[c] = a;
  }
}

void combine_generic(const uint16_t* w, int64_t rows, int64_t cols, const float* p, float* y) {
  combine_columns(w, rows, cols, 0, p, y);
}

__attribute__((target("avx512f"))) void combine_avx512(const uint16_t* w, int64_t rows, int64_t cols, const float* p,
                                                       float* y) {
  int64_t c = 0;
  for (; c + 64 <= cols; c += 64) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t r = 0; r < rows; ++r) {
      const uint16_t* wr = w + r * cols + c;
      const __m512 pr = _mm512_set1_ps(p[r]);
      a0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)wr)), pr, a0);
      a1 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(wr + 16))), pr, a1);
      a2 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(wr + 32))), pr, a2);
      a3 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(wr + 48))), pr, a3);
    }
    _mm512_storeu_ps(y + c, a0);
    _mm512_storeu_ps(y + c + 16, a1);
    _mm512_storeu_ps(y + c + 32, a2);
    _mm512_storeu_ps(y + c + 48, a3);
  }
  _mm256_zeroupper();  // before the scalar code (above)
  combine_columns(w, rows, cols, c, p, y);
}

__attribute__((target("avx2,f16c,fma"))) void combine_avx2(const uint16_t* w, int64_t rows, int64_t cols,
                                                           const float* p, float* y) {
  int64_t c = 0;
  for (; c + 32 <= cols; c += 32) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t r = 0; r < rows; ++r) {
      const uint16_t* wr = w + r * cols + c;
      const __m256 pr = _mm256_set1_ps(p[r]);
      a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)wr)), pr, a0);
      a1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(wr + 8))), pr, a1);
      a2 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(wr + 16))), pr, a2);
      a3 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(wr + 24))), pr, a3);
    }
    _mm256_storeu_ps(y + c, a0);
    _mm256_storeu_ps(y + c + 8, a1);
    _mm256_storeu_ps(y + c + 16, a2);
    _mm256_storeu_ps(y + c + 24, a3);
  }
  _mm256_zeroupper();  // before the scalar code (above)
  combine_columns(w, rows, cols, c, p, y);
}

Combine pick_combine() {
  if (has_avx512()) return combine_avx512;
  if (has_avx2_f16c()) return combine_avx2;
  return combine_generic;
}

Kernel pick_kernel() {
  if (has_avx512()) return apply_avx512;
  if (has_avx2_f16c()) return apply_avx2;
  return apply_generic;
}

const Kernel kernel = pick_kernel();
const Combine combine = pick_combine();

}  // namespace

void half_rows_dot(const uint16_t* w, int64_t rows, int64_t cols, const float* x, float* y) {
  kernel(w, x, 1, y, rows, rows, cols, false);
}

void half_rows_combine(const uint16_t* w, int64_t rows, int64_t cols, const float* p, float* y) {
  combine(w, rows, cols, p, y);
}

void HalfMatrix::apply(const float* x, int64_t n, float* y, bool accumulate) const {
  kernel(w_.data(), x, n, y, rows_, rows_, cols_, accumulate);
}

}  // namespace evatok
