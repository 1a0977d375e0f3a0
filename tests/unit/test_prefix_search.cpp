// The exact quality table by prefix sharing must equal the brute-force table
// (every assignment encoded and decoded in full), for PSNR and SSIM, on an
// untrained model (tests/unit/prefix.json: 3 blocks x 3 choices), again with
// temporal carry (prefix-carry.json, its gate and flow given random weights so
// that they vary per pixel), on random and smooth clips.
#include <chrono>
#include <cstdio>
#include <string>

#include "eval/brute_force.h"
#include "tokenizer/model.h"
#include "tokenizer/prefix_search.h"
#include "core/quality.h"

static int check_model(const char* path) {
  torch::manual_seed(7);
  auto m = evatok::Model::load(path, torch::kCPU);
  const auto& c = m->cfg;
  printf("%s (temporal carry %s)\n", path, c.temporal_carry ? "on" : "off");
  if (c.temporal_carry) {
    torch::NoGradGuard ng;
    auto& g = m->net->decoder->carry_head;
    g->weight.copy_(0.1 * torch::randn_like(g->weight));
    g->bias.zero_();
    auto& a = m->net->decoder->carry_match;
    a->weight.copy_(0.3 * torch::randn_like(a->weight));
  }
  auto noise = torch::rand({1, 3, c.clip_frames, c.clip_height, c.clip_width}) - 0.5;
  auto ramp = torch::linspace(-0.5, 0.5, c.clip_width).view({1, 1, 1, 1, -1}).expand_as(noise).clone();
  auto clips = torch::cat({noise, ramp});
  int fails = 0;
  for (const char* name : {"psnr", "ssim"}) {
    auto metric = evatok::make_quality_metric(name, torch::kCPU);
    auto t0 = std::chrono::steady_clock::now();
    auto shared = m->quality_table(clips, *metric, true);
    auto t1 = std::chrono::steady_clock::now();
    auto brute = evatok::quality_table_brute_force(*m, clips, *metric);
    auto t2 = std::chrono::steady_clock::now();
    const double diff = (shared - brute).abs().max().item<double>();
    const double tol = std::string(name) == "psnr" ? 1e-3 : 1e-5;
    const bool ok = shared.sizes() == brute.sizes() && diff <= tol && shared.std().item<double>() > 0;
    printf("%s %s: max |shared - brute force| = %.2e over %lld values; %.2f s vs %.2f s\n", ok ? "ok:  " : "FAIL:",
           name, diff, (long long)shared.numel(), std::chrono::duration<double>(t1 - t0).count(),
           std::chrono::duration<double>(t2 - t1).count());
    fails += !ok;
  }
  return fails;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: test_prefix_search MODEL...\n");
    return 2;
  }
  torch::set_num_threads(1);
  int fails = 0;
  for (int i = 1; i < argc; ++i) fails += check_model(argv[i]);
  return fails ? 1 : 0;
}
