// NoiseSchedule against values computed by hand in double precision: the scaled-linear betas at
// both ends, alphas_cumprod, SNR, the v-prediction identity and its inverse, the zero-terminal
// rescale, and timestep sampling.
#include "diffusion/noise_schedule.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <set>

#include "common/error.h"

namespace {

using lathe::NoiseSchedule;
using lathe::NoiseScheduleConfig;
using lathe::Prediction;

// The scaled-linear table in double: beta_t = (sqrt(b0) + t (sqrt(b1) - sqrt(b0)) / (T-1))^2.
std::vector<double> reference_betas(int64_t T = 1000, double b0 = 0.00085, double b1 = 0.012) {
  std::vector<double> betas(T);
  for (int64_t t = 0; t < T; ++t) {
    double r = std::sqrt(b0) + (std::sqrt(b1) - std::sqrt(b0)) * t / (T - 1);
    betas[t] = r * r;
  }
  return betas;
}

std::vector<double> reference_acp(const std::vector<double>& betas) {
  std::vector<double> acp(betas.size());
  double prod = 1.0;
  for (size_t t = 0; t < betas.size(); ++t) acp[t] = prod *= (1.0 - betas[t]);
  return acp;
}

float at(const torch::Tensor& t, int64_t i) { return t[i].item<float>(); }

TEST(NoiseSchedule, ScaledLinearBetasAtBothEnds) {
  NoiseSchedule s;
  ASSERT_EQ(s.betas().size(0), 1000);
  EXPECT_EQ(s.betas().scalar_type(), torch::kFloat32);
  EXPECT_NEAR(at(s.betas(), 0), 0.00085, 1e-9);
  EXPECT_NEAR(at(s.betas(), 999), 0.012, 1e-9);
  auto ref = reference_betas();
  EXPECT_NEAR(at(s.betas(), 1), ref[1], 1e-9);
  EXPECT_NEAR(at(s.betas(), 500), ref[500], 1e-9);
}

TEST(NoiseSchedule, AlphasCumprodMatchesDoubleProduct) {
  NoiseSchedule s;
  auto acp = reference_acp(reference_betas());
  EXPECT_NEAR(at(s.alphas_cumprod(), 0), 0.99915, 1e-7);
  EXPECT_NEAR(at(s.alphas_cumprod(), 1), acp[1], 1e-6);
  // float32 cumprod over 1000 factors: relative error stays well below 1e-4.
  EXPECT_NEAR(at(s.alphas_cumprod(), 999) / acp[999], 1.0, 1e-4);
  EXPECT_NEAR(acp[999], 0.0047, 1e-4);  // SD's well-known non-zero terminal signal
}

TEST(NoiseSchedule, SnrAtKnownTimesteps) {
  NoiseSchedule s;
  auto acp = reference_acp(reference_betas());
  auto snr = s.snr(torch::tensor({0, 999}, torch::kLong));
  // 1 - acp[0] is taken from a float32 acp near 1 (ulp 6e-8), as diffusers and kohya do, so
  // SNR(0) = 1175.47 is good to ~4e-5 relative.
  EXPECT_NEAR(at(snr, 0) / (0.99915 / 0.00085), 1.0, 1e-4);
  EXPECT_NEAR(at(snr, 1) / (acp[999] / (1 - acp[999])), 1.0, 1e-4);
}

TEST(NoiseSchedule, AddNoiseIsTheForwardProcess) {
  NoiseSchedule s;
  auto x0 = torch::tensor({1.0f, 2.0f}).view({2, 1});
  auto noise = torch::tensor({3.0f, 4.0f}).view({2, 1});
  auto t = torch::tensor({0, 0}, torch::kLong);
  auto xt = s.add_noise(x0, noise, t);
  // sqrt(1 - acp) inherits the float32 rounding of acp near 1 (see SnrAtKnownTimesteps).
  EXPECT_NEAR(xt[0][0].item<float>(), std::sqrt(0.99915) * 1 + std::sqrt(0.00085) * 3, 5e-6);
  EXPECT_NEAR(xt[1][0].item<float>(), std::sqrt(0.99915) * 2 + std::sqrt(0.00085) * 4, 5e-6);
}

TEST(NoiseSchedule, VelocityIdentityAndRecoveringX0) {
  NoiseSchedule s;
  torch::manual_seed(3);
  auto x0 = torch::randn({3, 4, 2, 2});
  auto eps = torch::randn({3, 4, 2, 2});
  auto t = torch::tensor({0, 500, 999}, torch::kLong);
  auto v = s.velocity(x0, eps, t);
  for (int64_t b = 0; b < 3; ++b) {
    const double a = s.alphas_cumprod()[t[b].item<int64_t>()].item<double>();
    auto expected = std::sqrt(a) * eps[b] - std::sqrt(1 - a) * x0[b];
    EXPECT_TRUE(torch::allclose(v[b], expected, 1e-5, 1e-6)) << "sample " << b;
  }
  EXPECT_TRUE(torch::equal(s.target(Prediction::VPrediction, x0, eps, t), v));
  EXPECT_TRUE(torch::equal(s.target(Prediction::Epsilon, x0, eps, t), eps));
  auto xt = s.add_noise(x0, eps, t);
  EXPECT_TRUE(torch::allclose(s.predict_x0(Prediction::VPrediction, xt, v, t), x0, 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(s.predict_x0(Prediction::Epsilon, xt, eps, t), x0, 1e-3, 1e-4));
}

TEST(NoiseSchedule, ZeroTerminalSnrRescale) {
  NoiseScheduleConfig config;
  config.zero_terminal_snr = true;
  NoiseSchedule z(config);
  EXPECT_NEAR(at(z.alphas_cumprod(), 999), 0.0, 1e-9);
  EXPECT_NEAR(at(z.betas(), 999), 1.0, 1e-6);
  EXPECT_NEAR(at(z.alphas_cumprod(), 0), 0.99915, 1e-6);
  EXPECT_EQ(at(z.snr(torch::tensor({999}, torch::kLong)), 0), 0.0f);
  // Lin et al. Alg. 1 at a middle step, in double.
  auto acp = reference_acp(reference_betas());
  const double s0 = std::sqrt(acp[0]), sT = std::sqrt(acp[999]);
  const double r = (std::sqrt(acp[500]) - sT) * s0 / (s0 - sT);
  EXPECT_NEAR(at(z.alphas_cumprod(), 500), r * r, 1e-5);
}

TEST(NoiseSchedule, TimestepSamplingIsUniformInRangeAndSeeded) {
  NoiseSchedule s;
  auto g1 = at::detail::createCPUGenerator(42);
  auto g2 = at::detail::createCPUGenerator(42);
  auto a = s.sample_timesteps(5000, 100, 110, g1, torch::kCPU);
  auto b = s.sample_timesteps(5000, 100, 110, g2, torch::kCPU);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_EQ(a.scalar_type(), torch::kLong);
  EXPECT_EQ(a.min().item<int64_t>(), 100);
  EXPECT_EQ(a.max().item<int64_t>(), 109);
  std::set<int64_t> seen;
  for (int64_t i = 0; i < a.size(0); ++i) seen.insert(a[i].item<int64_t>());
  EXPECT_EQ(seen.size(), 10u);
  auto fixed = s.sample_timesteps(3, 250, 250, g1, torch::kCPU);
  EXPECT_TRUE(torch::equal(fixed, torch::full({3}, 250, torch::kLong)));
}

TEST(NoiseSchedule, RejectsBadRanges) {
  NoiseSchedule s;
  auto g = at::detail::createCPUGenerator(1);
  EXPECT_THROW(s.sample_timesteps(2, 500, 100, g, torch::kCPU), lathe::Error);
  EXPECT_THROW(s.sample_timesteps(2, -1, 100, g, torch::kCPU), lathe::Error);
  EXPECT_THROW(s.sample_timesteps(2, 0, 1001, g, torch::kCPU), lathe::Error);
  EXPECT_THROW(s.sample_timesteps(2, 1000, 1000, g, torch::kCPU), lathe::Error);
  NoiseScheduleConfig bad;
  bad.beta_end = 0.0001;
  EXPECT_THROW(NoiseSchedule{bad}, lathe::Error);
  EXPECT_THROW(lathe::prediction_from_string("x0", "model.prediction"), lathe::Error);
  EXPECT_EQ(lathe::prediction_from_string("v_prediction", "k"), Prediction::VPrediction);
}

}  // namespace
