// The DDPM forward process used by Stable Diffusion training: the scaled-linear beta table
// (0.00085 -> 0.012 over 1000 steps, as diffusers' DDPMScheduler "scaled_linear"), the
// cumulative alphas, noising x0 at a timestep, the epsilon and v-prediction targets, SNR(t),
// the optional zero-terminal-SNR rescale (Lin et al. 2023, diffusers' rescale_zero_terminal_snr)
// and uniform timestep sampling. Tables are float32 like diffusers', so a run matches kohya's
// numbers; they live on the device given at construction so the hot path never copies them.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>

namespace lathe {

// What the network predicts: SD 1.x/2.x-base/SDXL predict the noise (epsilon); SD 2.x 768-v
// models predict v = sqrt(acp) * noise - sqrt(1 - acp) * x0.
enum class Prediction { Epsilon, VPrediction };

// "epsilon" | "v_prediction" (also "v"); throws lathe::Error naming `key` otherwise.
Prediction prediction_from_string(const std::string& text, const std::string& key);
std::string to_string(Prediction prediction);

struct NoiseScheduleConfig {
  int64_t num_timesteps = 1000;
  double beta_start = 0.00085;
  double beta_end = 0.012;
  // Rescale so alphas_cumprod[T-1] == 0 (SNR 0 at the last step). Meant for v-prediction;
  // with epsilon the last timestep carries no signal to predict noise from.
  bool zero_terminal_snr = false;
};

class NoiseSchedule {
 public:
  // Throws lathe::Error when the config is out of range (non-positive betas, beta_end below
  // beta_start, fewer than 2 timesteps).
  explicit NoiseSchedule(const NoiseScheduleConfig& config = {},
                         torch::Device device = torch::kCPU);

  const NoiseScheduleConfig& config() const { return config_; }
  int64_t num_timesteps() const { return config_.num_timesteps; }
  torch::Device device() const { return betas_.device(); }

  // [T] float32 tables on device().
  const torch::Tensor& betas() const { return betas_; }
  const torch::Tensor& alphas_cumprod() const { return alphas_cumprod_; }

  // SNR(t) = acp / (1 - acp), float32, on the device of `timesteps` ([B] int64).
  torch::Tensor snr(const torch::Tensor& timesteps) const;

  // x_t = sqrt(acp_t) * x0 + sqrt(1 - acp_t) * noise; x0 [B, ...], timesteps [B].
  torch::Tensor add_noise(const torch::Tensor& x0, const torch::Tensor& noise,
                          const torch::Tensor& timesteps) const;
  // v = sqrt(acp_t) * noise - sqrt(1 - acp_t) * x0.
  torch::Tensor velocity(const torch::Tensor& x0, const torch::Tensor& noise,
                         const torch::Tensor& timesteps) const;
  // The training target for `prediction`: noise itself, or velocity().
  torch::Tensor target(Prediction prediction, const torch::Tensor& x0, const torch::Tensor& noise,
                       const torch::Tensor& timesteps) const;
  // Inverse of the forward process from a model output (validation previews, tests):
  // x0 = sqrt(acp) * x_t - sqrt(1 - acp) * v, or (x_t - sqrt(1 - acp) * eps) / sqrt(acp).
  torch::Tensor predict_x0(Prediction prediction, const torch::Tensor& x_t,
                           const torch::Tensor& model_output, const torch::Tensor& timesteps) const;

  // B timesteps uniform in [min_timestep, max_timestep) drawn from `generator` (on the
  // generator's device, then moved to `device`); min == max gives that timestep for all, as
  // kohya does. Throws lathe::Error unless 0 <= min <= max <= T and min < T.
  torch::Tensor sample_timesteps(int64_t batch, int64_t min_timestep, int64_t max_timestep,
                                 torch::Generator& generator, torch::Device device) const;

 private:
  // sqrt(acp_t) and sqrt(1 - acp_t) gathered at timesteps, shaped [B, 1, 1, ...] to broadcast
  // against `like`, on like's device and dtype.
  std::pair<torch::Tensor, torch::Tensor> coefficients(const torch::Tensor& timesteps,
                                                       const torch::Tensor& like) const;

  NoiseScheduleConfig config_;
  torch::Tensor betas_;
  torch::Tensor alphas_cumprod_;
  torch::Tensor sqrt_acp_;
  torch::Tensor sqrt_one_minus_acp_;
};

// Lin et al. 2023, "Common Diffusion Noise Schedules and Sample Steps are Flawed", Alg. 1:
// shift sqrt(acp) so its last value is 0, scale so its first value is unchanged, and convert
// back to betas. Exposed for tests and for anyone building a custom table.
torch::Tensor rescale_zero_terminal_snr(const torch::Tensor& betas);

}  // namespace lathe
