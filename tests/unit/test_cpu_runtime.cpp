// The process-wide CPU settings of core/cpu_runtime.h: the caching allocator
// reuses freed blocks (and stays within bounds), one thread setting governs
// LibTorch and OpenBLAS, and OpenBLAS runs kernels that fit the CPU.
#include <dlfcn.h>
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

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

  // The codec's setting: LibTorch and OpenBLAS at one thread, the workers returned.
  CHECK(evatok::set_codec_threads(3) == 3 && torch::get_num_threads() == 1, "set_codec_threads(3): 3 workers, LibTorch 1");
  CHECK(evatok::set_codec_threads(0) == evatok::available_cores(), "set_codec_threads(0): every core");

  // for_each_parallel: every index once, on more than one thread when asked,
  // in inference mode, and the first exception comes back to the caller.
  for (int workers : {1, 2, 5}) {
    std::vector<std::atomic<int>> runs(7);
    std::vector<std::thread::id> who(7);
    bool inference = true;
    evatok::for_each_parallel(workers, 7, [&](int i) {
      ++runs[i];
      who[i] = std::this_thread::get_id();
      if (!c10::InferenceMode::is_enabled()) inference = false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    });
    bool once = true, other = false;
    for (int i = 0; i < 7; ++i) {
      once = once && runs[i] == 1;
      other = other || who[i] != std::this_thread::get_id();
    }
    CHECK(once && inference && (workers > 1) == other,
          "for_each_parallel(%d workers, 7 items): each item once, in inference mode, %s", workers,
          workers > 1 ? "some on another thread" : "all on the calling thread");
  }
  std::atomic<int> done{0};
  bool caught = false;
  try {
    evatok::for_each_parallel(2, 6, [&](int i) {
      if (i == 1) throw std::runtime_error("item 1");
      ++done;
    });
  } catch (const std::runtime_error& e) {
    caught = strcmp(e.what(), "item 1") == 0;
  }
  CHECK(caught && done < 6, "for_each_parallel: an item's exception reaches the caller (%d others ran)", done.load());
  evatok::for_each_parallel(2, 0, [&](int) { caught = false; });
  CHECK(caught, "for_each_parallel: no items, no calls");

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
