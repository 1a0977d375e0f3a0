// The exact quality table by brute force: every assignment encoded and decoded
// in full, `batch` at a time. The reference that Model::quality_table's
// shared-prefix search (tokenizer/prefix_search.h) is tested against.
#pragma once
#include "tokenizer/model.h"

namespace evatok {

torch::Tensor quality_table_brute_force(Model& m, const torch::Tensor& clips, QualityMetric& metric, int batch = 125);

}  // namespace evatok
