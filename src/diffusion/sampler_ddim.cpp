// DDIM with eta 0 (Song et al. 2021; diffusers' DDIMScheduler): deterministic, each step jumps
// from t to t - T // steps along the predicted x0 and noise. With set_alpha_to_one false (the SD
// configuration) the last step ends at alphas_cumprod[0], not at 1, so the result keeps a trace
// of noise as in every SD pipeline.
#include <torch/torch.h>

#include <cmath>

#include "diffusion/sampler_loops.h"

namespace lathe::sampler_detail {

torch::Tensor sample_ddim(const SamplerRun& run, torch::Tensor x) {
  const int64_t jump = run.num_train_timesteps() / run.steps();
  for (int64_t i = 0; i < run.steps(); ++i) {
    const int64_t t = run.timestep(i);
    const double a_t = run.alpha_cumprod(t);
    const double a_prev = run.alpha_cumprod(t - jump >= 0 ? t - jump : 0);
    const auto output = run.model_output(i, x);
    const auto pred = predict_x0(run.prediction(), x, output, std::sqrt(a_t), std::sqrt(1.0 - a_t));
    x = std::sqrt(a_prev) * pred.x0 + std::sqrt(1.0 - a_prev) * pred.eps;
    if (!run.keep_going(i, x)) break;
  }
  return x;
}

}  // namespace lathe::sampler_detail
