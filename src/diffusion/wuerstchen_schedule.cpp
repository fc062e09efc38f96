// Wuerstchen schedule and OneTrainer's Stable Cascade draws (see wuerstchen_schedule.h). The
// float32 paths repeat OneTrainer's operations in the same order with the same scalar handling
// (python scalars meet float32 tensors as float32), so the grid of every drawable r matches
// its values bit for bit.
#include "diffusion/wuerstchen_schedule.h"

#include <torch/torch.h>

#include <cmath>

namespace lathe {

torch::Tensor wuerstchen_alpha_cumprod(const torch::Tensor& ratio_in) {
  // Ratios in bf16/fp16 (the prior's dtype) or integers are computed in float32, as OneTrainer
  // computes the schedule on its float32 timestep.
  const auto ratio = ratio_in.scalar_type() == torch::kFloat64 ? ratio_in : ratio_in.to(torch::kFloat32);
  const auto s = torch::full({1}, kWuerstchenCosineOffset, ratio.options());
  const auto init = torch::cos(s / (1 + s) * M_PI * 0.5).pow(2);
  const auto acp = torch::cos((ratio + s) / (1 + s) * M_PI * 0.5).pow(2) / init;
  return acp.clamp(kWuerstchenMinAlphaCumprod, kWuerstchenMaxAlphaCumprod);
}

torch::Tensor wuerstchen_add_noise(const torch::Tensor& x0, const torch::Tensor& noise,
                                   const torch::Tensor& ratio) {
  std::vector<int64_t> shape(static_cast<size_t>(x0.dim()), 1);
  shape[0] = ratio.size(0);
  const auto acp = wuerstchen_alpha_cumprod(ratio).view(shape);  // [B, 1, 1, 1]
  const auto noisy = x0.to(acp.scalar_type()) * acp.sqrt() + noise.to(acp.scalar_type()) * (1 - acp).sqrt();
  return noisy.to(x0.scalar_type());
}

torch::Tensor p2_loss_weight(const torch::Tensor& alpha_cumprod, double gamma) {
  const auto snr = alpha_cumprod / (1.0 - alpha_cumprod);
  return (1.0 + snr).pow(-gamma);
}

WuerstchenTimestep wuerstchen_timestep_from_uniform(const torch::Tensor& uniform) {
  const auto grid = static_cast<double>(kWuerstchenTimestepGrid);
  const double shift = 1.0;  // OneTrainer's timestep_shift default; the formula is kept for its rounding
  auto u = uniform.to(torch::kFloat32);
  auto v = grid * u;  // min_timestep 0 + (10000 - 0) * u
  v = grid * shift * v / ((shift - 1) * v + grid);
  const auto k = v.to(torch::kInt32) + 1;  // .int() truncates toward zero
  const auto t = k.to(torch::kFloat32) / grid;
  const auto r = (t + kWuerstchenRatioOffset).clamp(kWuerstchenRatioOffset, 1.0);
  return {t, r};
}

WuerstchenDraw draw_wuerstchen_noise(const torch::Tensor& latents, torch::Generator& generator) {
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(generator.device());
  const auto noise = torch::randn(latents.sizes(), generator, opts);
  const auto uniform = torch::rand({latents.size(0)}, generator, opts);
  const auto timestep = wuerstchen_timestep_from_uniform(uniform);
  return {noise.to(latents.device(), latents.scalar_type()), timestep.timestep.to(latents.device()),
          timestep.ratio.to(latents.device())};
}

torch::Tensor wuerstchen_validation_ratio(int64_t batch, torch::Device device) {
  const auto t = torch::full({batch}, kWuerstchenValidationTimestep,
                             torch::TensorOptions().dtype(torch::kFloat32).device(device));
  return (t + kWuerstchenRatioOffset).clamp(kWuerstchenRatioOffset, 1.0);
}

}  // namespace lathe
