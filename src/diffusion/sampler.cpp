// sample(): builds the inference schedule, scales the initial noise and hands over to the
// chosen sampler's loop (sampler_*.cpp); and guide(), classifier-free guidance.
#include "diffusion/sampler.h"

#include <torch/torch.h>

#include "common/error.h"
#include "diffusion/sampler_loops.h"

namespace lathe {

torch::Tensor sample(const NoiseSchedule& schedule, const SamplerConfig& config, const torch::Tensor& noise,
                     const Denoiser& denoiser, StepNoise& step_noise, const StepCallback& on_step) {
  torch::NoGradGuard no_grad;
  using namespace sampler_detail;
  const SamplerRun run(schedule, config, inference_schedule(schedule, config), denoiser, step_noise, on_step);
  auto x = noise.to(torch::kFloat32) * run.plan().init_noise_sigma;
  switch (config.kind) {
    case SamplerKind::DDIM: return sample_ddim(run, x);
    case SamplerKind::DDPM: return sample_ddpm(run, x);
    case SamplerKind::Euler: return sample_euler(run, x);
    case SamplerKind::EulerAncestral: return sample_euler_ancestral(run, x);
    case SamplerKind::DPMPP2M:
    case SamplerKind::DPMPP2MKarras: return sample_dpmpp_2m(run, x);
  }
  throw Error("sample: unknown sampler kind");
}

torch::Tensor guide(const torch::Tensor& uncond, const torch::Tensor& cond, double scale) {
  // diffusers' order of operations, so guided outputs round as the pipelines' do.
  return uncond + scale * (cond - uncond);
}

}  // namespace lathe
