// The Stage C training loss as OneTrainer computes it for Stable Cascade: epsilon target, MSE
// per sample in float32, times the per-sample loss weight (a concept's weight; 1 otherwise),
// times the P2 weight (1 + snr(r))^-gamma of the Wuerstchen schedule (gamma =
// loss_weight_strength, 1 in the preset), then the mean over the batch.
#pragma once

#include <torch/types.h>

namespace lathe {

struct WuerstchenLoss {
  torch::Tensor mse_per_sample;  // [B] float32: mean over C, H, W of (pred - target)^2
  torch::Tensor alpha_cumprod;   // [B] float32 at the step's ratio
  torch::Tensor p2_weight;       // [B] float32
  torch::Tensor loss;            // scalar: mean_b(mse_b * sample_weight_b * p2_b)
};

// pred and target (the noise) [B, C, H, W] in any float dtype (compared in float32); ratio [B]
// the r Stage C received; sample_weights [B] or undefined (all 1).
WuerstchenLoss wuerstchen_loss(const torch::Tensor& pred, const torch::Tensor& target,
                               const torch::Tensor& ratio, double p2_gamma = 1.0,
                               const torch::Tensor& sample_weights = {});

}  // namespace lathe
