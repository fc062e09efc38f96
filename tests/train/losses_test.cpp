// Loss functions against values worked out by hand: MSE, kohya's pseudo-Huber and smooth-L1 at
// known points, the Huber threshold schedules, min-SNR-gamma weights for both targets, and the
// full weighted batch loss.
#include "diffusion/losses.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "common/error.h"

namespace {

using lathe::LossConfig;
using lathe::LossType;
using lathe::Prediction;

TEST(Losses, MseIsSquaredDifference) {
  auto pred = torch::tensor({1.0f, 2.0f, -3.0f}).view({3, 1});
  auto target = torch::tensor({0.0f, 0.5f, 1.0f}).view({3, 1});
  auto l = lathe::elementwise_loss(pred, target, LossType::MSE);
  EXPECT_TRUE(torch::allclose(l, torch::tensor({1.0f, 2.25f, 16.0f}).view({3, 1})));
}

TEST(Losses, PseudoHuberAndSmoothL1AtKnownPoints) {
  // c = 0.1 for sample 0, c = 1 for sample 1; differences 0 and 1 in each.
  auto pred = torch::tensor({0.0f, 1.0f, 0.0f, 1.0f}).view({2, 2});
  auto target = torch::zeros({2, 2});
  auto c = torch::tensor({0.1f, 1.0f});
  auto huber = lathe::elementwise_loss(pred, target, LossType::Huber, c);
  auto smooth = lathe::elementwise_loss(pred, target, LossType::SmoothL1, c);
  const double h01 = 2 * 0.1 * (std::sqrt(1 + 0.01) - 0.1);  // 0.180997512...
  const double h11 = 2 * 1.0 * (std::sqrt(2.0) - 1.0);       // 0.828427...
  EXPECT_NEAR(huber[0][0].item<float>(), 0.0, 1e-7);
  EXPECT_NEAR(huber[0][1].item<float>(), h01, 1e-6);
  EXPECT_NEAR(huber[1][1].item<float>(), h11, 1e-6);
  EXPECT_NEAR(smooth[0][1].item<float>(), h01 / 0.1, 1e-5);
  EXPECT_NEAR(smooth[1][1].item<float>(), h11, 1e-6);
}

TEST(Losses, SmoothL1IsQuadraticNearZeroAndLinearFarOut) {
  auto c = torch::tensor({0.1}, torch::kFloat64);
  auto small = lathe::elementwise_loss(torch::full({1, 1}, 1e-3, torch::kFloat64),
                                       torch::zeros({1, 1}, torch::kFloat64), LossType::SmoothL1, c);
  EXPECT_NEAR(small.item<double>() / (1e-6 / 0.1), 1.0, 1e-4);  // ~ x^2 / c
  auto big = lathe::elementwise_loss(torch::full({1, 1}, 100.0, torch::kFloat64),
                                     torch::zeros({1, 1}, torch::kFloat64), LossType::SmoothL1, c);
  EXPECT_NEAR(big.item<double>(), 2 * (100 - 0.1), 1e-3);  // ~ 2 (|x| - c)
}

TEST(Losses, HuberThresholdSchedules) {
  lathe::NoiseSchedule schedule;
  LossConfig c;
  c.type = LossType::Huber;
  c.huber_c = 0.1;
  c.huber_scale = 2.0;
  auto t = torch::tensor({0, 500}, torch::kLong);
  c.huber_schedule = lathe::HuberSchedule::Constant;
  auto constant = lathe::huber_threshold(c, schedule, t);
  EXPECT_NEAR(constant[1].item<float>(), 0.2, 1e-7);
  c.huber_schedule = lathe::HuberSchedule::Exponential;
  auto expo = lathe::huber_threshold(c, schedule, t);
  EXPECT_NEAR(expo[0].item<float>(), 2.0, 1e-6);                   // exp(0) * scale
  EXPECT_NEAR(expo[1].item<float>(), 2.0 * std::sqrt(0.1), 1e-6);  // c^(t/T) * scale
  c.huber_schedule = lathe::HuberSchedule::SNR;
  auto snr = lathe::huber_threshold(c, schedule, t);
  const double sigma0 = std::sqrt(0.00085 / 0.99915);
  EXPECT_NEAR(snr[0].item<float>(), 0.9 / ((1 + sigma0) * (1 + sigma0)) + 0.1, 1e-6);
}

TEST(Losses, MinSnrWeights) {
  auto snr = torch::tensor({0.0f, 1.0f, 5.0f, 20.0f});
  auto eps = lathe::min_snr_weight(snr, 5.0, Prediction::Epsilon);
  auto v = lathe::min_snr_weight(snr, 5.0, Prediction::VPrediction);
  EXPECT_TRUE(torch::allclose(eps, torch::tensor({1.0f, 1.0f, 1.0f, 0.25f})));
  EXPECT_TRUE(torch::allclose(v, torch::tensor({0.0f, 0.5f, 5.0f / 6.0f, 5.0f / 21.0f})));
}

TEST(Losses, WeightedBatchLossByHand) {
  lathe::NoiseSchedule schedule;
  // Two samples of 2 elements: squared errors {1, 9} -> 5 and {4, 0} -> 2.
  auto pred = torch::tensor({1.0f, 3.0f, 2.0f, 0.0f}).view({2, 1, 1, 2});
  auto target = torch::zeros({2, 1, 1, 2});
  auto t = torch::tensor({0, 999}, torch::kLong);
  auto weights = torch::tensor({1.0f, 0.5f});
  LossConfig c;
  auto plain = lathe::diffusion_loss(pred, target, t, schedule, Prediction::Epsilon, c, weights);
  EXPECT_NEAR(plain.item<float>(), (5.0 * 1.0 + 2.0 * 0.5) / 2, 1e-6);
  c.min_snr_gamma = 5.0;
  auto snr = schedule.snr(t);
  const double s0 = snr[0].item<double>(), s1 = snr[1].item<double>();  // 1175, 0.0047
  auto eps = lathe::diffusion_loss(pred, target, t, schedule, Prediction::Epsilon, c, weights);
  EXPECT_NEAR(eps.item<float>(), (5.0 * 5.0 / s0 + 2.0 * 0.5 * 1.0) / 2, 1e-6);
  auto v = lathe::diffusion_loss(pred, target, t, schedule, Prediction::VPrediction, c, weights);
  EXPECT_NEAR(v.item<float>(), (5.0 * 5.0 / (s0 + 1) + 2.0 * 0.5 * s1 / (s1 + 1)) / 2, 1e-6);
  EXPECT_NEAR(lathe::diffusion_loss(pred, target, t, schedule, Prediction::Epsilon, LossConfig{})
                  .item<float>(),
              3.5, 1e-6);
}

TEST(Losses, NamesAndChecks) {
  EXPECT_EQ(lathe::loss_type_from_string("smooth_l1", "noise.loss"), LossType::SmoothL1);
  EXPECT_THROW(lathe::loss_type_from_string("l1", "noise.loss"), lathe::Error);
  LossConfig c;
  c.type = LossType::Huber;
  c.huber_c = 0.0;
  EXPECT_THROW(lathe::check_loss_config(c), lathe::Error);
  c = LossConfig{};
  c.min_snr_gamma = -1;
  EXPECT_THROW(lathe::check_loss_config(c), lathe::Error);
}

}  // namespace
