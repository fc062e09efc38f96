// Training-noise variations, each rebuilt from an identically seeded generator with the
// explicit kohya formula: offset noise, pyramid noise, input perturbation, and determinism.
#include "diffusion/noise.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/error.h"

namespace {

using lathe::NoiseConfig;

torch::Generator gen(uint64_t seed) { return at::detail::createCPUGenerator(seed); }

TEST(Noise, SameSeedSameNoiseOtherSeedOtherNoise) {
  auto like = torch::zeros({2, 4, 8, 8});
  NoiseConfig c;
  c.offset = 0.05;
  c.multires_iterations = 4;
  c.ip_noise_gamma = 0.1;
  auto g1 = gen(7), g2 = gen(7), g3 = gen(8);
  auto a = lathe::sample_noise(like, c, g1);
  auto b = lathe::sample_noise(like, c, g2);
  auto d = lathe::sample_noise(like, c, g3);
  EXPECT_TRUE(torch::equal(a.noise, b.noise));
  EXPECT_TRUE(torch::equal(a.input_noise, b.input_noise));
  EXPECT_FALSE(torch::equal(a.noise, d.noise));
}

TEST(Noise, OffsetAddsOneConstantPerSampleAndChannel) {
  auto g = gen(1);
  auto base = lathe::randn_from({2, 3, 4, 4}, g, torch::zeros({1}));
  auto out = lathe::apply_noise_offset(base, 0.1, g);
  auto replay = gen(1);
  lathe::randn_from({2, 3, 4, 4}, replay, base);
  auto shift = torch::randn({2, 3, 1, 1}, replay);
  EXPECT_TRUE(torch::allclose(out, base + 0.1 * shift, 0, 1e-7));
  EXPECT_TRUE(torch::equal(lathe::apply_noise_offset(base, 0.0, g), base));
}

TEST(Noise, PyramidOneIterationIsNoisePlusFullResDrawOverStd) {
  auto g = gen(5);
  auto base = torch::randn({2, 2, 6, 6}, g);
  auto out = lathe::pyramid_noise(base, 1, 0.3, g);
  auto replay = gen(5);
  torch::randn({2, 2, 6, 6}, replay);
  torch::rand({1}, replay, torch::kFloat64);  // r: unused at level 0 (r^0 = 1)
  auto sum = base + torch::randn({2, 2, 6, 6}, replay);
  EXPECT_TRUE(torch::allclose(out, sum / sum.std(), 1e-5, 1e-6));
}

TEST(Noise, PyramidHasUnitStdAndStopsAtOnePixel) {
  auto g = gen(9);
  auto base = torch::randn({1, 4, 4, 4}, g);
  // With r >= 2 a 4x4 grid reaches 1 pixel by level 2, so 10 iterations draw at most 3 levels.
  auto out = lathe::pyramid_noise(base, 10, 0.8, g);
  EXPECT_NEAR(out.std().item<double>(), 1.0, 1e-5);
  EXPECT_EQ(out.sizes(), base.sizes());
  auto after = torch::rand({1}, g, torch::kFloat64).item<double>();
  bool matched = false;
  for (int levels = 1; levels <= 3 && !matched; ++levels) {
    auto replay = gen(9);
    torch::randn({1, 4, 4, 4}, replay);
    for (int i = 0; i < levels; ++i) {
      double r = torch::rand({1}, replay, torch::kFloat64).item<double>() * 2 + 2;
      int64_t n = std::max<int64_t>(1, static_cast<int64_t>(4 / std::pow(r, i)));
      torch::randn({1, 4, n, n}, replay);
    }
    matched = torch::rand({1}, replay, torch::kFloat64).item<double>() == after;
  }
  EXPECT_TRUE(matched) << "the pyramid drew from more levels than a 4x4 grid allows";
}

TEST(Noise, InputPerturbationOnlyTouchesTheInput) {
  auto like = torch::zeros({2, 4, 4, 4});
  NoiseConfig plain, ip;
  ip.ip_noise_gamma = 0.1;
  auto g1 = gen(3), g2 = gen(3);
  auto a = lathe::sample_noise(like, plain, g1);
  auto b = lathe::sample_noise(like, ip, g2);
  EXPECT_TRUE(torch::equal(a.noise, a.input_noise));
  EXPECT_TRUE(torch::equal(a.noise, b.noise));  // the target noise is unchanged
  auto extra = torch::randn({2, 4, 4, 4}, g1);    // next draw in the plain stream
  EXPECT_TRUE(torch::allclose(b.input_noise, b.noise + 0.1 * extra, 0, 1e-7));
}

TEST(Noise, KeepsLatentDtype) {
  auto like = torch::zeros({1, 4, 4, 4}, torch::kBFloat16);
  NoiseConfig c;
  c.multires_iterations = 3;
  auto g = gen(2);
  auto s = lathe::sample_noise(like, c, g);
  EXPECT_EQ(s.noise.scalar_type(), torch::kBFloat16);
  EXPECT_EQ(s.input_noise.scalar_type(), torch::kBFloat16);
}

TEST(Noise, ConfigChecksNameTheKey) {
  NoiseConfig c;
  c.multires_discount = 0.0;
  try {
    lathe::check_noise_config(c);
    FAIL() << "expected lathe::Error";
  } catch (const lathe::Error& e) {
    EXPECT_NE(std::string(e.what()).find("noise.multires_discount"), std::string::npos);
  }
  c = NoiseConfig{};
  c.offset = -1;
  EXPECT_THROW(lathe::check_noise_config(c), lathe::Error);
  EXPECT_NO_THROW(lathe::check_noise_config(NoiseConfig{}));
}

}  // namespace
