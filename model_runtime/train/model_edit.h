// What training does to a loaded model besides training it: warm starts,
// taking reward statistics or a router from another model, a fresh router.
// Inference never needs these, so they are not members of Model.
#pragma once
#include <string>
#include <vector>

#include "tokenizer/model.h"

namespace evatok {

// Warm start: copies every tensor of `src` whose name and shape `dst` also
// has; returns the names of dst's tensors left at their init.
std::vector<std::string> copy_matching(Model& dst, const Model& src);
// After copy_matching: a pixel head with more head_channels than src's (same
// token grid and patch) takes src's as its first channels, so the pictures
// stay src's. Returns the names of the tensors it filled (none if it does not
// apply).
std::vector<std::string> widen_pixel_head(Model& dst, const Model& src);
// After copy_matching: encoder or decoder layers beyond src's (same width,
// heads and MLP) start as the identity, so the codes and pictures stay src's.
// Returns how many layers each got (0 where it does not apply).
struct Deepened {
  int encoder = 0, decoder = 0;
};
Deepened deepen(Model& dst, const Model& src);
// Largest difference between the two models' reconstructions of the same
// random clip, every block at the richest choice (same choices, blocks and
// geometry; throws otherwise).
double picture_difference(Model& a, Model& b);
// Takes the proxy reward's z-scoring statistics and metric of `src`, which
// must have the same choices and blocks (throws otherwise).
void copy_reward_stats(Model& dst, const Model& src);
// Takes the trained router of `src` (same choices, blocks and clip geometry;
// throws otherwise): its shape (router_* config), weights, reward statistics
// and its train.router_* records in info (replacing dst's).
void adopt_router(Model& dst, const Model& src);
// Replaces the router by an untrained one of the shape in cfg's router_*
// fields (after changing them).
void rebuild_router(Model& m, uint64_t seed);

}  // namespace evatok
