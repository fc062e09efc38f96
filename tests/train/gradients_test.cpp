// Gradient clipping by global norm and the accumulation counter, by hand.
#include "train/optim/gradients.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/error.h"

namespace {

torch::Tensor with_grad(std::vector<float> value, std::vector<float> grad) {
  auto p = torch::tensor(value).set_requires_grad(true);
  p.mutable_grad() = torch::tensor(grad);
  return p;
}

TEST(ClipGradNorm, ScalesAllGradientsByOneFactor) {
  auto a = with_grad({0, 0}, {3, 0});
  auto b = with_grad({0}, {4});
  auto none = torch::zeros({2}).set_requires_grad(true);
  auto total = lathe::clip_grad_norm({a, none, b}, 1.0);
  EXPECT_NEAR(total.item<float>(), 5.0, 1e-6);
  const double k = 1.0 / (5.0 + 1e-6);
  EXPECT_NEAR(a.grad()[0].item<float>(), 3 * k, 1e-7);
  EXPECT_NEAR(b.grad()[0].item<float>(), 4 * k, 1e-7);
  EXPECT_FALSE(none.grad().defined());
}

TEST(ClipGradNorm, LeavesSmallGradientsAlone) {
  auto a = with_grad({0, 0}, {0.3f, 0.4f});
  auto total = lathe::clip_grad_norm({a}, 1.0);
  EXPECT_NEAR(total.item<float>(), 0.5, 1e-7);
  EXPECT_TRUE(torch::equal(a.grad(), torch::tensor({0.3f, 0.4f})));
  auto measured = lathe::clip_grad_norm({with_grad({0}, {100})}, 0.0);  // 0: measure only
  EXPECT_NEAR(measured.item<float>(), 100, 1e-4);
  EXPECT_EQ(lathe::clip_grad_norm({}, 1.0).item<float>(), 0.0f);
}

TEST(GradAccumulator, StepsEveryNMicroBatches) {
  lathe::GradAccumulator acc(3);
  EXPECT_DOUBLE_EQ(acc.loss_scale(), 1.0 / 3.0);
  std::vector<bool> steps;
  for (int i = 0; i < 7; ++i) steps.push_back(acc.advance());
  EXPECT_EQ(steps, (std::vector<bool>{false, false, true, false, false, true, false}));
  EXPECT_EQ(acc.pending(), 1);
  acc.reset();
  EXPECT_EQ(acc.pending(), 0);
  acc.set_pending(2);
  EXPECT_TRUE(acc.advance());
  EXPECT_THROW(acc.set_pending(3), lathe::Error);
  EXPECT_THROW(lathe::GradAccumulator(0), lathe::Error);
  lathe::GradAccumulator single;
  EXPECT_TRUE(single.advance());
}

}  // namespace
