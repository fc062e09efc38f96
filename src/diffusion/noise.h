// The noise a training step adds to the latents, with the variations LoRA makers use from
// kohya-ss sd-scripts: offset noise (a per-channel constant shift, crosslabs.org), multires
// or "pyramid" noise (low-frequency noise upsampled from coarser grids), and input
// perturbation (ip_noise_gamma: the noisy input gets extra noise the target does not know).
// Every draw comes from a caller-owned torch::Generator, so the same seed gives the same
// noise and a resumed run can restore the generator's state.
#pragma once

#include <torch/types.h>

#include <cstdint>

namespace lathe {

struct NoiseConfig {
  double offset = 0.0;               // 0 = off; kohya's --noise_offset (0.0357 is common)
  int64_t multires_iterations = 0;   // 0 = off; kohya's --multires_noise_iterations (6-10)
  double multires_discount = 0.3;    // kohya's --multires_noise_discount default
  double ip_noise_gamma = 0.0;       // 0 = off; kohya's --ip_noise_gamma (0.1 is common)
};

// Throws lathe::Error naming the noise.* key that is out of range.
void check_noise_config(const NoiseConfig& config);

// The two noises of one step. `noise` is what the loss target is built from; `input_noise`
// is what is added to the latents (equal to `noise` unless ip_noise_gamma > 0).
struct NoiseSample {
  torch::Tensor noise;
  torch::Tensor input_noise;
};

// Standard normal of `shape`, drawn on the generator's device (so CPU and CUDA generators both
// work) and returned on like's device and dtype. Always drawn in float32 so the stream of a
// seed does not depend on the latent dtype.
torch::Tensor randn_from(torch::IntArrayRef shape, torch::Generator& generator,
                         const torch::Tensor& like);

// noise + offset * randn(B, C, 1, 1).
torch::Tensor apply_noise_offset(const torch::Tensor& noise, double offset,
                                 torch::Generator& generator);

// kohya's pyramid_noise_like: for i in [0, iterations) draw r ~ U[2, 4), a grid of
// (int(H / r^i), int(W / r^i)) (at least 1) standard normals, upsample it bilinearly to H x W
// and add it times discount^i; stop after the first level whose grid is 1 wide or high; then
// divide by the (unbiased) std of the whole tensor. noise is [B, C, H, W].
torch::Tensor pyramid_noise(const torch::Tensor& noise, int64_t iterations, double discount,
                            torch::Generator& generator);

// noise + gamma * randn_like(noise): the input-side noise of ip_noise_gamma.
torch::Tensor perturb_noise(const torch::Tensor& noise, double gamma, torch::Generator& generator);

// One step's noise for `latents` [B, C, H, W] in kohya's order: randn, offset, pyramid, then
// the input perturbation.
NoiseSample sample_noise(const torch::Tensor& latents, const NoiseConfig& config,
                         torch::Generator& generator);

}  // namespace lathe
