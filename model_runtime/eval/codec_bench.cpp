#include "eval/codec_bench.h"

#include <sys/resource.h>
#include <torch/csrc/autograd/profiler_legacy.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>
#include <cstdio>
#include <stdexcept>

#include "core/cpu_runtime.h"
#include "data/data.h"
#include "evatok/evatok.h"
#include "train/train_util.h"

namespace evatok {
namespace {

// fp32 matrix product of two n x n matrices on every core (OpenBLAS's pool),
// the best of `reps` timed runs: the machine's peak.
double gemm_gflops(int n = 1024, int reps = 10) {
  torch::InferenceMode im;
  set_blas_threads(available_cores());
  auto a = torch::rand({n, n}), b = torch::rand({n, n}), c = torch::empty({n, n});
  for (int i = 0; i < 2; ++i) torch::mm_out(c, a, b);
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = Clock::now();
    torch::mm_out(c, a, b);
    best = std::min(best, seconds_since(t0));
  }
  set_blas_threads(1);
  return 2.0 * n * n * n / best / 1e9;
}

// What LibTorch's profiler saw while f ran on this thread: the FLOPs it
// counts (matrix products, convolutions, element-wise multiply and add), and
// the self time of every op (its time minus that of the ops it called).
struct Profile {
  double flops = 0, total_us = 0;
  std::map<std::string, double> self_us;
};

template <class F>
Profile profile(F&& f) {
  namespace prof = torch::autograd::profiler;
  using torch::profiler::impl::ProfilerConfig;
  using torch::profiler::impl::ProfilerState;
  prof::enableProfilerLegacy(ProfilerConfig(ProfilerState::CPU, /*report_input_shapes=*/true, false, false,
                                            /*with_flops=*/true));
  const auto t0 = Clock::now();
  f();
  Profile p;
  p.total_us = seconds_since(t0) * 1e6;
  for (auto& list : prof::disableProfilerLegacy()) {
    struct Open {
      const prof::LegacyEvent* e;
      double child_us;
    };
    std::vector<Open> stack;
    for (auto& e : list) {
      p.flops += (double)e.flops();
      if (e.kind() == prof::EventKind::PushRange) {
        stack.push_back({&e, 0});
      } else if (e.kind() == prof::EventKind::PopRange && !stack.empty()) {
        const Open o = stack.back();
        stack.pop_back();
        const double us = o.e->cpuElapsedUs(e);
        p.self_us[o.e->name()] += us - o.child_us;
        if (!stack.empty()) stack.back().child_us += us;
      }
    }
  }
  return p;
}

// The ops that took most of the time, one line each.
void print_top(const char* what, const Profile& p, int n = 10) {
  std::vector<std::pair<double, std::string>> v;
  for (auto& [name, us] : p.self_us) v.push_back({us, name});
  std::sort(v.rbegin(), v.rend());
  printf("%s: self time by op (profiled pass, %.1f ms):\n", what, p.total_us / 1e3);
  for (int i = 0; i < (int)v.size() && i < n; ++i)
    printf("  %-36s %8.2f ms  %5.1f%%\n", v[i].second.c_str(), v[i].first / 1e3, 100 * v[i].first / p.total_us);
}

void check(EvatokStatus st, const char* what, const char* err) {
  if (st != EVATOK_OK) throw std::runtime_error(std::string(what) + ": " + err);
}

}  // namespace

int bench_codec(const CodecBenchOptions& o) {
  init_cpu_runtime();
  const double peak = gemm_gflops();
  set_cpu_threads(o.threads);
  Video v = read_y4m(o.video);
  const int F = (int)v.frames.size(0), W = v.width, H = v.height;
  std::vector<EvatokImage> img(F);
  for (int i = 0; i < F; ++i) {
    img[i].data[0] = v.frames[i].data_ptr<uint8_t>();
    img[i].linesize[0] = 3 * W;
  }

  char err[512] = "";
  EvatokOpenOptions oo;
  evatok_open_options_default(&oo);
  oo.threads = o.threads;
  EvatokModel* m = nullptr;
  const auto t_open = Clock::now();
  check(evatok_model_open(o.model.empty() ? nullptr : o.model.c_str(), &oo, &m, err, sizeof err), "open", err);
  const double open_s = seconds_since(t_open);
  const EvatokModelInfo* info = evatok_model_get_info(m);
  EvatokEncodeOptions eo;
  evatok_encode_options_default(&eo);
  if (o.assign == "search") {
    eo.mode = EVATOK_ASSIGN_SEARCH;
  } else if (o.assign.rfind("uniform:", 0) == 0) {
    eo.mode = EVATOK_ASSIGN_UNIFORM;
    eo.uniform_tokens = std::stoi(o.assign.substr(8));
  } else if (o.assign != "router") {
    throw std::runtime_error("--assign takes router, uniform:K or search");
  }
  const int T = info->clip_frames, groups = (F + T - 1) / T;
  const int tiles = ((W + info->clip_width - 1) / info->clip_width) * ((H + info->clip_height - 1) / info->clip_height);
  std::vector<std::vector<uint8_t>> packets(groups);
  std::vector<uint8_t> out_buf((size_t)T * W * H * 3);
  std::vector<EvatokImage> out(T);
  for (int i = 0; i < T; ++i) {
    out[i].data[0] = out_buf.data() + (size_t)i * W * H * 3;
    out[i].linesize[0] = 3 * W;
  }
  auto encode = [&](int g) {
    uint8_t* p = nullptr;
    size_t n = 0;
    const int nb = std::min(T, F - g * T);
    check(evatok_encode_block(m, &img[(size_t)g * T], nb, W, H, EVATOK_PIX_RGB24, &eo, &p, &n, err, sizeof err),
          "encode", err);
    packets[g].assign(p, p + n);
    evatok_free(p);
  };
  auto decode = [&](int g) {
    int nb = 0;
    check(evatok_decode_block(m, packets[g].data(), packets[g].size(), out.data(), T, EVATOK_PIX_RGB24, &nb, err,
                              sizeof err),
          "decode", err);
  };
  encode(0);
  // The first packet as a player decodes it (progressively): its first
  // frame, then the rest.
  double first_frame_s = 0;
  {
    EvatokReference* ref = nullptr;
    check(evatok_reference_new(&ref), "reference", "out of memory");
    int nb = 0, ready = 0;
    const auto t0 = Clock::now();
    check(evatok_decode_begin(m, packets[0].data(), packets[0].size(), ref, out.data(), T, EVATOK_PIX_RGB24, &nb, err,
                              sizeof err),
          "decode", err);
    while (ready < nb) {
      check(evatok_decode_next(m, ref, &ready, err, sizeof err), "decode", err);
      if (first_frame_s == 0) first_frame_s = seconds_since(t0);
    }
    evatok_reference_free(&ref);
  }
  const auto t_first = Clock::now();
  decode(0);
  const double first_decode_s = seconds_since(t_first);
  const Profile enc_prof = profile([&] { encode(0); }), dec_prof = profile([&] { decode(0); });
  const double enc_flops = enc_prof.flops / tiles, dec_flops = dec_prof.flops / tiles;

  double enc_s = 1e30, dec_s = 1e30;
  for (int r = 0; r < std::max(1, o.runs); ++r) {
    auto t0 = Clock::now();
    for (int g = 0; g < groups; ++g) encode(g);
    enc_s = std::min(enc_s, seconds_since(t0));
    t0 = Clock::now();
    for (int g = 0; g < groups; ++g) decode(g);
    dec_s = std::min(dec_s, seconds_since(t0));
  }
  size_t bytes = 0;
  for (auto& p : packets) bytes += p.size();
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);

  printf("machine: %d cores, fp32 GEMM peak (1024^3, torch::mm, every core): %.1f GFLOP/s; codec on %d threads\n",
         available_cores(), peak, torch::get_num_threads());
  printf("model: %s, %d frames of %dx%d per tile-clip; video %s: %d frames of %dx%d (%d tiles), %s\n", info->name,
         T, info->clip_width, info->clip_height, o.video.c_str(), F, W, H, tiles, o.assign.c_str());
  printf("model open %.3f s; then (after one encode) the first frame decoded in %.3f s (%.3f s from the open), "
         "a packet in %.3f s\n",
         open_s, first_frame_s, open_s + first_frame_s, first_decode_s);
  printf("FLOPs per tile-clip (first group): encode %.3f GFLOP (router included), decode %.3f GFLOP\n",
         enc_flops / 1e9, dec_flops / 1e9);
  const double tile_clips = (double)groups * tiles;
  printf("encode: %7.1f fps, %6.1f GFLOP/s = %5.1f%% of the GEMM peak\n", F / enc_s,
         enc_flops * tile_clips / enc_s / 1e9, 100 * enc_flops * tile_clips / enc_s / 1e9 / peak);
  printf("decode: %7.1f fps, %6.1f GFLOP/s = %5.1f%% of the GEMM peak\n", F / dec_s,
         dec_flops * tile_clips / dec_s / 1e9, 100 * dec_flops * tile_clips / dec_s / 1e9 / peak);
  const auto st = cpu_allocator_stats();
  printf("packets: %zu bytes for %d frames; peak RSS %.0f MiB; allocator: %llu large allocations, %.1f%% reused, "
         "at most %.0f MiB in use, %.0f MiB cached at the end\n",
         bytes, F, ru.ru_maxrss / 1024.0, (unsigned long long)st.allocations,
         st.allocations ? 100.0 * st.reused / st.allocations : 0.0, st.peak_live_bytes / 1048576.0,
         st.cached_bytes / 1048576.0);
  if (o.profile) {
    print_top("encode", enc_prof);
    print_top("decode", dec_prof);
  }
  evatok_model_close(&m);
  return 0;
}

}  // namespace evatok
