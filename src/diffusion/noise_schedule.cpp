// DDPM noise schedule: the tables are built once in float32 on the CPU exactly as diffusers
// does (linspace of sqrt(beta), squared; cumprod of 1 - beta) and then moved to the device.
#include "diffusion/noise_schedule.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include "common/error.h"

namespace lathe {

Prediction prediction_from_string(const std::string& text, const std::string& key) {
  if (text == "epsilon" || text == "eps") return Prediction::Epsilon;
  if (text == "v_prediction" || text == "v") return Prediction::VPrediction;
  throw Error(fmt::format("{}: unknown prediction type \"{}\"; use \"epsilon\" or \"v_prediction\"",
                          key, text));
}

std::string to_string(Prediction prediction) {
  return prediction == Prediction::Epsilon ? "epsilon" : "v_prediction";
}

torch::Tensor rescale_zero_terminal_snr(const torch::Tensor& betas) {
  auto alphas_bar_sqrt = torch::cumprod(1.0 - betas, 0).sqrt();
  auto first = alphas_bar_sqrt[0].clone();
  auto last = alphas_bar_sqrt[-1].clone();
  alphas_bar_sqrt = (alphas_bar_sqrt - last) * (first / (first - last));
  auto alphas_bar = alphas_bar_sqrt * alphas_bar_sqrt;
  auto n = alphas_bar.size(0);
  // Undo the cumprod: alpha_t = abar_t / abar_{t-1}, alpha_0 = abar_0.
  auto alphas = torch::cat({alphas_bar.slice(0, 0, 1),
                            alphas_bar.slice(0, 1, n) / alphas_bar.slice(0, 0, n - 1)});
  return 1.0 - alphas;
}

namespace {

void check_config(const NoiseScheduleConfig& c) {
  if (c.num_timesteps < 2) {
    throw Error(fmt::format("noise schedule: num_timesteps is {}; it must be at least 2",
                            c.num_timesteps));
  }
  if (!(c.beta_start > 0.0) || !(c.beta_end < 1.0) || !(c.beta_end >= c.beta_start)) {
    throw Error(fmt::format(
        "noise schedule: betas {} -> {} are out of range; need 0 < beta_start <= beta_end < 1",
        c.beta_start, c.beta_end));
  }
}

}  // namespace

NoiseSchedule::NoiseSchedule(const NoiseScheduleConfig& config, torch::Device device)
    : config_(config) {
  check_config(config_);
  auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
  auto root = torch::linspace(std::sqrt(config_.beta_start), std::sqrt(config_.beta_end),
                              config_.num_timesteps, f32);
  auto betas = root * root;
  if (config_.zero_terminal_snr) betas = rescale_zero_terminal_snr(betas);
  auto acp = torch::cumprod(1.0 - betas, 0);
  betas_ = betas.to(device);
  alphas_cumprod_ = acp.to(device);
  sqrt_acp_ = acp.sqrt().to(device);
  sqrt_one_minus_acp_ = (1.0 - acp).sqrt().to(device);
}

std::pair<torch::Tensor, torch::Tensor> NoiseSchedule::coefficients(
    const torch::Tensor& timesteps, const torch::Tensor& like) const {
  auto t = timesteps.to(betas_.device(), torch::kLong);
  std::vector<int64_t> shape(static_cast<size_t>(like.dim()), 1);
  shape[0] = t.size(0);
  auto a = sqrt_acp_.index_select(0, t).to(like.device(), like.scalar_type()).view(shape);
  auto s = sqrt_one_minus_acp_.index_select(0, t).to(like.device(), like.scalar_type()).view(shape);
  return {a, s};
}

torch::Tensor NoiseSchedule::snr(const torch::Tensor& timesteps) const {
  auto t = timesteps.to(betas_.device(), torch::kLong);
  auto acp = alphas_cumprod_.index_select(0, t);
  return (acp / (1.0 - acp)).to(timesteps.device());
}

torch::Tensor NoiseSchedule::add_noise(const torch::Tensor& x0, const torch::Tensor& noise,
                                       const torch::Tensor& timesteps) const {
  auto [a, s] = coefficients(timesteps, x0);
  return a * x0 + s * noise;
}

torch::Tensor NoiseSchedule::velocity(const torch::Tensor& x0, const torch::Tensor& noise,
                                      const torch::Tensor& timesteps) const {
  auto [a, s] = coefficients(timesteps, x0);
  return a * noise - s * x0;
}

torch::Tensor NoiseSchedule::target(Prediction prediction, const torch::Tensor& x0,
                                    const torch::Tensor& noise,
                                    const torch::Tensor& timesteps) const {
  return prediction == Prediction::Epsilon ? noise : velocity(x0, noise, timesteps);
}

torch::Tensor NoiseSchedule::predict_x0(Prediction prediction, const torch::Tensor& x_t,
                                        const torch::Tensor& model_output,
                                        const torch::Tensor& timesteps) const {
  auto [a, s] = coefficients(timesteps, x_t);
  if (prediction == Prediction::VPrediction) return a * x_t - s * model_output;
  return (x_t - s * model_output) / a;
}

torch::Tensor NoiseSchedule::sample_timesteps(int64_t batch, int64_t min_timestep,
                                              int64_t max_timestep, torch::Generator& generator,
                                              torch::Device device) const {
  const int64_t T = config_.num_timesteps;
  if (min_timestep < 0 || max_timestep > T || min_timestep > max_timestep ||
      min_timestep >= T) {
    throw Error(fmt::format(
        "noise.min_timestep = {}, noise.max_timestep = {}: need 0 <= min_timestep <= "
        "max_timestep <= {} and min_timestep < {}",
        min_timestep, max_timestep, T, T));
  }
  auto opts = torch::TensorOptions().dtype(torch::kLong).device(generator.device());
  if (min_timestep == max_timestep) {
    return torch::full({batch}, min_timestep, opts.device(device));
  }
  return torch::randint(min_timestep, max_timestep, {batch}, generator, opts).to(device);
}

}  // namespace lathe
