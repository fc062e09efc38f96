// The Wuerstchen schedule and OneTrainer's Stable Cascade recipe against
// ../shared/fixtures/stable_cascade (schedule/wuerstchen_schedule.safetensors and
// prior_tiny/train_step.safetensors): alpha_cumprod, its square roots and the P2 weight on every
// drawable timestep (float32 and float64), add_noise, the noise + timestep draws from seeded CPU
// generators, and the whole loss of one training step given the prior's recorded output.
// Tolerance rule: max|actual - expected| <= tol * max|expected|. LATHE_PARITY_FIXTURES
// overrides the fixtures folder (its stable_cascade/ subfolder is read).
#include "diffusion/wuerstchen_loss.h"
#include "diffusion/wuerstchen_schedule.h"
#include "models/fixture_tensors.h"
#include "cascade_fixtures.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cstdlib>
#include <fstream>

namespace lathe {
namespace {

using TensorMap = std::map<std::string, torch::Tensor>;

using test::cascade_dir;

nlohmann::json manifest() {
  std::ifstream in(cascade_dir() / "manifest.json");
  return nlohmann::json::parse(in);
}

double rel_error(const torch::Tensor& actual, const torch::Tensor& expected) {
  const auto a = actual.to(torch::kFloat64);
  const auto e = expected.to(torch::kFloat64).reshape(a.sizes());
  return (a - e).abs().max().item<double>() / e.abs().max().item<double>();
}

constexpr double kTol = 1e-6;  // manifest schedule.tolerance_rel

// OneTrainer's float32 values are compared at the tolerance, not bit for bit: the vectorised
// float32 cos differs by an ulp between CPU kernels (AVX2 / AVX-512), 1.2e-7 here.
TEST(WuerstchenSchedule, GridFloat32) {
  REQUIRE_CASCADE("schedule/wuerstchen_schedule.safetensors");
  const auto s = test::read_tensors(cascade_dir() / "schedule/wuerstchen_schedule.safetensors");
  const auto& t = s.at("grid.t");
  ASSERT_EQ(t.scalar_type(), torch::kFloat32);
  const auto acp = wuerstchen_alpha_cumprod(t);
  EXPECT_EQ(acp.scalar_type(), torch::kFloat32);
  EXPECT_LE(rel_error(acp, s.at("grid.alpha_cumprod_f32")), kTol);
  EXPECT_LE(rel_error(acp, s.at("grid.alpha_cumprod_f64")), kTol);
  const auto p2 = p2_loss_weight(acp);
  EXPECT_LE(rel_error(p2, s.at("grid.p2_weight_f32")), kTol);
  EXPECT_LE(rel_error(p2, s.at("grid.p2_weight_f64")), kTol);
  // At gamma 1 the P2 weight is 1 - alpha_cumprod.
  EXPECT_LE(rel_error(p2, 1 - s.at("grid.alpha_cumprod_f64")), kTol);
}

TEST(WuerstchenSchedule, GridFloat64) {
  REQUIRE_CASCADE("schedule/wuerstchen_schedule.safetensors");
  const auto s = test::read_tensors(cascade_dir() / "schedule/wuerstchen_schedule.safetensors");
  const auto acp = wuerstchen_alpha_cumprod(s.at("grid.t").to(torch::kFloat64));
  EXPECT_EQ(acp.scalar_type(), torch::kFloat64);
  EXPECT_LE(rel_error(acp, s.at("grid.alpha_cumprod_f64")), 1e-12);
  EXPECT_LE(rel_error(acp.sqrt(), s.at("grid.sqrt_alpha_cumprod_f64")), 1e-12);
  EXPECT_LE(rel_error((1 - acp).sqrt(), s.at("grid.sqrt_one_minus_alpha_cumprod_f64")), 1e-12);
  EXPECT_LE(rel_error(p2_loss_weight(acp), s.at("grid.p2_weight_f64")), 1e-12);
  // The clamps: the schedule never reaches 0 or 1.
  EXPECT_NEAR(acp.min().item<double>(), 1e-4, 1e-12);
  EXPECT_NEAR(wuerstchen_alpha_cumprod(torch::zeros({1}, torch::kFloat64)).item<double>(), 0.9999, 1e-12);
}

TEST(WuerstchenSchedule, AddNoise) {
  REQUIRE_CASCADE("schedule/wuerstchen_schedule.safetensors");
  const auto s = test::read_tensors(cascade_dir() / "schedule/wuerstchen_schedule.safetensors");
  const auto noisy = wuerstchen_add_noise(s.at("add_noise.x0"), s.at("add_noise.noise"), s.at("add_noise.t"));
  EXPECT_EQ(noisy.scalar_type(), torch::kFloat32);
  EXPECT_LE(rel_error(noisy, s.at("add_noise.noisy_f32")), kTol);
  EXPECT_LE(rel_error(noisy, s.at("add_noise.noisy_f64")), kTol);
}

TEST(WuerstchenSchedule, DrawsFromSeededCpuGenerator) {
  REQUIRE_CASCADE("schedule/wuerstchen_schedule.safetensors");
  const auto s = test::read_tensors(cascade_dir() / "schedule/wuerstchen_schedule.safetensors");
  const auto seeds = manifest().at("schedule").at("sampling_seeds").get<std::vector<uint64_t>>();
  ASSERT_EQ(seeds.size(), 3u);
  for (std::size_t i = 0; i < seeds.size(); ++i) {
    const std::string p = "sampling" + std::to_string(i) + ".";
    auto generator = at::make_generator<at::CPUGeneratorImpl>(seeds[i]);
    const auto latents = torch::zeros(s.at(p + "noise").sizes());
    const auto draw = draw_wuerstchen_noise(latents, generator);
    EXPECT_TRUE(torch::equal(draw.noise, s.at(p + "noise"))) << p << rel_error(draw.noise, s.at(p + "noise"));
    EXPECT_TRUE(torch::equal(draw.timestep, s.at(p + "timestep_raw"))) << p << draw.timestep;
    EXPECT_TRUE(torch::equal(draw.ratio, s.at(p + "timestep"))) << p << draw.ratio;
  }
}

TEST(WuerstchenSchedule, TimestepGridAndClamp) {
  // u = 0 gives the first grid point, u just below 1 the last; r = t + 0.001 clamped to 1.
  const auto u = torch::tensor({0.0f, 0.49995f, std::nextafter(1.0f, 0.0f)});
  const auto draw = wuerstchen_timestep_from_uniform(u);
  EXPECT_FLOAT_EQ(draw.timestep[0].item<float>(), 1e-4f);
  EXPECT_FLOAT_EQ(draw.timestep[2].item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(draw.ratio[0].item<float>(), 1e-4f + 1e-3f);
  EXPECT_EQ(draw.ratio[2].item<float>(), 1.0f);
  const auto k = (draw.timestep * 10000).round();
  EXPECT_TRUE(torch::allclose(draw.timestep * 10000, k, 0, 1e-3));
  const auto val = wuerstchen_validation_ratio(3);
  EXPECT_EQ(val.sizes(), (std::vector<int64_t>{3}));
  EXPECT_EQ(val[1].item<float>(), 0.5f + 0.001f);
}

TEST(WuerstchenLoss, TrainStepGivenThePriorsOutput) {
  REQUIRE_CASCADE("prior_tiny/train_step.safetensors");
  const auto c = test::read_tensors(cascade_dir() / "prior_tiny/train_step.safetensors");
  nlohmann::json spec;
  const auto m = manifest();
  for (const auto& cs : m.at("cases"))
    if (cs.at("id") == "prior_tiny/train_step") spec = cs;
  const auto tol = [&](const std::string& name) {
    return spec.at("expected").at(name).at("tolerance_rel_strict").get<double>();
  };

  // The step's draws come from the recorded seed.
  auto generator = at::make_generator<at::CPUGeneratorImpl>(spec.at("sampling").at("seed").get<uint64_t>());
  const auto draw = draw_wuerstchen_noise(c.at("input.latent"), generator);
  EXPECT_TRUE(torch::equal(draw.noise, c.at("input.noise")));
  EXPECT_TRUE(torch::equal(draw.timestep, c.at("input.timestep_raw")));
  EXPECT_TRUE(torch::equal(draw.ratio, c.at("input.timestep")));

  const auto& r = c.at("input.timestep");
  EXPECT_LE(rel_error(wuerstchen_alpha_cumprod(r), c.at("f64.alpha_cumprod")), tol("f64.alpha_cumprod"));
  const auto noisy = wuerstchen_add_noise(c.at("input.latent"), c.at("input.noise"), r);
  EXPECT_LE(rel_error(noisy, c.at("f64.noisy")), tol("f64.noisy"));

  // The prior's output is the f64 truth run in float32, so the loss math is checked alone.
  const auto output = c.at("f64.output").to(torch::kFloat32).requires_grad_(true);
  const auto loss = wuerstchen_loss(output, c.at("input.noise"), r);
  EXPECT_LE(rel_error(loss.alpha_cumprod, c.at("f64.alpha_cumprod")), tol("f64.alpha_cumprod"));
  EXPECT_LE(rel_error(loss.mse_per_sample, c.at("f64.mse_per_sample")), tol("f64.mse_per_sample"));
  EXPECT_LE(rel_error(loss.p2_weight, c.at("f64.p2_weight")), tol("f64.p2_weight"));
  EXPECT_EQ(loss.loss.dim(), 0);
  EXPECT_LE(rel_error(loss.loss, c.at("f64.loss")), tol("f64.loss"));

  // d loss / d output = 2 (output - noise) p2_b / (B * CHW): the gradient the prior receives.
  loss.loss.backward();
  const auto n = static_cast<double>(output[0].numel());
  const auto p2 = c.at("f64.p2_weight").view({-1, 1, 1, 1});
  const auto expected_grad = 2.0 * (c.at("f64.output") - c.at("input.noise").to(torch::kFloat64)) * p2 / (2.0 * n);
  EXPECT_LE(rel_error(output.grad(), expected_grad), 1e-6);

  // Per-sample weights scale each sample's term before the batch mean.
  const auto weighted = wuerstchen_loss(output.detach(), c.at("input.noise"), r, 1.0, torch::tensor({2.0f, 0.0f}));
  const auto first_only = loss.mse_per_sample[0] * loss.p2_weight[0];
  EXPECT_NEAR(weighted.loss.item<double>(), first_only.item<double>(), 1e-6);
}

}  // namespace
}  // namespace lathe
