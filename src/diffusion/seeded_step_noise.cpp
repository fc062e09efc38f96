// Seeded step noise: one fresh CPU generator per draw, seeded by mixing the image seed with the
// draw's index (common/seeded_rng.h), so draw i is the same wherever and whenever it is made.
#include "diffusion/seeded_step_noise.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "common/seeded_rng.h"

namespace lathe {

namespace {

// Keeps the step-noise streams apart from any other use of the same image seed ("STEPNOIS").
constexpr std::uint64_t kStepNoiseStream = 0x535445504e4f4953ull;

}  // namespace

torch::Tensor SeededStepNoise::next(const torch::Tensor& like) {
  const auto seed = mix_seed(seed_, {kStepNoiseStream, static_cast<std::uint64_t>(draws_)});
  ++draws_;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto noise = torch::randn(like.sizes(), generator, torch::TensorOptions().dtype(torch::kFloat32));
  return noise.to(like.device(), like.scalar_type());
}

}  // namespace lathe
