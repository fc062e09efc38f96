// The inference schedules against values written out by hand from diffusers' set_timesteps
// formulas for the SD configuration (scaled-linear betas 0.00085..0.012, 1000 steps, "leading"
// spacing, steps_offset 1), at the step counts users pick (20, 30) and at edge counts. Sigmas are
// checked against sqrt((1 - acp) / acp) computed here in float64 from the beta formula.
#include "diffusion/sampler.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "common/error.h"

namespace lathe {
namespace {

std::vector<int64_t> as_int64(const torch::Tensor& t) {
  auto c = t.to(torch::kInt64).contiguous();
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

std::vector<int64_t> arithmetic(int64_t first, int64_t stride, int64_t count) {
  std::vector<int64_t> out;
  for (int64_t k = 0; k < count; ++k) out.push_back(first - k * stride);
  return out;
}

// sigma(t) of the SD schedule in float64: betas = linspace(sqrt(b0), sqrt(b1), 1000)^2.
double sd_sigma(int64_t t) {
  const double r0 = std::sqrt(0.00085), r1 = std::sqrt(0.012);
  double acp = 1.0;
  for (int64_t i = 0; i <= t; ++i) {
    const double root = r0 + (r1 - r0) * static_cast<double>(i) / 999.0;
    acp *= 1.0 - root * root;
  }
  return std::sqrt((1.0 - acp) / acp);
}

InferenceSchedule schedule_of(SamplerKind kind, int64_t steps) {
  SamplerConfig config;
  config.kind = kind;
  config.steps = steps;
  return inference_schedule(NoiseSchedule(), config);
}

TEST(InferenceSchedule, LeadingSpacingFor20And30Steps) {
  // 1000 // 20 = 50: 19 * 50 + 1 = 951 down to 1; 1000 // 30 = 33: 29 * 33 + 1 = 958 down to 1.
  for (auto kind : {SamplerKind::DDIM, SamplerKind::DDPM, SamplerKind::Euler, SamplerKind::EulerAncestral}) {
    EXPECT_EQ(as_int64(schedule_of(kind, 20).timesteps), arithmetic(951, 50, 20)) << to_string(kind);
    EXPECT_EQ(as_int64(schedule_of(kind, 30).timesteps), arithmetic(958, 33, 30)) << to_string(kind);
  }
}

TEST(InferenceSchedule, DpmSolverSpacesStepsPlusOnePoints) {
  // 1000 // 21 = 47: 20 * 47 + 1 = 941 down to 48; 1000 // 31 = 32: 961 down to 33.
  EXPECT_EQ(as_int64(schedule_of(SamplerKind::DPMPP2M, 20).timesteps), arithmetic(941, 47, 20));
  EXPECT_EQ(as_int64(schedule_of(SamplerKind::DPMPP2M, 30).timesteps), arithmetic(961, 32, 30));
}

TEST(InferenceSchedule, TimestepDtypesFollowDiffusers) {
  EXPECT_EQ(schedule_of(SamplerKind::DDIM, 20).timesteps.scalar_type(), torch::kInt64);
  EXPECT_EQ(schedule_of(SamplerKind::DDPM, 20).timesteps.scalar_type(), torch::kInt64);
  EXPECT_EQ(schedule_of(SamplerKind::DPMPP2M, 20).timesteps.scalar_type(), torch::kInt64);
  EXPECT_EQ(schedule_of(SamplerKind::DPMPP2MKarras, 20).timesteps.scalar_type(), torch::kInt64);
  EXPECT_EQ(schedule_of(SamplerKind::Euler, 20).timesteps.scalar_type(), torch::kFloat32);
  EXPECT_EQ(schedule_of(SamplerKind::EulerAncestral, 20).timesteps.scalar_type(), torch::kFloat32);
  EXPECT_FALSE(schedule_of(SamplerKind::DDIM, 20).sigmas.defined());
  EXPECT_FALSE(schedule_of(SamplerKind::DDPM, 20).sigmas.defined());
}

TEST(InferenceSchedule, SigmasAreTheTrainingSigmasAtTheTimestepsEndingInZero) {
  for (auto kind : {SamplerKind::Euler, SamplerKind::EulerAncestral, SamplerKind::DPMPP2M}) {
    for (int64_t steps : {20, 30}) {
      const auto plan = schedule_of(kind, steps);
      ASSERT_EQ(plan.sigmas.size(0), steps + 1);
      const auto timesteps = as_int64(plan.timesteps);
      for (int64_t i = 0; i < steps; ++i)
        EXPECT_NEAR(plan.sigmas[i].item<double>(), sd_sigma(timesteps[i]), 1e-4 * sd_sigma(timesteps[i]))
            << to_string(kind) << " " << steps << " steps, step " << i;
      EXPECT_EQ(plan.sigmas[steps].item<double>(), 0.0);
    }
  }
}

TEST(InferenceSchedule, InitNoiseSigma) {
  // Euler with leading spacing: sqrt(sigma(951)^2 + 1) for 20 steps; the others start at 1.
  const double s = sd_sigma(951), expected = std::sqrt(s * s + 1.0);
  EXPECT_NEAR(schedule_of(SamplerKind::Euler, 20).init_noise_sigma, expected, 1e-4 * expected);
  EXPECT_NEAR(schedule_of(SamplerKind::EulerAncestral, 20).init_noise_sigma, expected, 1e-4 * expected);
  for (auto kind : {SamplerKind::DDIM, SamplerKind::DDPM, SamplerKind::DPMPP2M, SamplerKind::DPMPP2MKarras})
    EXPECT_EQ(schedule_of(kind, 20).init_noise_sigma, 1.0) << to_string(kind);
}

TEST(InferenceSchedule, KarrasSigmasAreRhoSpacedBetweenTheTrainingExtremes) {
  for (int64_t steps : {8, 20, 30}) {
    const auto plan = schedule_of(SamplerKind::DPMPP2MKarras, steps);
    ASSERT_EQ(plan.sigmas.size(0), steps + 1);
    const double max_inv = std::pow(sd_sigma(999), 1.0 / 7.0), min_inv = std::pow(sd_sigma(0), 1.0 / 7.0);
    for (int64_t k = 0; k < steps; ++k) {
      const double expected = std::pow(max_inv + k / double(steps - 1) * (min_inv - max_inv), 7.0);
      EXPECT_NEAR(plan.sigmas[k].item<double>(), expected, 1e-4 * expected) << steps << " steps, sigma " << k;
    }
    EXPECT_EQ(plan.sigmas[steps].item<double>(), 0.0);
    const auto timesteps = as_int64(plan.timesteps);
    EXPECT_EQ(timesteps.front(), 999);
    EXPECT_EQ(timesteps.back(), 0);
    for (int64_t i = 1; i < steps; ++i) EXPECT_LE(timesteps[i], timesteps[i - 1]);
  }
  // diffusers' values for 8 steps (the sampler fixtures' README): log-sigma interpolation, rounded.
  EXPECT_EQ(as_int64(schedule_of(SamplerKind::DPMPP2MKarras, 8).timesteps),
            (std::vector<int64_t>{999, 890, 746, 549, 299, 90, 12, 0}));
}

TEST(InferenceSchedule, OneStepWorks) {
  EXPECT_EQ(as_int64(schedule_of(SamplerKind::DDIM, 1).timesteps), std::vector<int64_t>{1});
  EXPECT_EQ(as_int64(schedule_of(SamplerKind::DPMPP2M, 1).timesteps), std::vector<int64_t>{501});
  EXPECT_EQ(as_int64(schedule_of(SamplerKind::DPMPP2MKarras, 1).timesteps), std::vector<int64_t>{999});
}

TEST(InferenceSchedule, StepCountsOutsideTheScheduleAreErrorsNamingSteps) {
  for (int64_t steps : {0, -3, 1000}) {
    try {
      schedule_of(SamplerKind::DDIM, steps);
      ADD_FAILURE() << steps << " steps accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("steps"), std::string::npos) << e.what();
    }
  }
  EXPECT_NO_THROW(schedule_of(SamplerKind::DDIM, 999));
  EXPECT_THROW(schedule_of(SamplerKind::DPMPP2M, 999), Error);
  EXPECT_NO_THROW(schedule_of(SamplerKind::DPMPP2M, 998));
}

TEST(InferenceSchedule, ZeroTerminalSnrKeepsKarrasSigmasFinite) {
  NoiseScheduleConfig config;
  config.zero_terminal_snr = true;
  SamplerConfig sampler;
  sampler.kind = SamplerKind::DPMPP2MKarras;
  const auto plan = inference_schedule(NoiseSchedule(config), sampler);
  EXPECT_TRUE(torch::isfinite(plan.sigmas).all().item<bool>());
  EXPECT_NEAR(plan.sigmas[0].item<double>(), 4096.0, 1.0);  // sqrt((1 - 2^-24) / 2^-24), as diffusers
}

}  // namespace
}  // namespace lathe
