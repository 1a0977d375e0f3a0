// The process-wide CPU settings of core/cpu_runtime.h: the caching allocator
// reuses freed blocks (and stays within bounds), one thread setting governs
// LibTorch and OpenBLAS, and OpenBLAS runs kernels that fit the CPU.
#include <dlfcn.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstring>

#include "core/cpu_runtime.h"

static int failures = 0;
#define CHECK(cond, ...)                       \
  do {                                         \
    if (cond) {                                \
      printf("ok:   " __VA_ARGS__);            \
    } else {                                   \
      printf("FAIL: " __VA_ARGS__);            \
      ++failures;                              \
    }                                          \
    printf("\n");                              \
  } while (0)

int main() {
  evatok::init_cpu_runtime();
  evatok::init_cpu_runtime();  // a second call changes nothing

  // A freed 1 MiB block serves the next allocation of that size.
  const auto before = evatok::cpu_allocator_stats();
  void* first = nullptr;
  {
    auto t = torch::empty({256 * 1024});  // 1 MiB of float
    first = t.data_ptr();
  }
  auto t2 = torch::empty({256 * 1024});
  const auto after = evatok::cpu_allocator_stats();
  CHECK(t2.data_ptr() == first, "a freed 1 MiB block is reused (same address)");
  CHECK(after.reused > before.reused && after.allocations >= before.allocations + 2,
        "allocator counts: %llu large allocations, %llu reused", (unsigned long long)after.allocations,
        (unsigned long long)after.reused);
  CHECK(reinterpret_cast<uintptr_t>(t2.data_ptr()) % 64 == 0, "blocks are 64-byte aligned");
  auto small = torch::ones({3});
  auto empty = torch::empty({0});
  CHECK(small.sum().item<float>() == 3.f && empty.numel() == 0, "small and empty tensors work");
  // Many large blocks freed at once: what is kept stays under the bound.
  {
    std::vector<torch::Tensor> many;
    for (int i = 0; i < 40; ++i) many.push_back(torch::empty({4 * 1024 * 1024}));  // 16 MiB each
  }
  const auto bounded = evatok::cpu_allocator_stats();
  CHECK(bounded.cached_bytes <= (256u << 20), "cache bounded: %.0f MiB kept", bounded.cached_bytes / 1048576.0);
  bool threw = false;
  try {
    torch::empty({(int64_t)1 << 62}, torch::kUInt8);
  } catch (const std::exception&) {
    threw = true;
  }
  CHECK(threw, "an impossible allocation throws instead of crashing");

  // One thread setting: LibTorch gets n, OpenBLAS runs in the caller.
  using GetThreads = int (*)();
  const auto blas_threads = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  evatok::set_cpu_threads(2);
  CHECK(torch::get_num_threads() == 2, "set_cpu_threads(2): LibTorch has %d threads", torch::get_num_threads());
  if (blas_threads) CHECK(blas_threads() == 1, "set_cpu_threads(2): OpenBLAS has %d thread(s)", blas_threads());
  evatok::set_cpu_threads(0);
  CHECK(torch::get_num_threads() == evatok::available_cores(), "set_cpu_threads(0): every core (%d)",
        evatok::available_cores());

  // OpenBLAS's kernels fit the CPU: not its SSE3 fallback where AVX2 exists.
  using Name = char* (*)();
  const auto corename = reinterpret_cast<Name>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  __builtin_cpu_init();
  if (corename && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && !getenv("OPENBLAS_CORETYPE"))
    CHECK(strcmp(corename(), "Prescott") != 0, "OpenBLAS runs %s kernels on this AVX2 CPU", corename());
  auto a = torch::rand({64, 64}), b = torch::rand({64, 64});
  CHECK(torch::allclose(torch::mm(a, b), (a.unsqueeze(2) * b.unsqueeze(0)).sum(1), 1e-4, 1e-4),
        "matrix products still correct after the kernel switch");
  return failures ? 1 : 0;
}
