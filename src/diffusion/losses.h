// The diffusion training loss as kohya-ss sd-scripts computes it: an element-wise loss
// (MSE, or kohya's pseudo-Huber "huber" / "smooth_l1" with a per-sample threshold c), averaged
// per sample, multiplied by per-sample weights (a regularisation concept's prior-loss weight)
// and by the min-SNR-gamma weight (Hang et al. 2023), then averaged over the batch.
// Everything keeps reduction "none" until the last step so weights apply per sample.
#pragma once

#include <torch/types.h>

#include <string>

#include "diffusion/noise_schedule.h"

namespace lathe {

enum class LossType { MSE, Huber, SmoothL1 };
// How the Huber threshold c depends on the timestep (kohya's --huber_schedule).
enum class HuberSchedule { Constant, Exponential, SNR };

// "mse" (also "l2") | "huber" | "smooth_l1"; throws lathe::Error naming `key` otherwise.
LossType loss_type_from_string(const std::string& text, const std::string& key);
std::string to_string(LossType type);
// "constant" | "exponential" | "snr".
HuberSchedule huber_schedule_from_string(const std::string& text, const std::string& key);
std::string to_string(HuberSchedule schedule);

struct LossConfig {
  LossType type = LossType::MSE;
  double huber_c = 0.1;                            // kohya's default
  HuberSchedule huber_schedule = HuberSchedule::SNR;  // kohya's default
  double huber_scale = 1.0;                        // scales constant / exponential c
  double min_snr_gamma = 0.0;                      // 0 = off; 5 is the paper's value
};

// Throws lathe::Error naming the loss key that is out of range.
void check_loss_config(const LossConfig& config);

// Element-wise loss, same shape as pred. huber_c is [B] (one threshold per sample) and is
// only read for Huber / smooth-L1:
//   mse:       (pred - target)^2
//   huber:     2 c (sqrt((pred - target)^2 + c^2) - c)
//   smooth_l1: 2   (sqrt((pred - target)^2 + c^2) - c)
torch::Tensor elementwise_loss(const torch::Tensor& pred, const torch::Tensor& target,
                               LossType type, const torch::Tensor& huber_c = {});

// Per-sample Huber threshold [B] for `timesteps` (kohya's get_huber_threshold):
//   constant:    c * scale
//   exponential: exp(-alpha t) * scale, alpha = -ln(c) / T   (1 at t = 0, c at t = T)
//   snr:         (1 - c) / (1 + sigma_t)^2 + c, sigma_t = sqrt((1 - acp) / acp)
torch::Tensor huber_threshold(const LossConfig& config, const NoiseSchedule& schedule,
                              const torch::Tensor& timesteps);

// min-SNR-gamma weight per sample from snr [B]: min(snr, gamma) / snr for epsilon,
// min(snr, gamma) / (snr + 1) for v-prediction. For epsilon at snr == 0 (zero-terminal SNR)
// the weight is its limit, 1, instead of 0/0.
torch::Tensor min_snr_weight(const torch::Tensor& snr, double gamma, Prediction prediction);

// Mean over every dim but the first: [B, ...] -> [B].
torch::Tensor per_sample_mean(const torch::Tensor& loss);

// The whole training loss of one batch, as a scalar:
//   mean_b( mean_chw(elementwise) * sample_weights_b * min_snr_weight_b )
// sample_weights [B] may be undefined (all 1). timesteps [B] int64.
torch::Tensor diffusion_loss(const torch::Tensor& pred, const torch::Tensor& target,
                             const torch::Tensor& timesteps, const NoiseSchedule& schedule,
                             Prediction prediction, const LossConfig& config,
                             const torch::Tensor& sample_weights = {});

}  // namespace lathe
