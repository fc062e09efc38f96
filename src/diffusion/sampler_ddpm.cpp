// DDPM ancestral sampling (Ho et al. 2020; diffusers' DDPMScheduler, variance "fixed_small",
// clip_sample off as in the SD configuration): the posterior mean of x_prev given x0 and x_t,
// plus posterior-variance noise. With fewer steps than the training schedule the step goes to
// the next inference timestep (alphas_cumprod 1 after the last), as diffusers' previous_timestep.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "diffusion/sampler_loops.h"

namespace lathe::sampler_detail {

torch::Tensor sample_ddpm(const SamplerRun& run, torch::Tensor x) {
  for (int64_t i = 0; i < run.steps(); ++i) {
    const int64_t t = run.timestep(i);
    const double a_t = run.alpha_cumprod(t);
    const double a_prev = i + 1 < run.steps() ? run.alpha_cumprod(run.timestep(i + 1)) : 1.0;
    const double alpha = a_t / a_prev;
    const double beta = 1.0 - alpha;
    const auto output = run.model_output(i, x);
    const auto x0 = predict_x0(run.prediction(), x, output, std::sqrt(a_t), std::sqrt(1.0 - a_t)).x0;
    x = (std::sqrt(a_prev) * beta / (1.0 - a_t)) * x0 + (std::sqrt(alpha) * (1.0 - a_prev) / (1.0 - a_t)) * x;
    if (t > 0) {
      // Clamped as diffusers does: the last step's variance is 0 and adds 1e-10 * noise.
      const double variance = std::max((1.0 - a_prev) / (1.0 - a_t) * beta, 1e-20);
      x = x + std::sqrt(variance) * run.noise_like(x);
    }
    if (!run.keep_going(i, x)) break;
  }
  return x;
}

}  // namespace lathe::sampler_detail
