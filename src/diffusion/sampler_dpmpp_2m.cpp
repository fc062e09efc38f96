// DPM-Solver++(2M) (Lu et al. 2022; diffusers' DPMSolverMultistepScheduler with algorithm_type
// "dpmsolver++", solver_order 2, solver_type "midpoint", final_sigmas_type "zero"): a multistep
// solver in log-SNR time lambda = log(alpha / sigma_t) on the data prediction x0. The first step
// is first order (no previous x0 yet) and so is the last (lower_order_final: its sigma is 0 and
// it returns x0). The UNet gets the latents unscaled. Karras sigmas change only the schedule.
#include <torch/torch.h>

#include <cmath>

#include "diffusion/sampler_loops.h"

namespace lathe::sampler_detail {

namespace {

// VP coefficients of sigma: x = alpha x0 + sigma_t eps with alpha = 1 / sqrt(sigma^2 + 1).
struct AlphaSigma {
  double alpha;
  double sigma_t;
  double lambda() const { return std::log(alpha) - std::log(sigma_t); }
};

AlphaSigma alpha_sigma(double sigma) {
  const double alpha = 1.0 / std::sqrt(sigma * sigma + 1.0);
  return {alpha, sigma * alpha};
}

}  // namespace

torch::Tensor sample_dpmpp_2m(const SamplerRun& run, torch::Tensor x) {
  torch::Tensor previous_x0;
  double previous_h = 0.0;
  for (int64_t i = 0; i < run.steps(); ++i) {
    const auto now = alpha_sigma(run.sigma(i));
    const auto output = run.model_output(i, x);
    const auto x0 = predict_x0(run.prediction(), x, output, now.alpha, now.sigma_t).x0;
    if (run.sigma(i + 1) == 0.0) {
      x = x0;  // the first-order step to sigma 0 lands on x0
    } else {
      const auto next = alpha_sigma(run.sigma(i + 1));
      const double h = next.lambda() - now.lambda();
      const bool first_order = i == 0 || i == run.steps() - 1;
      auto d = x0;
      if (!first_order) d = x0 + (0.5 * h / previous_h) * (x0 - previous_x0);  // D0 + D1 / 2, r = h_prev / h
      x = (next.sigma_t / now.sigma_t) * x - (next.alpha * std::expm1(-h)) * d;
      previous_h = h;
    }
    previous_x0 = x0;
    if (!run.keep_going(i, x)) break;
  }
  return x;
}

}  // namespace lathe::sampler_detail
