// The shared parts of the sampler loops: one step's model call (with the timestep as diffusers
// passes it and the output checked and widened to float32) and the conversions from a model
// output to the clean-latent estimate x0 in the two coordinate systems the samplers use.
#include <fmt/format.h>
#include <torch/torch.h>

#include <cmath>

#include "common/error.h"
#include "diffusion/sampler_loops.h"

namespace lathe::sampler_detail {

namespace {

std::string shape_text(c10::IntArrayRef sizes) {
  std::string out = "[";
  for (size_t i = 0; i < sizes.size(); ++i) out += (i ? ", " : "") + std::to_string(sizes[i]);
  return out + "]";
}

std::vector<double> to_doubles(const torch::Tensor& t) {
  auto wide = t.to(torch::kCPU, torch::kFloat64).contiguous();
  return {wide.data_ptr<double>(), wide.data_ptr<double>() + wide.numel()};
}

}  // namespace

SamplerRun::SamplerRun(const NoiseSchedule& schedule, const SamplerConfig& config, InferenceSchedule plan,
                       const Denoiser& denoiser, StepNoise& step_noise, const StepCallback& on_step)
    : plan_(std::move(plan)),
      alphas_cumprod_(to_doubles(schedule.alphas_cumprod())),
      prediction_(config.prediction),
      denoiser_(denoiser),
      step_noise_(step_noise),
      on_step_(on_step) {
  if (plan_.sigmas.defined()) sigmas_ = to_doubles(plan_.sigmas);
}

int64_t SamplerRun::timestep(int64_t i) const { return plan_.timesteps[i].item().toLong(); }

double SamplerRun::sigma(int64_t i) const { return sigmas_.at(static_cast<size_t>(i)); }

torch::Tensor SamplerRun::model_output(int64_t i, const torch::Tensor& x_in) const {
  auto timestep = plan_.timesteps.slice(0, i, i + 1).to(x_in.device());
  auto output = denoiser_(x_in, timestep);
  if (!output.defined() || output.sizes() != x_in.sizes()) {
    throw Error(fmt::format("sampler step {}: the model returned {} for latents of shape {}", i + 1,
                            output.defined() ? "shape " + shape_text(output.sizes()) : "nothing",
                            shape_text(x_in.sizes())));
  }
  return output.to(torch::kFloat32);
}

PredictedX0 predict_x0(Prediction prediction, const torch::Tensor& x, const torch::Tensor& output,
                       double alpha, double sigma_t) {
  if (prediction == Prediction::VPrediction)
    return {alpha * x - sigma_t * output, alpha * output + sigma_t * x};
  return {(x - sigma_t * output) / alpha, output};
}

torch::Tensor denoised_from_sigma(Prediction prediction, const torch::Tensor& x, const torch::Tensor& output,
                                  double sigma) {
  if (prediction == Prediction::VPrediction)
    return output * (-sigma / std::sqrt(sigma * sigma + 1.0)) + x / (sigma * sigma + 1.0);
  return x - sigma * output;
}

}  // namespace lathe::sampler_detail
