// Euler and Euler ancestral (Karras et al. 2022, Algorithm 2 with no churn; diffusers'
// EulerDiscreteScheduler and EulerAncestralDiscreteScheduler, k-diffusion's sample_euler and
// sample_euler_ancestral): in sigma coordinates x = x0 + sigma * noise the UNet sees
// x / sqrt(sigma^2 + 1), and each step follows d = (x - x0) / sigma to the next sigma. The
// ancestral variant steps to sigma_down and adds fresh noise of sigma_up, drawn at every step
// (also the last, where sigma_up is 0) so the draws line up with diffusers'.
#include <torch/torch.h>

#include <cmath>

#include "diffusion/sampler_loops.h"

namespace lathe::sampler_detail {

namespace {

// The derivative dx/dsigma at step i.
torch::Tensor euler_derivative(const SamplerRun& run, int64_t i, const torch::Tensor& x) {
  const double sigma = run.sigma(i);
  const auto output = run.model_output(i, x / std::sqrt(sigma * sigma + 1.0));
  return (x - denoised_from_sigma(run.prediction(), x, output, sigma)) / sigma;
}

}  // namespace

torch::Tensor sample_euler(const SamplerRun& run, torch::Tensor x) {
  for (int64_t i = 0; i < run.steps(); ++i) {
    x = x + euler_derivative(run, i, x) * (run.sigma(i + 1) - run.sigma(i));
    if (!run.keep_going(i, x)) break;
  }
  return x;
}

torch::Tensor sample_euler_ancestral(const SamplerRun& run, torch::Tensor x) {
  for (int64_t i = 0; i < run.steps(); ++i) {
    const double sigma = run.sigma(i);
    const double next = run.sigma(i + 1);
    const double sigma_up = std::sqrt(next * next * (sigma * sigma - next * next) / (sigma * sigma));
    const double sigma_down = std::sqrt(next * next - sigma_up * sigma_up);
    x = x + euler_derivative(run, i, x) * (sigma_down - sigma);
    x = x + run.noise_like(x) * sigma_up;
    if (!run.keep_going(i, x)) break;
  }
  return x;
}

}  // namespace lathe::sampler_detail
