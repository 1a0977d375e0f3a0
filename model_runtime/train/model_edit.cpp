#include "train/model_edit.h"

#include <iterator>
#include <stdexcept>

namespace evatok {

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
  if (cfg.clip_frames != src.cfg.clip_frames || cfg.clip_height != src.cfg.clip_height ||
      cfg.clip_width != src.cfg.clip_width)
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
