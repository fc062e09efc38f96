// Training-noise variations. Everything is computed in float32 (bilinear upsampling of half
// tensors is not available on every CPU backend) and cast to the latent dtype at the end.
#include "diffusion/noise.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <cmath>

#include "common/error.h"

namespace lathe {

void check_noise_config(const NoiseConfig& c) {
  if (!(c.offset >= 0.0) || !std::isfinite(c.offset)) {
    throw Error(fmt::format("noise.offset = {}: must be a finite number >= 0", c.offset));
  }
  if (c.multires_iterations < 0) {
    throw Error(fmt::format("noise.multires_iterations = {}: must be >= 0 (0 turns it off)",
                            c.multires_iterations));
  }
  if (!(c.multires_discount > 0.0) || !(c.multires_discount <= 1.0)) {
    throw Error(fmt::format("noise.multires_discount = {}: must be in (0, 1]",
                            c.multires_discount));
  }
  if (!(c.ip_noise_gamma >= 0.0) || !std::isfinite(c.ip_noise_gamma)) {
    throw Error(fmt::format("noise.ip_noise_gamma = {}: must be a finite number >= 0",
                            c.ip_noise_gamma));
  }
}

torch::Tensor randn_from(torch::IntArrayRef shape, torch::Generator& generator,
                         const torch::Tensor& like) {
  auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(generator.device());
  return torch::randn(shape, generator, opts).to(like.device(), like.scalar_type());
}

torch::Tensor apply_noise_offset(const torch::Tensor& noise, double offset,
                                 torch::Generator& generator) {
  if (offset == 0.0) return noise;
  auto shift = randn_from({noise.size(0), noise.size(1), 1, 1}, generator, noise);
  return noise + offset * shift;
}

namespace {

// One uniform draw in [0, 1) from the generator, read back to the host.
double uniform_from(torch::Generator& generator) {
  auto opts = torch::TensorOptions().dtype(torch::kFloat64).device(generator.device());
  return torch::rand({1}, generator, opts).item<double>();
}

}  // namespace

torch::Tensor pyramid_noise(const torch::Tensor& noise, int64_t iterations, double discount,
                            torch::Generator& generator) {
  if (iterations <= 0) return noise;
  TORCH_CHECK(noise.dim() == 4, "pyramid_noise expects [B, C, H, W], got ", noise.sizes());
  const int64_t b = noise.size(0), c = noise.size(1), h = noise.size(2), w = noise.size(3);
  auto sum = noise.to(torch::kFloat32).clone();
  auto up = torch::nn::functional::InterpolateFuncOptions()
                .size(std::vector<int64_t>{h, w})
                .mode(torch::kBilinear)
                .align_corners(false);
  for (int64_t i = 0; i < iterations; ++i) {
    const double r = uniform_from(generator) * 2.0 + 2.0;  // kohya: rather than always 2x
    const double scale = std::pow(r, static_cast<double>(i));
    const int64_t hn = std::max<int64_t>(1, static_cast<int64_t>(h / scale));
    const int64_t wn = std::max<int64_t>(1, static_cast<int64_t>(w / scale));
    auto coarse = randn_from({b, c, hn, wn}, generator, sum);
    sum += torch::nn::functional::interpolate(coarse, up) * std::pow(discount, i);
    if (hn == 1 || wn == 1) break;
  }
  return (sum / sum.std()).to(noise.scalar_type());
}

torch::Tensor perturb_noise(const torch::Tensor& noise, double gamma,
                            torch::Generator& generator) {
  if (gamma == 0.0) return noise;
  return noise + gamma * randn_from(noise.sizes(), generator, noise);
}

NoiseSample sample_noise(const torch::Tensor& latents, const NoiseConfig& config,
                         torch::Generator& generator) {
  auto noise = randn_from(latents.sizes(), generator, latents);
  noise = apply_noise_offset(noise, config.offset, generator);
  noise = pyramid_noise(noise, config.multires_iterations, config.multires_discount, generator);
  return {noise, perturb_noise(noise, config.ip_noise_gamma, generator)};
}

}  // namespace lathe
