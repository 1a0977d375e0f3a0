// Quality scores Q for the proxy reward and for evaluation: higher is better,
// one value per temporal block. Built-ins need no downloaded network (PSNR,
// SSIM); a user can plug in a TorchScript perceptual metric (LPIPS-like).
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>

namespace evatok {

class QualityMetric {
 public:
  virtual ~QualityMetric() = default;
  virtual std::string name() const = 0;
  // rec, ref: [B,3,T,H,W] in [-0.5,0.5], T a multiple of blocks; -> [B, blocks].
  virtual torch::Tensor per_block(const torch::Tensor& rec, const torch::Tensor& ref, int blocks) = 0;
};

// "psnr" (dB), "ssim" (mean SSIM of frames, 11-tap Gaussian window, on RGB),
// "mse" (negated mean squared error, pixels in [0, 1]),
// or "torchscript:PATH": a module forward(rec, ref) -> [B] distance (lower is
// better, inputs [B,3,T,H,W] in [-1,1]); its quality is the negated distance.
// Throws std::runtime_error with a reason for an unknown name or a bad file.
std::unique_ptr<QualityMetric> make_quality_metric(const std::string& spec, torch::Device device);
// True for the metrics built into this library (no file to load).
bool is_builtin_metric(const std::string& spec);

// Compiles TorchScript source that defines `forward(self, rec, ref)` into a
// module file for "torchscript:PATH", so a metric can be written without
// Python. The module is tried on a small batch first: a source that does not
// compile or does not return one finite value per clip is refused with the
// reason, and nothing is written.
void compile_metric(const std::string& source, const std::string& out);

// Per-frame SSIM, [B,3,T,H,W] -> [B,T] (luma-free: channel mean).
torch::Tensor ssim_frames(const torch::Tensor& rec, const torch::Tensor& ref);
// Per-frame PSNR for pixels in [-0.5,0.5] (peak 1), [B,3,T,H,W] -> [B,T].
torch::Tensor psnr_frames(const torch::Tensor& rec, const torch::Tensor& ref);

}  // namespace evatok
