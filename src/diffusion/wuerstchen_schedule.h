// The Wuerstchen noise schedule Stable Cascade's Stage C trains with, and OneTrainer's draw of
// a training step's noise and timestep ratio. Time is continuous: a ratio r in (0, 1] (Stage C's
// `timestep_ratio`), alpha_cumprod(r) the cosine schedule with offset s = 0.008 (Nichol &
// Dhariwal) clamped to [1e-4, 0.9999], as OneTrainer's BaseWuerstchenSetup.__alpha_cumprod and
// diffusers' DDPMWuerstchenScheduler compute it (bit-identical in float32). OneTrainer draws r on
// a 1e-4 grid: u = rand(B); k = int(10000 u); t = (k + 1) / 10000; r = clamp(t + 0.001, 0.001,
// 1), all in float32, after the noise, from the same generator. Validation uses r = 0.501.
#pragma once

#include <torch/types.h>

#include <cstdint>

namespace lathe {

constexpr double kWuerstchenCosineOffset = 0.008;     // s
constexpr double kWuerstchenMinAlphaCumprod = 1e-4;
constexpr double kWuerstchenMaxAlphaCumprod = 0.9999;
constexpr int64_t kWuerstchenTimestepGrid = 10000;    // OneTrainer's discretisation of [0, 1]
constexpr double kWuerstchenRatioOffset = 0.001;      // Stable Cascade: r = t + 0.001
constexpr double kWuerstchenValidationTimestep = 0.5;  // OneTrainer's deterministic t

// alpha_cumprod(r) = clamp(cos((r + s) / (1 + s) * pi / 2)^2 / cos(s / (1 + s) * pi / 2)^2,
// 1e-4, 0.9999), element-wise: float64 for a float64 r (a reference), else float32 with
// OneTrainer's operation order.
torch::Tensor wuerstchen_alpha_cumprod(const torch::Tensor& ratio);

// x_r = sqrt(acp) * x0 + sqrt(1 - acp) * noise, acp = alpha_cumprod(ratio) per sample; x0 and
// noise [B, ...], ratio [B]. Computed in ratio's dtype, returned in x0's dtype.
torch::Tensor wuerstchen_add_noise(const torch::Tensor& x0, const torch::Tensor& noise,
                                   const torch::Tensor& ratio);

// The P2 loss weight (Choi et al. 2022) with k = 1: (1 + snr)^-gamma, snr = acp / (1 - acp);
// at gamma = 1 this is 1 - acp. acp any shape; same dtype out.
torch::Tensor p2_loss_weight(const torch::Tensor& alpha_cumprod, double gamma = 1.0);

// OneTrainer's timestep for Stable Cascade from B uniforms u in [0, 1) (float32):
// t = (int(10000 u * 10000 / 10000) + 1) / 10000 (the timestep shift at shift 1, kept so the
// float32 rounding is OneTrainer's), then r = clamp(t + 0.001, 0.001, 1). Returns {t, r}.
struct WuerstchenTimestep {
  torch::Tensor timestep;  // t, [B] float32 on the 1e-4 grid in [1e-4, 1]
  torch::Tensor ratio;     // r, [B] float32: what Stage C receives as timestep_ratio
};
WuerstchenTimestep wuerstchen_timestep_from_uniform(const torch::Tensor& uniform);

// One training step's random draws, in OneTrainer's order from one generator: the noise
// randn(latents.shape) (float32, on the generator's device), then u = rand(B). Tensors come
// back on latents' device; noise in latents' dtype.
struct WuerstchenDraw {
  torch::Tensor noise;     // [B, C, H, W]
  torch::Tensor timestep;  // t [B]
  torch::Tensor ratio;     // r [B]
};
WuerstchenDraw draw_wuerstchen_noise(const torch::Tensor& latents, torch::Generator& generator);

// The deterministic (validation) ratio, 0.5 + 0.001 in float32, for `batch` samples.
torch::Tensor wuerstchen_validation_ratio(int64_t batch, torch::Device device = torch::kCPU);

}  // namespace lathe
