// The inference timesteps and sigmas of each sampler, computed as diffusers 0.32's set_timesteps
// computes them for the SD configuration ("leading" spacing, steps_offset):
//   DDIM, DDPM, Euler(-a): t_k = k * (T // steps) + offset, k = steps-1 .. 0;
//   DPM-Solver:            t_k = k * (T // (steps + 1)) + offset, k = steps .. 1 (steps+1 points,
//                          the last dropped);
//   Karras (rho 7):        sigmas from sigma(T-1) down to sigma(0), the UNet's timestep found by
//                          interpolating log sigma in the training table, rounded half to even.
// The sigma of a timestep is sqrt((1 - acp) / acp) in float32, as the schedulers hold it.
#include <fmt/format.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "common/error.h"
#include "diffusion/sampler.h"

namespace lathe {

namespace {

// diffusers' Euler and DPM schedulers under rescale_betas_zero_snr set the last alphas_cumprod to
// 2^-24 so sigma(T-1) stays finite; the same here for a zero-terminal-SNR schedule.
constexpr double kZeroSnrAlphaCumprod = 1.0 / 16777216.0;

// [T] float32 sigma(t) on the CPU.
torch::Tensor training_sigmas(const NoiseSchedule& schedule) {
  auto acp = schedule.alphas_cumprod().to(torch::kCPU).clone();
  if (acp[-1].item<float>() <= 0.0f) acp[-1] = kZeroSnrAlphaCumprod;
  return ((1.0 - acp) / acp).sqrt();
}

void check_steps(const NoiseSchedule& schedule, const SamplerConfig& config, int64_t spacing_points) {
  const int64_t total = schedule.num_timesteps();
  if (config.steps < 1)
    throw Error(fmt::format("sampler steps: {} is not a step count; use 1 or more", config.steps));
  if (config.steps_offset < 0)
    throw Error(fmt::format("sampler steps_offset: {} must be 0 or more", config.steps_offset));
  const int64_t ratio = total / spacing_points;
  const int64_t highest = (spacing_points - 1) * ratio + config.steps_offset;
  if (ratio < 1 || highest >= total) {
    throw Error(fmt::format(
        "sampler steps: {} steps with steps_offset {} leave the {}-step training schedule "
        "(highest timestep {}); use at most {} steps",
        config.steps, config.steps_offset, total, highest,
        total - config.steps_offset - (spacing_points - config.steps)));
  }
}

// "leading" spacing over `points` evenly spaced training steps, highest first, keeping the
// first `keep` of them (DPM-Solver computes steps + 1 points and drops the last).
std::vector<int64_t> leading_timesteps(int64_t total, int64_t points, int64_t keep, int64_t offset) {
  const int64_t ratio = total / points;
  std::vector<int64_t> out;
  for (int64_t k = points - 1; k >= 0 && static_cast<int64_t>(out.size()) < keep; --k)
    out.push_back(k * ratio + offset);
  return out;
}

torch::Tensor int64_tensor(const std::vector<int64_t>& values) {
  return torch::tensor(values, torch::TensorOptions().dtype(torch::kInt64));
}

// sigmas at integral timesteps (diffusers' np.interp at integer points), then a final 0.
torch::Tensor sigmas_at(const torch::Tensor& table, const std::vector<int64_t>& timesteps) {
  auto picked = table.index_select(0, int64_tensor(timesteps));
  return torch::cat({picked, torch::zeros({1}, picked.options())});
}

// Karras et al. 2022 (eq. 5): rho-spaced sigmas from sigma_max down to sigma_min, in float64.
std::vector<double> karras_sigmas(double sigma_min, double sigma_max, int64_t steps) {
  constexpr double rho = 7.0;
  const double min_inv_rho = std::pow(sigma_min, 1.0 / rho);
  const double max_inv_rho = std::pow(sigma_max, 1.0 / rho);
  std::vector<double> out;
  for (int64_t k = 0; k < steps; ++k) {
    const double ramp = steps == 1 ? 0.0 : static_cast<double>(k) / static_cast<double>(steps - 1);
    out.push_back(std::pow(max_inv_rho + ramp * (min_inv_rho - max_inv_rho), rho));
  }
  return out;
}

// diffusers' _sigma_to_t: the fractional training step whose log sigma equals log(sigma),
// interpolating between the two neighbouring steps of the (float32) table and clamping at its
// ends.
double sigma_to_timestep(double sigma, const std::vector<float>& log_sigmas) {
  const double log_sigma = std::log(std::max(sigma, 1e-10));
  const int64_t last_low = static_cast<int64_t>(log_sigmas.size()) - 2;
  int64_t low = 0;  // the highest step whose log sigma is at most log_sigma
  for (int64_t i = 0; i < static_cast<int64_t>(log_sigmas.size()); ++i)
    if (static_cast<double>(log_sigmas[i]) <= log_sigma) low = i;
  low = std::min(low, last_low);
  const double low_value = log_sigmas[low];
  const double high_value = log_sigmas[low + 1];
  const double w = std::clamp((low_value - log_sigma) / (low_value - high_value), 0.0, 1.0);
  return (1.0 - w) * static_cast<double>(low) + w * static_cast<double>(low + 1);
}

InferenceSchedule alpha_schedule(const NoiseSchedule& schedule, const SamplerConfig& config) {
  check_steps(schedule, config, config.steps);
  InferenceSchedule out;
  out.timesteps = int64_tensor(
      leading_timesteps(schedule.num_timesteps(), config.steps, config.steps, config.steps_offset));
  return out;
}

InferenceSchedule euler_schedule(const NoiseSchedule& schedule, const SamplerConfig& config) {
  check_steps(schedule, config, config.steps);
  const auto timesteps =
      leading_timesteps(schedule.num_timesteps(), config.steps, config.steps, config.steps_offset);
  InferenceSchedule out;
  out.timesteps = int64_tensor(timesteps).to(torch::kFloat32);
  out.sigmas = sigmas_at(training_sigmas(schedule), timesteps);
  // Leading spacing starts below T-1, so diffusers scales the first noise to the whole variance
  // sqrt(sigma_max^2 + 1) of x = x0 + sigma * noise (linspace/trailing would use sigma_max).
  // In float32, as diffusers computes it from its float32 sigmas.
  const float sigma_max = out.sigmas.max().item<float>();
  out.init_noise_sigma = std::sqrt(sigma_max * sigma_max + 1.0f);
  return out;
}

InferenceSchedule dpm_solver_schedule(const NoiseSchedule& schedule, const SamplerConfig& config) {
  check_steps(schedule, config, config.steps + 1);
  const auto timesteps = leading_timesteps(schedule.num_timesteps(), config.steps + 1,
                                           config.steps, config.steps_offset);
  InferenceSchedule out;
  out.timesteps = int64_tensor(timesteps);
  out.sigmas = sigmas_at(training_sigmas(schedule), timesteps);
  return out;
}

InferenceSchedule karras_schedule(const NoiseSchedule& schedule, const SamplerConfig& config) {
  if (config.steps < 1)
    throw Error(fmt::format("sampler steps: {} is not a step count; use 1 or more", config.steps));
  const auto table = training_sigmas(schedule);
  std::vector<float> log_sigmas(static_cast<size_t>(table.size(0)));
  auto logs = table.log();
  std::copy(logs.data_ptr<float>(), logs.data_ptr<float>() + logs.numel(), log_sigmas.begin());
  const auto sigmas = karras_sigmas(table[0].item<float>(), table[-1].item<float>(), config.steps);
  std::vector<int64_t> timesteps;
  std::vector<float> sigmas_f32;
  for (double sigma : sigmas) {
    // np.round: half to even, which nearbyint does in the default rounding mode.
    timesteps.push_back(static_cast<int64_t>(std::nearbyint(sigma_to_timestep(sigma, log_sigmas))));
    sigmas_f32.push_back(static_cast<float>(sigma));
  }
  sigmas_f32.push_back(0.0f);
  InferenceSchedule out;
  out.timesteps = int64_tensor(timesteps);
  out.sigmas = torch::tensor(sigmas_f32, torch::TensorOptions().dtype(torch::kFloat32));
  return out;
}

}  // namespace

InferenceSchedule inference_schedule(const NoiseSchedule& schedule, const SamplerConfig& config) {
  switch (config.kind) {
    case SamplerKind::DDIM:
    case SamplerKind::DDPM:
      return alpha_schedule(schedule, config);
    case SamplerKind::Euler:
    case SamplerKind::EulerAncestral:
      return euler_schedule(schedule, config);
    case SamplerKind::DPMPP2M:
      return dpm_solver_schedule(schedule, config);
    case SamplerKind::DPMPP2MKarras:
      return karras_schedule(schedule, config);
  }
  throw Error("inference_schedule: unknown sampler kind");
}

}  // namespace lathe
