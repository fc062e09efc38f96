// Dynamic loss scaling: disabled it changes nothing; enabled it scales the loss, unscales the
// gradients, finds an overflow, backs off and grows as GradScaler does.
#include "train/optim/loss_scaler.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <limits>

namespace lathe {
namespace {

torch::Tensor param_with_grad(std::vector<float> grad) {
  auto p = torch::zeros({static_cast<std::int64_t>(grad.size())}, torch::requires_grad());
  p.mutable_grad() = torch::tensor(grad);
  return p;
}

TEST(LossScaler, DisabledIsANoOp) {
  LossScaler scaler(false);
  auto loss = torch::tensor(2.5f);
  EXPECT_EQ(scaler.scale(), 1.0);
  EXPECT_TRUE(torch::equal(scaler.scale_loss(loss), loss));
  auto p = param_with_grad({std::numeric_limits<float>::infinity(), 4.f});
  EXPECT_TRUE(scaler.unscale_and_check({p}));  // not even looked at
  EXPECT_EQ(p.grad()[1].item<float>(), 4.f);
  scaler.update(false);
  EXPECT_EQ(scaler.state().skipped_steps, 0);
}

TEST(LossScaler, ScalesTheLossAndUnscalesTheGradients) {
  LossScaler scaler(true);
  EXPECT_EQ(scaler.scale(), 65536.0);
  EXPECT_FLOAT_EQ(scaler.scale_loss(torch::tensor(0.5f)).item<float>(), 32768.f);
  auto p = param_with_grad({65536.f, -131072.f});
  auto no_grad = torch::zeros({2}, torch::requires_grad());  // parameters without a gradient are skipped
  EXPECT_TRUE(scaler.unscale_and_check({p, no_grad}));
  EXPECT_FLOAT_EQ(p.grad()[0].item<float>(), 1.f);
  EXPECT_FLOAT_EQ(p.grad()[1].item<float>(), -2.f);
}

TEST(LossScaler, AnOverflowIsFoundAndTheScaleBacksOff) {
  LossScaler scaler(true);
  auto good = param_with_grad({1.f});
  for (float bad : {std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()}) {
    auto p = param_with_grad({1.f, bad});
    EXPECT_FALSE(scaler.unscale_and_check({good, p}));
  }
  scaler.update(true);
  EXPECT_EQ(scaler.state().growth_tracker, 1);
  scaler.update(false);
  EXPECT_EQ(scaler.scale(), 32768.0);
  EXPECT_EQ(scaler.state().growth_tracker, 0);
  EXPECT_EQ(scaler.state().skipped_steps, 1);
}

TEST(LossScaler, GrowsAfterTheGrowthIntervalOfGoodSteps) {
  LossScaler scaler(true);
  for (std::int64_t i = 0; i + 1 < LossScaler::kGrowthInterval; ++i) scaler.update(true);
  EXPECT_EQ(scaler.scale(), 65536.0);
  scaler.update(true);
  EXPECT_EQ(scaler.scale(), 131072.0);
  EXPECT_EQ(scaler.state().growth_tracker, 0);
}

TEST(LossScaler, RestoresItsState) {
  LossScaler a(true);
  a.update(false);
  a.update(true);
  LossScaler b(true);
  b.restore(a.state());
  EXPECT_EQ(b.scale(), a.scale());
  EXPECT_EQ(b.state().growth_tracker, 1);
  EXPECT_EQ(b.state().skipped_steps, 1);
}

}  // namespace
}  // namespace lathe
