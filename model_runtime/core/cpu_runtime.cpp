#include "core/cpu_runtime.h"

#include <c10/core/CPUAllocator.h>
#include <dlfcn.h>
#include <sched.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <cstring>
#include <mutex>
#include <new>
#include <map>
#include <thread>
#include <vector>

namespace evatok {
namespace {

constexpr size_t kAlign = 64;                   // what LibTorch's own CPU allocator gives
constexpr size_t kHeader = 64;                  // the block's size, before the data
constexpr size_t kMinCached = 64 << 10;         // smaller blocks come from glibc's heap, no mmap
constexpr size_t kMaxCachedBytes = 256u << 20;  // bound on what is kept for reuse

// Large blocks are rounded up to a multiple of 1/8 of the next power of two
// (at most 1/4 more than asked), so that similar sizes can share blocks.
size_t round_size(size_t n) {
  if (n < kMinCached || n > (SIZE_MAX >> 4)) return n;  // huge ones fail in posix_memalign, unrounded
  size_t p = kMinCached;
  while (p < n) p <<= 1;
  const size_t step = p >> 3;
  return (n + step - 1) / step * step;
}

struct Cache {
  std::mutex lock;
  std::multimap<size_t, void*> free;  // block size -> block base
  size_t cached = 0, live = 0, peak_live = 0;
  uint64_t allocations = 0, reused = 0;
};

// Never destroyed: tensors can outlive static destructors at exit.
Cache& cache() {
  static Cache* c = new Cache;
  return *c;
}

void release(void* data) {
  if (!data) return;
  auto* base = static_cast<uint8_t*>(data) - kHeader;
  size_t size;
  memcpy(&size, base, sizeof size);
  if (size >= kMinCached) {
    Cache& c = cache();
    std::lock_guard<std::mutex> g(c.lock);
    c.live -= size;
    if (c.cached + size <= kMaxCachedBytes) {
      c.free.emplace(size, base);
      c.cached += size;
      return;
    }
  }
  free(base);
}

struct CachingCpuAllocator final : c10::Allocator {
  c10::DataPtr allocate(size_t n) const override {
    size_t size = round_size(n ? n : 1);
    void* base = nullptr;
    if (size >= kMinCached) {
      // The smallest cached block that fits, if it wastes at most a third.
      Cache& c = cache();
      std::lock_guard<std::mutex> g(c.lock);
      ++c.allocations;
      auto it = c.free.lower_bound(size);
      if (it != c.free.end() && it->first <= size + size / 3) {
        size = it->first;
        base = it->second;
        c.free.erase(it);
        c.cached -= size;
        ++c.reused;
      }
    }
    if (!base && (size > SIZE_MAX - kHeader || posix_memalign(&base, kAlign, kHeader + size) != 0))
      throw std::bad_alloc();
    if (size >= kMinCached) {
      Cache& c = cache();
      std::lock_guard<std::mutex> g(c.lock);
      c.live += size;
      c.peak_live = std::max(c.peak_live, c.live);
    }
    memcpy(base, &size, sizeof size);
    void* data = static_cast<uint8_t*>(base) + kHeader;
    return {data, data, &release, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &release; }
};

// OpenBLAS 0.3.21 (Debian bookworm) does not know CPUs newer than itself (for
// example Xeon family 6 model 207) and then runs its Prescott (SSE3) kernels:
// a 1024^3 GEMM at 65 instead of 297 GFLOP/s on 2 cores of such a machine.
// When it did that on a CPU with AVX-512 (or AVX2 and FMA), this re-runs its
// kernel selection as OPENBLAS_CORETYPE=SkylakeX (Haswell) would have made it
// at load time. A user's own OPENBLAS_CORETYPE is left alone.
void select_openblas_kernels() {
  if (getenv("OPENBLAS_CORETYPE")) return;
  using Name = char* (*)();
  using Call = void (*)();
  const auto corename = reinterpret_cast<Name>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  const auto quit = reinterpret_cast<Call>(dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit"));
  const auto init = reinterpret_cast<Call>(dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init"));
  if (!corename || !quit || !init || strcmp(corename(), "Prescott") != 0) return;
  __builtin_cpu_init();
  const char* core = nullptr;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    core = "SkylakeX";
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    core = "Haswell";
  if (!core) return;
  setenv("OPENBLAS_CORETYPE", core, 0);
  quit();
  init();
  unsetenv("OPENBLAS_CORETYPE");  // not passed on to the host's child processes
}

}  // namespace

void init_cpu_runtime() {
  static std::once_flag once;
  std::call_once(once, [] {
    select_openblas_kernels();
    static CachingCpuAllocator allocator;
    c10::SetCPUAllocator(&allocator, /*priority=*/1);
  });
}

CpuAllocatorStats cpu_allocator_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> g(c.lock);
  CpuAllocatorStats s;
  s.allocations = c.allocations;
  s.reused = c.reused;
  s.cached_bytes = c.cached;
  s.live_bytes = c.live;
  s.peak_live_bytes = c.peak_live;
  return s;
}

int available_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return 1;
}

void set_blas_threads(int n) {
  // OpenBLAS (Debian's libopenblas0-pthread) keeps a pool of its own; it is
  // looked up at run time, since another BLAS may be installed in its place.
  using SetThreads = void (*)(int);
  static const auto openblas_set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (openblas_set) openblas_set(std::max(1, n));
}

void set_cpu_threads(int n) {
  torch::set_num_threads(n > 0 ? n : available_cores());
  set_blas_threads(1);
}

int set_codec_threads(int n) {
  torch::set_num_threads(1);
  set_blas_threads(1);
  return n > 0 ? n : available_cores();
}

void for_each_parallel(int workers, int n, const std::function<void(int)>& fn) {
  const int w = std::max(1, std::min(workers, n));
  std::atomic<int> next{0};
  std::exception_ptr failed;
  std::mutex failed_lock;
  auto work = [&] {
    c10::InferenceMode inference;  // thread-local, like grad mode
    for (int i; (i = next.fetch_add(1)) < n;) {
      try {
        fn(i);
      } catch (...) {
        std::lock_guard<std::mutex> g(failed_lock);
        if (!failed) failed = std::current_exception();
        next = n;  // no new items
      }
    }
  };
  std::vector<std::thread> extra;
  extra.reserve((size_t)w - 1);
  try {
    for (int k = 1; k < w; ++k) extra.emplace_back(work);
  } catch (const std::system_error&) {
    // no more threads: the ones started and this one do the work
  }
  work();
  for (auto& t : extra) t.join();
  if (failed) std::rethrow_exception(failed);
}

}  // namespace evatok
