// Process-wide CPU settings that every host of libevatok gets without
// environment variables: OpenBLAS kernels that fit the CPU, a caching
// allocator for LibTorch's CPU tensors, and one thread count for LibTorch and
// OpenBLAS together.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>

namespace evatok {

// Once per process (later calls do nothing), before the first network runs:
// - OpenBLAS's kernels: an OpenBLAS that does not know the CPU falls back to
//   SSE3 kernels (4.5x slower GEMMs on an AVX-512 machine); they are
//   re-selected for the CPU's instruction set (unless OPENBLAS_CORETYPE is set).
// - The caching allocator: glibc serves blocks of 128 KiB or more with mmap
//   and gives them back with munmap, so a forward pass can fault in fresh
//   zeroed pages again and again. Freed blocks of 64 KiB or more are kept for
//   reuse, up to a bound (256 MiB).
void init_cpu_runtime();

struct CpuAllocatorStats {
  uint64_t allocations = 0, reused = 0;  // large allocations, and how many a cached block served
  size_t cached_bytes = 0;               // held for reuse now
  size_t live_bytes = 0, peak_live_bytes = 0;  // large blocks in use now, and at most so far
};
CpuAllocatorStats cpu_allocator_stats();

// The one thread setting: LibTorch's intra-op pool gets n threads (n = 0:
// every core this process may use), and OpenBLAS runs its matrix products in
// the calling thread, so that two pools never compete for the same cores.
// Measured on 2 cores (320x240 through the C API): LibTorch 2 + BLAS 1 encode
// 117 fps and decode 46; LibTorch 1 + BLAS 2, 86 and 36; both 2, 64 and 32.
// Process-wide, like the settings it wraps. Training and the CLI's
// evaluations use it; the C API's handles use set_codec_threads.
void set_cpu_threads(int n);
// The codec's thread setting (the C API's `threads`): LibTorch and OpenBLAS
// both compute in the calling thread, and the codec runs its batches of
// tiles on n threads of its own (n = 0: every core; returned). LibTorch's
// intra-op threads are libgomp threads that spin between parallel regions:
// with another busy process on the machine they took the core from the
// thread that had work (an exact search took 3x longer with 2 threads than
// with 1, docs/benchmarks.md). Threads that each run a whole batch never wait
// on one another inside a network. Process-wide, like set_cpu_threads.
int set_codec_threads(int n);
// Runs fn(i) for every i in 0..n-1 on up to `workers` threads (the calling
// one among them), each in LibTorch's inference mode; in order on the calling
// thread when workers or n is 1. fn writes its result by index, so the
// results do not depend on which thread ran what. The first exception thrown
// is rethrown once every thread has finished.
void for_each_parallel(int workers, int n, const std::function<void(int)>& fn);
// What set_cpu_threads(0) gives: the cores this process may run on.
int available_cores();
// OpenBLAS's own thread count alone (the benchmark's GEMM peak uses every core).
void set_blas_threads(int n);

}  // namespace evatok
