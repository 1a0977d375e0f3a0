// core/half_matrix: float <-> half conversion (every half value, rounding at
// the edges), the matrix-vector product and the row helpers against float
// arithmetic, at sizes that leave tails for the vector kernels.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/half_matrix.h"

extern "C" {
#include <cmocka.h>
}

using namespace evatok;

static float bits_to_float(uint32_t x) {
  float f;
  memcpy(&f, &x, 4);
  return f;
}

static void test_conversion(void** state) {
  (void)state;
  // Every half that is not a NaN survives half -> float -> half.
  for (uint32_t h = 0; h < 0x10000u; ++h) {
    const float f = half_to_float((uint16_t)h);
    if (std::isnan(f)) {
      assert_true(((h >> 10) & 0x1f) == 0x1f && (h & 0x3ff));
      assert_true(std::isnan(half_to_float(float_to_half(f))));
      continue;
    }
    assert_int_equal(float_to_half(f), h);
  }
  assert_true(half_to_float(0x3c00) == 1.f);
  assert_true(half_to_float(0x0001) == std::ldexp(1.f, -24));  // smallest subnormal
  assert_true(half_to_float(0x7bff) == 65504.f);
  // Round to nearest, ties to even, in the normal and the subnormal range.
  assert_int_equal(float_to_half(1.f + std::ldexp(1.f, -11)), 0x3c00);                         // tie -> even
  assert_int_equal(float_to_half(1.f + 3 * std::ldexp(1.f, -11)), 0x3c02);                     // tie -> even
  assert_int_equal(float_to_half(1.f + std::ldexp(1.f, -11) + std::ldexp(1.f, -20)), 0x3c01);  // above the tie
  assert_int_equal(float_to_half(std::ldexp(1.f, -25)), 0x0000);                               // tie -> 0
  assert_int_equal(float_to_half(std::ldexp(1.5f, -25)), 0x0001);
  assert_int_equal(float_to_half(std::ldexp(3.f, -25)), 0x0002);  // 1.5 subnormal steps: tie -> even
  assert_int_equal(float_to_half(65519.f), 0x7bff);
  assert_int_equal(float_to_half(65520.f), 0x7c00);  // overflow rounds to infinity
  assert_int_equal(float_to_half(-1e30f), 0xfc00);
  assert_int_equal(float_to_half(bits_to_float(0x80000000u)), 0x8000);  // -0
  // The bulk conversion (F16C where the CPU has it) agrees with float_to_half,
  // ties, subnormals and overflow included.
  std::mt19937 gen(1);
  std::vector<float> f;
  for (int i = 0; i < 20000; ++i) {
    const uint32_t bits = gen();
    const uint32_t tie = (bits & 0xffffe000u) | 0x1000u;  // exactly between two halves (normal range)
    for (uint32_t b : {bits, tie})
      if (!std::isnan(bits_to_float(b))) f.push_back(bits_to_float(b));
  }
  for (float v : {std::ldexp(1.f, -25), std::ldexp(3.f, -25), 65519.f, 65520.f, -0.f}) f.push_back(v);
  std::vector<uint16_t> h(f.size());
  floats_to_half(f.data(), h.data(), (int64_t)f.size());
  for (size_t i = 0; i < f.size(); ++i) assert_int_equal(h[i], float_to_half(f[i]));
}

static void test_apply(void** state) {
  (void)state;
  std::mt19937 gen(3);
  std::normal_distribution<float> nd(0.f, 1.f);
  const int64_t sizes[][3] = {{7, 37, 3}, {64, 256, 1}, {5, 16, 2}, {1, 3, 1}, {12, 8, 4}, {33, 100, 5}};
  for (const auto& sz : sizes) {
    const int64_t rows = sz[0], cols = sz[1], n = sz[2];
    std::vector<float> w(rows * cols), x(n * cols), y(n * rows), y0(n * rows);
    for (auto& v : w) v = nd(gen);
    for (auto& v : x) v = nd(gen);
    for (auto& v : y0) v = nd(gen);
    HalfMatrix m(w.data(), rows, cols);
    assert_int_equal(m.rows(), rows);
    assert_int_equal(m.cols(), cols);
    for (bool acc : {false, true}) {
      y = y0;
      m.apply(x.data(), n, y.data(), acc);
      for (int64_t v = 0; v < n; ++v)
        for (int64_t r = 0; r < rows; ++r) {
          double exact = acc ? y0[v * rows + r] : 0, rounded = exact, mag = 0;
          for (int64_t i = 0; i < cols; ++i) {
            exact += (double)w[r * cols + i] * x[v * cols + i];
            rounded += (double)half_to_float(float_to_half(w[r * cols + i])) * x[v * cols + i];
            mag += std::fabs((double)w[r * cols + i] * x[v * cols + i]);
          }
          const double got = y[v * rows + r];
          assert_true(std::fabs(got - rounded) <= 1e-5 * (mag + 1));      // float accumulation of half weights
          assert_true(std::fabs(got - exact) <= std::ldexp(1.0, -11) * mag + 1e-5 * (mag + 1));  // the rounding
        }
    }
  }
}

// The attention helpers on raw half arrays: scores (rows dot x) and the
// weighted sum of rows, with column counts that leave vector tails.
static void test_rows(void** state) {
  (void)state;
  std::mt19937 gen(7);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (int64_t cols : {64, 8, 100, 3, 160}) {
    for (int64_t rows : {1, 5, 130}) {
      std::vector<uint16_t> w(rows * cols);
      for (auto& h : w) h = float_to_half(nd(gen));
      std::vector<float> x(cols), p(rows), dots(rows), sum(cols);
      for (auto& v : x) v = nd(gen);
      for (auto& v : p) v = std::fabs(nd(gen));
      half_rows_dot(w.data(), rows, cols, x.data(), dots.data());
      half_rows_combine(w.data(), rows, cols, p.data(), sum.data());
      for (int64_t r = 0; r < rows; ++r) {
        double want = 0, mag = 0;
        for (int64_t c = 0; c < cols; ++c) {
          want += (double)half_to_float(w[r * cols + c]) * x[c];
          mag += std::fabs((double)half_to_float(w[r * cols + c]) * x[c]);
        }
        assert_true(std::fabs(dots[r] - want) <= 1e-5 * (mag + 1));
      }
      for (int64_t c = 0; c < cols; ++c) {
        double want = 0, mag = 0;
        for (int64_t r = 0; r < rows; ++r) {
          want += (double)p[r] * half_to_float(w[r * cols + c]);
          mag += std::fabs((double)p[r] * half_to_float(w[r * cols + c]));
        }
        assert_true(std::fabs(sum[c] - want) <= 1e-5 * (mag + 1));
      }
    }
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
// XINUSE (XGETBV with ECX = 1): bit 2 = upper halves of ymm0-15, bit 6 = upper
// halves of zmm0-15 not in their initial (zero) state.
static bool read_xinuse(uint64_t* v) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27)) || !(c & (1u << 28))) return false;  // OSXSAVE, AVX
  if (__get_cpuid_max(0, nullptr) < 0xd) return false;
  __cpuid_count(0xd, 1, a, b, c, d);
  if (!(a & (1u << 2))) return false;  // XGETBV with ECX = 1
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(1));
  *v = ((uint64_t)hi << 32) | lo;
  return true;
}
#endif

// The vector kernels hand back clean upper register halves: left dirty, every
// legacy-SSE instruction after them (libm's expf in the AR step, for one) ran
// up to 60x slower on an Intel Xeon. Skipped where the CPU cannot say.
static void test_kernels_leave_upper_state_clean(void** state) {
  (void)state;
#if defined(__x86_64__) && defined(__GNUC__)
  uint64_t v = 0;
  const uint64_t upper = (1u << 2) | (1u << 6);
  if (!read_xinuse(&v)) skip();
  __asm__ volatile("vzeroupper");
  if (!read_xinuse(&v) || (v & upper)) skip();  // this CPU reports the state as in use anyway
  std::vector<float> w(37 * 100, 0.5f), x(3 * 100, 0.25f), y(3 * 37), p(37, 1.f), sum(100);
  HalfMatrix m(w.data(), 37, 100);
  m.apply(x.data(), 3, y.data(), false);
  read_xinuse(&v);
  assert_int_equal(v & upper, 0);
  std::vector<uint16_t> h(37 * 100, float_to_half(0.5f));
  half_rows_dot(h.data(), 37, 100, x.data(), y.data());
  read_xinuse(&v);
  assert_int_equal(v & upper, 0);
  half_rows_combine(h.data(), 37, 100, p.data(), sum.data());
  read_xinuse(&v);
  assert_int_equal(v & upper, 0);
  floats_to_half(w.data(), h.data(), (int64_t)h.size());
  read_xinuse(&v);
  assert_int_equal(v & upper, 0);
#else
  skip();
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_conversion), cmocka_unit_test(test_apply),
                                     cmocka_unit_test(test_rows), cmocka_unit_test(test_kernels_leave_upper_state_clean)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
