// Inside sample(): what every sampler loop needs (the inference schedule, the training table on
// the host, the denoiser, the step noise, the progress callback) and the loops themselves, one
// file each, each a short loop in the manner of k-diffusion's sampling.py with the numbers of
// the diffusers scheduler it mirrors. Not for use outside src/diffusion; call sample().
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "diffusion/sampler.h"

namespace lathe::sampler_detail {

class SamplerRun {
 public:
  SamplerRun(const NoiseSchedule& schedule, const SamplerConfig& config, InferenceSchedule plan,
             const Denoiser& denoiser, StepNoise& step_noise, const StepCallback& on_step);

  int64_t steps() const { return plan_.timesteps.size(0); }
  Prediction prediction() const { return prediction_; }
  int64_t num_train_timesteps() const { return static_cast<int64_t>(alphas_cumprod_.size()); }
  const InferenceSchedule& plan() const { return plan_; }

  int64_t timestep(int64_t i) const;  // the UNet's timestep of step i, as an integer
  double sigma(int64_t i) const;      // plan().sigmas[i] (sigma samplers)
  double alpha_cumprod(int64_t t) const { return alphas_cumprod_.at(static_cast<size_t>(t)); }

  // The denoiser's output at step i for the (already scaled) input, as float32 of x_in's shape.
  torch::Tensor model_output(int64_t i, const torch::Tensor& x_in) const;
  // A fresh noise draw shaped like x (Euler a, DDPM).
  torch::Tensor noise_like(const torch::Tensor& x) const { return step_noise_.next(x).to(x.dtype()); }
  // Reports step i; false means stop and return x as it is.
  bool keep_going(int64_t i, const torch::Tensor& x) const { return !on_step_ || on_step_(i, steps(), x); }

 private:
  InferenceSchedule plan_;
  std::vector<double> alphas_cumprod_;  // the float32 training table, widened
  std::vector<double> sigmas_;
  Prediction prediction_;
  const Denoiser& denoiser_;
  StepNoise& step_noise_;
  const StepCallback& on_step_;
};

// x0 and the noise from a model output where x = alpha x0 + sigma_t eps (alpha = sqrt(acp),
// sigma_t = sqrt(1 - acp): DDIM, DDPM, and DPM-Solver with alpha = 1 / sqrt(sigma^2 + 1)):
// epsilon: x0 = (x - sigma_t eps) / alpha; v: x0 = alpha x - sigma_t v, eps = alpha v + sigma_t x.
struct PredictedX0 {
  torch::Tensor x0;
  torch::Tensor eps;
};
PredictedX0 predict_x0(Prediction prediction, const torch::Tensor& x, const torch::Tensor& output,
                       double alpha, double sigma_t);

// x0 in sigma coordinates x = x0 + sigma * eps (Euler, DPM-Solver with x at scale 1):
// epsilon: x - sigma eps; v: -sigma / sqrt(sigma^2 + 1) v + x / (sigma^2 + 1).
torch::Tensor denoised_from_sigma(Prediction prediction, const torch::Tensor& x, const torch::Tensor& output,
                                  double sigma);

// Each loop takes the initial latents (noise * init_noise_sigma) and returns the final ones.
torch::Tensor sample_ddim(const SamplerRun& run, torch::Tensor x);
torch::Tensor sample_ddpm(const SamplerRun& run, torch::Tensor x);
torch::Tensor sample_euler(const SamplerRun& run, torch::Tensor x);
torch::Tensor sample_euler_ancestral(const SamplerRun& run, torch::Tensor x);
torch::Tensor sample_dpmpp_2m(const SamplerRun& run, torch::Tensor x);

}  // namespace lathe::sampler_detail
