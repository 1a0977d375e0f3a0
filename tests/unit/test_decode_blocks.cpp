// The decoder's block-by-block inference path (DecoderImpl::forward_blocks,
// what Model::decode runs) must give the frames of the masked full pass that
// training runs (DecoderImpl::forward), up to float rounding: with and
// without a previous frame to carry from, with clips whose assignments differ
// (the cross-attention mask) and agree (no mask), on an untrained carry model
// whose gate and flow vary per pixel and on the shipped default model.
#include <cstdio>
#include <vector>

#include "tokenizer/model.h"

static int check(const char* path, bool randomize_carry) {
  torch::manual_seed(11);
  auto m = evatok::Model::load(path, torch::kCPU);
  const auto& c = m->cfg;
  if (randomize_carry && c.temporal_carry) {
    torch::NoGradGuard ng;
    auto& g = m->net->decoder->carry_head;
    g->weight.copy_(0.1 * torch::randn_like(g->weight));
    auto& a = m->net->decoder->carry_match;
    a->weight.copy_(0.3 * torch::randn_like(a->weight));
  }
  const int nb = c.num_blocks(), nc = (int)c.choices.size();
  int fails = 0;
  for (bool same : {false, true}) {
    std::vector<evatok::Assignment> as;
    for (int s = 0; s < 3; ++s) {
      evatok::Assignment a(nb);
      for (int b = 0; b < nb; ++b) a[b] = same ? (b % nc) : (s + 2 * b) % nc;
      as.push_back(a);
    }
    std::vector<std::vector<int64_t>> tokens;
    for (const auto& a : as) {
      int len = 0;
      for (int ci : a) len += c.choices[ci];
      auto t = torch::randint(c.codebook_size, {len}, torch::kInt64);
      tokens.emplace_back(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + len);
    }
    for (bool with_before : {false, true}) {
      torch::NoGradGuard ng;
      auto before = with_before ? torch::rand({3, 3, c.clip_height, c.clip_width}) - 0.5 : torch::Tensor();
      auto L = evatok::Layout::make(c, as, torch::kCPU);
      auto idx = torch::zeros({L.batch, L.max_len}, torch::kInt64);
      for (int s = 0; s < L.batch; ++s)
        idx[s].slice(0, 0, (int64_t)tokens[s].size()).copy_(torch::tensor(tokens[s]));
      auto codes = m->net->quantizer->lookup(idx);
      auto full = m->net->decoder->forward(codes, L, before);
      std::vector<torch::Tensor> parts;
      evatok::BlockDecoder bd(*m->net->decoder, codes, L, before);
      while (!bd.done() && (int)parts.size() < nb) parts.push_back(bd.next());
      const bool in_order = bd.done() && (int)parts.size() == nb && parts[0].size(2) == c.patch_t;
      auto blocks = torch::cat(parts, 2);
      auto via_model = m->decode(as, tokens, before);
      const double d = (full - blocks).abs().max().item<double>();
      const double d2 = (via_model - blocks).abs().max().item<double>();
      const bool ok = full.sizes() == blocks.sizes() && d <= 1e-4 && d2 == 0 && in_order && full.std().item<double>() > 0;
      printf("%s %s, %s assignments, %s previous frame: max |full - blocks| = %.2e\n", ok ? "ok:  " : "FAIL:", path,
             same ? "equal" : "different", with_before ? "with a" : "no", d);
      fails += !ok;
    }
  }
  return fails;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: test_decode_blocks MODEL...\n");
    return 2;
  }
  torch::set_num_threads(1);
  int fails = 0;
  for (int i = 1; i < argc; ++i) fails += check(argv[i], i > 1 ? false : true);
  return fails ? 1 : 0;
}
