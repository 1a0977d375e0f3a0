#include "eval/brute_force.h"

#include <stdexcept>

namespace evatok {

torch::Tensor quality_table_brute_force(Model& m, const torch::Tensor& clips, QualityMetric& metric, int batch) {
  torch::NoGradGuard ng;
  if (batch < 1) throw std::runtime_error("quality table: batch must be at least 1");
  const int A = m.cfg.num_assignments(), nb = m.cfg.num_blocks();
  std::vector<Assignment> all;
  for (int a = 0; a < A; ++a) all.push_back(m.cfg.assignment_choices(a));
  auto q = torch::empty({clips.size(0), A});
  for (int64_t i = 0; i < clips.size(0); ++i) {
    auto x = clips[i].unsqueeze(0).to(m.device);
    for (int s = 0; s < A; s += batch) {
      const int e = std::min(A, s + batch);
      std::vector<Assignment> as(all.begin() + s, all.begin() + e);
      auto xb = x.expand({e - s, -1, -1, -1, -1});
      auto rec = m.reconstruct(xb, as).clamp(-0.5, 0.5);
      q[i].slice(0, s, e).copy_(metric.per_block(rec, xb, nb).mean(1).cpu());
    }
  }
  return q;
}

}  // namespace evatok
