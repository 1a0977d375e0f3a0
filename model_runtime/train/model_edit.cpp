#include "train/model_edit.h"

#include <ATen/CPUGeneratorImpl.h>

#include <iterator>
#include <stdexcept>

namespace evatok {

namespace {

// Same token features in, same patch of pixels out.
bool same_decoder_features(const Model& a, const Model& b) {
  const auto &x = a.cfg, &y = b.cfg;
  return x.dec_dim == y.dec_dim && x.num_blocks() == y.num_blocks() && x.grid_h() == y.grid_h() &&
         x.grid_w() == y.grid_w() && x.patch_t == y.patch_t && x.patch_s == y.patch_s;
}

}  // namespace

std::vector<std::string> copy_matching(Model& dst, const Model& src) {
  torch::NoGradGuard ng;
  auto from = src.state();
  std::vector<std::string> fresh;
  for (auto& [name, t] : dst.state()) {
    auto it = from.find(name);
    if (it != from.end() && it->second.sizes() == t.sizes())
      t.copy_(it->second.to(t.device(), t.dtype()));
    else
      fresh.push_back(name);
  }
  return fresh;
}

// The new channels start cut off from the output: the old output channels of
// head1 do not read the new inputs, head2 does not read the new hidden
// channels. So the decoder draws exactly src's pictures, and the new channels
// start learning from there.
std::vector<std::string> widen_pixel_head(Model& dst, const Model& src) {
  const int64_t hs = src.cfg.head_channels, hd = dst.cfg.head_channels;
  if (hd <= hs || !same_decoder_features(dst, src)) return {};
  torch::NoGradGuard ng;
  auto& d = *dst.net->decoder;
  const auto& s = *src.net->decoder;
  const int64_t P = dst.cfg.patch_t * dst.cfg.patch_s * dst.cfg.patch_s, D = dst.cfg.dec_dim;
  // to_pixels' outputs are (patch pixel, channel) with the channel fastest.
  d.to_pixels->weight.view({P, hd, D}).slice(1, 0, hs).copy_(s.to_pixels->weight.view({P, hs, D}));
  d.to_pixels->bias.view({P, hd}).slice(1, 0, hs).copy_(s.to_pixels->bias.view({P, hs}));
  auto w1 = d.head1->weight;  // [out, in, 3, 3]
  w1.slice(0, 0, hs).slice(1, 0, hs).copy_(s.head1->weight);
  w1.slice(0, 0, hs).slice(1, hs, hd).zero_();
  d.head1->bias.slice(0, 0, hs).copy_(s.head1->bias);
  d.head2->weight.slice(1, 0, hs).copy_(s.head2->weight);
  d.head2->weight.slice(1, hs, hd).zero_();
  d.head2->bias.copy_(s.head2->bias);
  return {"decoder.to_pixels.weight", "decoder.to_pixels.bias", "decoder.head1.weight", "decoder.head1.bias",
          "decoder.head2.weight"};
}

// A pre-norm residual block whose three output projections are zero adds
// nothing to the stream it reads: x + 0 + 0 + 0. Its other weights keep their
// fresh init, so the gradients into the zeroed projections are not zero and
// the layer starts learning at once.
static int pass_through_layers(torch::nn::ModuleList& layers, int from) {
  torch::NoGradGuard ng;
  for (size_t i = from; i < layers->size(); ++i) {
    auto* b = layers[i]->as<Block>();
    for (auto* lin : {b->self_attn->out.get(), b->cross_attn->out.get(), b->mlp->fc2.get()}) {
      lin->weight.zero_();
      lin->bias.zero_();
    }
  }
  return (int)layers->size() - from;
}

Deepened deepen(Model& dst, const Model& src) {
  const auto &d = dst.cfg, &s = src.cfg;
  Deepened r;
  if (d.enc_layers > s.enc_layers && d.enc_dim == s.enc_dim && d.enc_heads == s.enc_heads &&
      d.mlp_ratio == s.mlp_ratio)
    r.encoder = pass_through_layers(dst.net->encoder->layers, s.enc_layers);
  if (d.dec_layers > s.dec_layers && d.dec_dim == s.dec_dim && d.dec_heads == s.dec_heads &&
      d.mlp_ratio == s.mlp_ratio)
    r.decoder = pass_through_layers(dst.net->decoder->layers, s.dec_layers);
  return r;
}

double picture_difference(Model& a, Model& b) {
  const auto& x = a.cfg;
  if (!x.same_assignments(b.cfg) || !x.same_clip_geometry(b.cfg))
    throw std::runtime_error("the two models do not code clips of the same shape the same way");
  // Its own generator: a check must not move the training run's random stream.
  auto gen = at::detail::createCPUGenerator(1);
  auto clip = torch::rand({1, 3, x.clip_frames, x.clip_height, x.clip_width}, gen) - 0.5;
  const std::vector<Assignment> richest{Assignment(x.num_blocks(), 0)};  // choice 0 is the largest
  auto pa = a.reconstruct(clip, richest).cpu(), pb = b.reconstruct(clip, richest).cpu();
  return (pa - pb).abs().max().item<double>();
}

void copy_reward_stats(Model& dst, const Model& src) {
  auto& cfg = dst.cfg;
  if (!cfg.same_assignments(src.cfg))
    throw std::runtime_error("reward statistics of a model with other choices or blocks do not apply");
  cfg.q_mean = src.cfg.q_mean;
  cfg.q_std = src.cfg.q_std;
  cfg.l_mean = src.cfg.l_mean;
  cfg.l_std = src.cfg.l_std;
  cfg.reward_quality = src.cfg.reward_quality;
}

void rebuild_router(Model& m, uint64_t seed) {
  m.cfg.validate();
  torch::manual_seed(seed);
  m.net->cfg = m.cfg;
  m.net->router = m.net->replace_module("router", Router(m.cfg));
  m.net->router->to(m.device);
  m.has_router = false;
}

void adopt_router(Model& dst, const Model& src) {
  auto& cfg = dst.cfg;
  if (!cfg.same_clip_geometry(src.cfg))
    throw std::runtime_error("a router trained for another clip geometry does not fit this model");
  copy_reward_stats(dst, src);  // checks the assignments match
  cfg.router_dim = src.cfg.router_dim;
  cfg.router_layers = src.cfg.router_layers;
  cfg.router_heads = src.cfg.router_heads;
  cfg.router_patch_s = src.cfg.router_patch_s;
  cfg.router_input = src.cfg.router_input;
  cfg.router_target = src.cfg.router_target;
  rebuild_router(dst, 0);
  torch::NoGradGuard ng;
  auto from = src.net->router->named_parameters();
  for (auto& p : dst.net->router->named_parameters()) p.value().copy_(from[p.key()].to(p.value().device()));
  dst.has_router = true;
  auto& info = dst.info;
  for (auto it = info.begin(); it != info.end();)
    it = it->first.rfind("train.router_", 0) == 0 ? info.erase(it) : std::next(it);
  for (const auto& [k, v] : src.info)
    if (k.rfind("train.router_", 0) == 0) info[k] = v;
}

}  // namespace evatok
