// Exact quality of every candidate assignment, computed block by block over
// the tree of assignment prefixes. Block causality makes block t's tokens and
// pixels depend only on blocks <= t, so each prefix (k1..kt) is encoded and
// decoded once, its attention inputs cached for its children: 780 block
// evaluations per clip for 5 choices x 4 blocks instead of 625 x 4.
#pragma once
#include <torch/torch.h>

#include "tokenizer/model.h"
#include "core/quality.h"

namespace evatok {

// clips [N,3,T,H,W] in [-0.5,0.5]; -> [N, A] mean block quality, the same
// numbers as Model::quality_table(clips, metric, exact=true) up to rounding.
torch::Tensor prefix_quality_table(Model& model, const torch::Tensor& clips, QualityMetric& metric);

}  // namespace evatok
