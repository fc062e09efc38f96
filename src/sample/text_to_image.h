// Text to image on a loaded base model (with whatever adapters are attached to it: a run's
// LoRA while training, LoRA files in `lathe sample`): encode the prompt and the negative prompt,
// run the sampler with classifier-free guidance, decode with the VAE. Used by `lathe sample`,
// the epoch grid and samples during training, so every image Lathe renders comes from here.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <string>

#include "diffusion/sampler.h"

namespace lathe {

struct BaseModel;

// One image's generation parameters (what A1111 writes into a PNG's `parameters` chunk).
struct ImageRequest {
  std::string prompt;
  std::string negative;
  int64_t width = 512;
  int64_t height = 512;
  int64_t steps = 20;
  double cfg = 7.0;
  SamplerKind sampler = SamplerKind::EulerAncestral;
  std::uint64_t seed = 0;
  int clip_skip = 1;  // SD 1.x 1 (last layer), 2 for anime models; SD 2.x / SDXL as in training
};

struct RenderOptions {
  torch::Device device = torch::kCPU;
  torch::Dtype dtype = torch::kFloat32;  // the autocast compute type (bf16/fp16 on GPUs)
  // Decode in overlapping tiles (bounded memory for 1024 px SDXL on 24 GB cards); "auto" in
  // the CLI turns it on when the device's free memory is short.
  bool tiled_decode = false;
  // Progress after every sampler step; returning false stops (Ctrl-C) and render throws
  // lathe::Interrupted.
  StepCallback on_step;
};

// The initial latent noise of a seed: drawn on the CPU from a generator seeded with `seed`, so
// the same seed gives the same image on every device ([1, C, H/8, W/8], float32).
torch::Tensor initial_noise(std::uint64_t seed, int64_t channels, int64_t height, int64_t width);

// Latents for the request (model in eval mode, no grad; the model's training state, RNG streams
// and grad mode are left as they were, so sampling during training changes nothing).
torch::Tensor render_latents(BaseModel& model, const ImageRequest& request,
                             const RenderOptions& options);

// VAE decode to an 8-bit RGB image [H, W, 3] uint8 on the CPU (clamped from [-1, 1]).
torch::Tensor decode_image(BaseModel& model, const torch::Tensor& latents,
                           const RenderOptions& options);

}  // namespace lathe
