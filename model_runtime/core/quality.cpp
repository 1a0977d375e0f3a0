#include "core/quality.h"

#include <torch/script.h>

#include <cmath>
#include <stdexcept>

namespace evatok {
using torch::Tensor;

Tensor psnr_frames(const Tensor& rec, const Tensor& ref) {
  auto mse = (rec - ref).pow(2).mean({1, 3, 4}).clamp_min(1e-10);
  return -10.0 * torch::log10(mse);
}

Tensor ssim_frames(const Tensor& rec, const Tensor& ref) {
  // Frames as images: [B*T*3, 1, H, W], separable Gaussian (sigma 1.5, 11 taps).
  const int64_t B = rec.size(0), T = rec.size(2), H = rec.size(3), W = rec.size(4);
  auto flat = [&](const Tensor& v) { return (v + 0.5).permute({0, 2, 1, 3, 4}).reshape({B * T * 3, 1, H, W}); };
  auto x = flat(rec), y = flat(ref);
  const int taps = (int)std::min<int64_t>(11, std::min(H, W) | 1);
  auto g = torch::arange(taps, rec.options()).sub((taps - 1) / 2.0).pow(2).div(-2 * 1.5 * 1.5).exp();
  g = g / g.sum();
  auto gh = g.view({1, 1, taps, 1}), gw = g.view({1, 1, 1, taps});
  auto blur = [&](const Tensor& v) { return torch::conv2d(torch::conv2d(v, gh), gw); };
  const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
  auto mx = blur(x), my = blur(y);
  auto sxx = blur(x * x) - mx * mx, syy = blur(y * y) - my * my, sxy = blur(x * y) - mx * my;
  auto map = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2));
  return map.mean({1, 2, 3}).view({B, T, 3}).mean(2);
}

namespace {

Tensor block_mean(const Tensor& per_frame, int blocks) {
  return per_frame.view({per_frame.size(0), blocks, -1}).mean(2);
}

struct Psnr : QualityMetric {
  std::string name() const override { return "psnr"; }
  Tensor per_block(const Tensor& rec, const Tensor& ref, int blocks) override {
    // PSNR of the block's MSE (not the mean of frame PSNRs).
    auto mse = (rec - ref).pow(2).mean({1, 3, 4});
    return -10.0 * torch::log10(block_mean(mse, blocks).clamp_min(1e-10));
  }
};

// Negated MSE of the block: like PSNR but not a logarithm, so it saturates.
// Once a clip is reconstructed well, more tokens lower its error by little,
// as a perceptual distance does, and the reward spends them on hard clips.
struct Mse : QualityMetric {
  std::string name() const override { return "mse"; }
  Tensor per_block(const Tensor& rec, const Tensor& ref, int blocks) override {
    return -block_mean((rec - ref).pow(2).mean({1, 3, 4}), blocks);
  }
};

struct Ssim : QualityMetric {
  std::string name() const override { return "ssim"; }
  Tensor per_block(const Tensor& rec, const Tensor& ref, int blocks) override {
    return block_mean(ssim_frames(rec, ref), blocks);
  }
};

struct Scripted : QualityMetric {
  explicit Scripted(const std::string& path, torch::Device dev) : path_(path) {
    try {
      module_ = torch::jit::load(path, dev);
    } catch (const std::exception& e) {
      throw std::runtime_error("quality metric '" + path + "' is not a loadable TorchScript module: " +
                               std::string(e.what()).substr(0, 200));
    }
    module_.eval();
  }
  std::string name() const override { return "torchscript:" + path_; }
  Tensor per_block(const Tensor& rec, const Tensor& ref, int blocks) override {
    torch::NoGradGuard ng;
    const int64_t B = rec.size(0), bt = rec.size(2) / blocks;
    std::vector<Tensor> out;
    for (int t = 0; t < blocks; ++t) {
      auto r = rec.narrow(2, t * bt, bt) * 2, x = ref.narrow(2, t * bt, bt) * 2;
      auto d = module_.forward({r, x}).toTensor().reshape({-1});
      if (d.size(0) != B) throw std::runtime_error("quality metric '" + path_ + "' must return one value per clip");
      out.push_back(-d.to(torch::kFloat32));
    }
    return torch::stack(out, 1);
  }
  std::string path_;
  torch::jit::script::Module module_;
};

}  // namespace

void compile_metric(const std::string& source, const std::string& out) {
  torch::jit::Module m("evatok_metric");
  try {
    m.define(source);
  } catch (const std::exception& e) {
    throw std::runtime_error("the metric source does not compile as TorchScript: " +
                             std::string(e.what()).substr(0, 600));
  }
  if (!m.find_method("forward")) throw std::runtime_error("the metric source defines no forward(self, rec, ref)");
  // One temporal block of two clips, as label and eval pass it.
  torch::manual_seed(0);
  auto ref = torch::rand({2, 3, 4, 16, 16}) * 2 - 1, rec = (ref + 0.1 * torch::randn_like(ref)).clamp(-1, 1);
  Tensor d;
  try {
    torch::NoGradGuard ng;
    auto r = m.forward({rec, ref});
    if (!r.isTensor()) throw std::runtime_error("forward returned no tensor");
    d = r.toTensor();
  } catch (const std::exception& e) {
    throw std::runtime_error("the metric fails on a [2,3,4,16,16] batch: " + std::string(e.what()).substr(0, 600));
  }
  if (d.numel() != 2) throw std::runtime_error("the metric must return one distance per clip ([B]), got " +
                                               std::to_string(d.numel()) + " values for 2 clips");
  if (!torch::isfinite(d.to(torch::kFloat32)).all().item<bool>())
    throw std::runtime_error("the metric returns non-finite distances");
  m.save(out);
}

bool is_builtin_metric(const std::string& spec) { return spec == "psnr" || spec == "ssim" || spec == "mse"; }

std::unique_ptr<QualityMetric> make_quality_metric(const std::string& spec, torch::Device device) {
  if (spec == "psnr") return std::make_unique<Psnr>();
  if (spec == "ssim") return std::make_unique<Ssim>();
  if (spec == "mse") return std::make_unique<Mse>();
  const std::string ts = "torchscript:";
  if (spec.rfind(ts, 0) == 0) return std::make_unique<Scripted>(spec.substr(ts.size()), device);
  throw std::runtime_error("unknown quality metric '" + spec + "' (psnr, ssim, mse or torchscript:FILE)");
}

}  // namespace evatok
