// The per-step noise of Euler a and DDPM from an explicit seed. Draw i comes from its own CPU
// torch generator seeded with mix_seed(seed, {stream, i}) and is then moved to the latents'
// device and dtype, so the same seed gives the same image on a CPU, a CUDA card or any other
// device, and a draw does not depend on anything drawn before it from other generators.
#pragma once

#include <torch/types.h>

#include <cstdint>

#include "diffusion/sampler.h"

namespace lathe {

class SeededStepNoise : public StepNoise {
 public:
  explicit SeededStepNoise(std::uint64_t seed) : seed_(seed) {}

  // Standard normal, float32 on the CPU, then shape, dtype and device of `like`.
  torch::Tensor next(const torch::Tensor& like) override;

  std::uint64_t seed() const { return seed_; }
  int64_t draws() const { return draws_; }

 private:
  std::uint64_t seed_;
  int64_t draws_ = 0;
};

}  // namespace lathe
