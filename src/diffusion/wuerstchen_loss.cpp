// Stage C loss (see wuerstchen_loss.h), in OneTrainer's order: per-sample MSE, the loss weight,
// then the timestep weight, then the batch mean.
#include "diffusion/wuerstchen_loss.h"

#include <torch/torch.h>

#include "diffusion/losses.h"
#include "diffusion/wuerstchen_schedule.h"

namespace lathe {

WuerstchenLoss wuerstchen_loss(const torch::Tensor& pred, const torch::Tensor& target,
                               const torch::Tensor& ratio, double p2_gamma,
                               const torch::Tensor& sample_weights) {
  WuerstchenLoss out;
  const auto diff = pred.to(torch::kFloat32) - target.to(torch::kFloat32);
  out.mse_per_sample = per_sample_mean(diff * diff);
  auto losses = out.mse_per_sample;
  if (sample_weights.defined()) losses = losses * sample_weights.to(losses.device(), torch::kFloat32);
  out.alpha_cumprod = wuerstchen_alpha_cumprod(ratio.to(losses.device(), torch::kFloat32));
  out.p2_weight = p2_loss_weight(out.alpha_cumprod, p2_gamma);
  out.loss = (losses * out.p2_weight).mean();
  return out;
}

}  // namespace lathe
