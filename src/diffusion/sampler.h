// The denoising loop: the samplers users pick in A1111 and kohya's sample prompts, each a short
// loop over the inference timesteps around a denoiser (the guided UNet), with the numbers of
// diffusers' schedulers (DDIMScheduler eta 0, EulerDiscreteScheduler, EulerAncestral-
// DiscreteScheduler, DPMSolverMultistepScheduler dpmsolver++ order 2 with and without Karras
// sigmas, DDPMScheduler fixed_small) on the SD training schedule: scaled-linear betas, 1000
// steps, "leading" spacing with steps offset 1. Training and sampling share NoiseSchedule.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "diffusion/noise_schedule.h"

namespace lathe {

enum class SamplerKind { DDIM, Euler, EulerAncestral, DPMPP2M, DPMPP2MKarras, DDPM };

// Lathe's names: "ddim", "euler", "euler_a", "dpmpp_2m", "dpmpp_2m_karras", "ddpm" (also
// kohya's sample-prompt spellings, e.g. "k_euler_a", "dpmsolver++"); throws lathe::Error naming
// `key` and the accepted names otherwise.
SamplerKind sampler_from_string(const std::string& text, const std::string& key);
std::string to_string(SamplerKind kind);
// The name A1111 writes in a PNG's parameters ("DDIM", "Euler", "Euler a", "DPM++ 2M",
// "DPM++ 2M Karras", "DDPM").
std::string a1111_name(SamplerKind kind);
// Whether the sampler draws fresh noise at each step (Euler a, DDPM).
bool draws_step_noise(SamplerKind kind);

struct SamplerConfig {
  SamplerKind kind = SamplerKind::EulerAncestral;
  int64_t steps = 20;
  Prediction prediction = Prediction::Epsilon;
  int64_t steps_offset = 1;  // diffusers' "leading" spacing: t_i = i * (T / steps) + offset
};

// The inference schedule of one sampler run, as diffusers' set_timesteps leaves it. CPU tensors.
struct InferenceSchedule {
  // [steps] descending: what the UNet gets. int64, except Euler and Euler a, whose timesteps
  // diffusers keeps as float32 (integral values).
  torch::Tensor timesteps;
  // [steps + 1] float32 ending in 0 (Euler, Euler a, DPM++; with Karras the solver's unrounded
  // sigmas); undefined for DDIM and DDPM, which step in alphas_cumprod.
  torch::Tensor sigmas;
  double init_noise_sigma = 1.0;  // the initial noise is scaled by this
};

// Throws lathe::Error when `steps` is below 1 or leaves the training schedule (the last
// timestep plus steps_offset must stay below num_timesteps).
InferenceSchedule inference_schedule(const NoiseSchedule& schedule, const SamplerConfig& config);

// The model output (noise or v, after classifier-free guidance) for the sampler's input x_in at
// `timestep` ([1] int64 or float32 for the sigma samplers, as diffusers passes it). x_in is
// already scaled (Euler-family: x / sqrt(sigma^2 + 1)).
using Denoiser = std::function<torch::Tensor(const torch::Tensor& x_in, const torch::Tensor& timestep)>;

// Where the per-step noise of Euler a and DDPM comes from: a seeded generator of Lathe's own
// (same image from the same seed on every device), or recorded tensors replayed by tests.
class StepNoise {
 public:
  virtual ~StepNoise() = default;
  virtual torch::Tensor next(const torch::Tensor& like) = 0;  // shape, dtype, device of `like`
};

// Called after every step with the step index (0-based), the step count and the latents after
// that step.
// Returning false stops the loop early (Ctrl-C); sample() then returns the latents so far.
using StepCallback = std::function<bool(int64_t step, int64_t steps, const torch::Tensor& latents)>;

// Runs the sampler from `noise` (unit-variance, scaled by init_noise_sigma inside) and returns
// the final latents (still scaled by the VAE's scaling factor), float32 on noise's device. The
// sampler's state is float32 whatever the denoiser computes in (its output is cast), as
// diffusers' sigma schedulers cast the sample to float32 inside step(). No autograd graph is
// recorded. Throws lathe::Error for a bad config (inference_schedule) or a denoiser output whose
// shape is not the latents'.
torch::Tensor sample(const NoiseSchedule& schedule, const SamplerConfig& config,
                     const torch::Tensor& noise, const Denoiser& denoiser, StepNoise& step_noise,
                     const StepCallback& on_step = {});

// Classifier-free guidance: uncond + scale * (cond - uncond).
torch::Tensor guide(const torch::Tensor& uncond, const torch::Tensor& cond, double scale);

}  // namespace lathe
