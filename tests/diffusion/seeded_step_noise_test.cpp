// SeededStepNoise: the same seed gives the same draws (so the same image), draws differ from
// each other and between seeds, are standard normal, and take the dtype of the latents from one
// float32 draw (so a bf16 run sees the float32 noise rounded, not other noise).
#include "diffusion/seeded_step_noise.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace lathe {
namespace {

TEST(SeededStepNoise, SameSeedSameDraws) {
  const auto like = torch::zeros({1, 4, 16, 16});
  SeededStepNoise a(1234), b(1234);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(torch::equal(a.next(like), b.next(like))) << "draw " << i;
  EXPECT_EQ(a.draws(), 4);
}

TEST(SeededStepNoise, DrawsAndSeedsDiffer) {
  const auto like = torch::zeros({1, 4, 16, 16});
  SeededStepNoise a(1234), b(1235);
  const auto first = a.next(like), second = a.next(like);
  EXPECT_FALSE(torch::equal(first, second));
  EXPECT_FALSE(torch::equal(first, b.next(like)));
}

TEST(SeededStepNoise, IndependentOfGlobalTorchGenerator) {
  const auto like = torch::zeros({2, 4, 8, 8});
  torch::manual_seed(1);
  SeededStepNoise a(7);
  const auto first = a.next(like);
  torch::manual_seed(99);
  torch::randn({100});
  SeededStepNoise b(7);
  EXPECT_TRUE(torch::equal(first, b.next(like)));
}

TEST(SeededStepNoise, StandardNormal) {
  SeededStepNoise noise(42);
  const auto draw = noise.next(torch::zeros({64, 64, 16}));
  EXPECT_NEAR(draw.mean().item<double>(), 0.0, 0.02);
  EXPECT_NEAR(draw.std().item<double>(), 1.0, 0.02);
}

TEST(SeededStepNoise, TakesTheLatentsDtypeFromTheFloat32Draw) {
  SeededStepNoise f32(5), f64(5), bf16(5);
  const auto reference = f32.next(torch::zeros({1, 4, 8, 8}));
  const auto wide = f64.next(torch::zeros({1, 4, 8, 8}, torch::kFloat64));
  EXPECT_EQ(wide.scalar_type(), torch::kFloat64);
  EXPECT_TRUE(torch::equal(wide, reference.to(torch::kFloat64)));
  const auto narrow = bf16.next(torch::zeros({1, 4, 8, 8}, torch::kBFloat16));
  EXPECT_EQ(narrow.scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::equal(narrow, reference.to(torch::kBFloat16)));
}

}  // namespace
}  // namespace lathe
