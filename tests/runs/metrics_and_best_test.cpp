// metrics.jsonl round trip, torn lines, truncation for resume; best-epoch ranking.
#include <gtest/gtest.h>

#include <fstream>

#include "runs/best_epoch.h"
#include "runs/metrics_log.h"
#include "temp_dir.h"

using namespace lathe;
using lathe::test::TempDir;

TEST(MetricsLog, RoundTripSkipsTornLineAndTruncates) {
  TempDir dir;
  MetricsLog log(dir / "metrics.jsonl");
  log.append(StepMetric{1, 1, 0.5, 0.5, 1e-4, 2.0, 10});
  log.append(StepMetric{2, 1, 0.4, 0.45, 1e-4, 2.0, 11});
  log.append(EpochMetric{1, 2, 0.45, "epochs/x-e0001.safetensors", 12});
  log.append(ValidationMetric{1, 2, 0.3, {{"cat", 0.25}}, 13});
  log.append(StepMetric{3, 2, 0.3, 0.4, 1e-4, 2.0, 14});
  { std::ofstream(dir / "metrics.jsonl", std::ios::app) << "{\"type\":\"step\",\"st"; }
  RunMetrics m = read_metrics(dir / "metrics.jsonl");
  ASSERT_EQ(m.steps.size(), 3u);
  ASSERT_EQ(m.epochs.size(), 1u);
  EXPECT_EQ(m.epochs[0].file, "epochs/x-e0001.safetensors");
  ASSERT_EQ(m.validations.size(), 1u);
  EXPECT_DOUBLE_EQ(m.validations[0].per_concept.at("cat"), 0.25);
  truncate_metrics_after(dir / "metrics.jsonl", 2);
  m = read_metrics(dir / "metrics.jsonl");
  EXPECT_EQ(m.steps.size(), 2u);
  EXPECT_EQ(m.validations.size(), 1u);
}

TEST(MetricsLog, GpuMemoryAndLossScaleRoundTripAndStayOutOfCpuRecords) {
  TempDir dir;
  MetricsLog log(dir / "metrics.jsonl");
  StepMetric gpu{1, 1, 0.5, 0.5, 1e-4, 2.0, 10};
  gpu.peak_gpu_mib = 8191.5;
  gpu.loss_scale = 32768;
  gpu.skipped = true;
  log.append(gpu);
  log.append(StepMetric{2, 1, 0.4, 0.45, 1e-4, 2.0, 11});
  std::ifstream in(dir / "metrics.jsonl");
  std::string first, second;
  std::getline(in, first);
  std::getline(in, second);
  EXPECT_NE(first.find("\"peak_gpu_mib\":8191.5"), std::string::npos) << first;
  EXPECT_NE(first.find("\"skipped\":true"), std::string::npos) << first;
  EXPECT_EQ(second.find("peak_gpu_mib"), std::string::npos) << second;
  EXPECT_EQ(second.find("loss_scale"), std::string::npos) << second;
  RunMetrics m = read_metrics(dir / "metrics.jsonl");
  ASSERT_EQ(m.steps.size(), 2u);
  EXPECT_EQ(*m.steps[0].peak_gpu_mib, 8191.5);
  EXPECT_EQ(*m.steps[0].loss_scale, 32768);
  EXPECT_TRUE(m.steps[0].skipped);
  EXPECT_FALSE(m.steps[1].peak_gpu_mib);
  EXPECT_FALSE(m.steps[1].skipped);
}

namespace {
RunMetrics curve(const std::vector<double>& per_epoch_loss, int steps_per_epoch) {
  RunMetrics m;
  std::int64_t step = 0;
  for (std::size_t e = 0; e < per_epoch_loss.size(); ++e) {
    for (int i = 0; i < steps_per_epoch; ++i)
      m.steps.push_back({++step, int(e) + 1, per_epoch_loss[e], 0, 0, 0, 0});
    m.epochs.push_back({int(e) + 1, step, per_epoch_loss[e],
                        "epochs/r-e000" + std::to_string(e + 1) + ".safetensors", 0});
  }
  return m;
}
}  // namespace

TEST(BestEpoch, TrainingLossFallingMeansTrainLonger) {
  auto r = rank_epochs(curve({0.5, 0.4, 0.3, 0.2}, 10));
  EXPECT_EQ(r.basis, "smoothed training loss");
  EXPECT_EQ(r.ranked.front().epoch, 4);
  EXPECT_EQ(r.trend, LossTrend::Falling);
  EXPECT_NE(r.advice.find("more epochs"), std::string::npos);
}

TEST(BestEpoch, ValidationRisingMeansOverfitting) {
  RunMetrics m = curve({0.5, 0.4, 0.3, 0.2, 0.1}, 10);
  double val[] = {0.30, 0.22, 0.25, 0.28, 0.33};
  for (int e = 0; e < 5; ++e) m.validations.push_back({e + 1, (e + 1) * 10, val[e], {}, 0});
  auto r = rank_epochs(m);
  EXPECT_EQ(r.basis, "validation loss");
  EXPECT_EQ(r.ranked.front().epoch, 2);
  EXPECT_EQ(r.ranked.front().file, "epochs/r-e0002.safetensors");
  EXPECT_TRUE(r.by_epoch[1].local_minimum);
  EXPECT_FALSE(r.by_epoch[2].local_minimum);
  EXPECT_EQ(r.trend, LossTrend::Rising);
  EXPECT_NE(r.advice.find("overfitting"), std::string::npos);
}

TEST(BestEpoch, SmoothingUsesStepsAroundTheSave) {
  // Epoch 2's own mean is high, but the steps around its save are low: smoothing must see them.
  RunMetrics m = curve({0.5, 0.5}, 10);
  for (auto& s : m.steps)
    if (s.step > 15) s.loss = 0.1;
  auto r = rank_epochs(m);
  EXPECT_EQ(r.ranked.front().epoch, 2);
  EXPECT_EQ(r.by_epoch[1].samples, 5);
}

TEST(BestEpoch, EmptyRunHasAdvice) {
  auto r = rank_epochs(RunMetrics{});
  EXPECT_TRUE(r.ranked.empty());
  EXPECT_FALSE(r.advice.empty());
}

TEST(BestEpoch, OnlyValidationsAtEpochEndsScoreEpochs) {
  // A validation before the first step (the base model) and one mid-epoch describe no saved
  // epoch: they must not stand in for epoch 1.
  RunMetrics m = curve({0.5, 0.4}, 10);
  m.validations.push_back({1, 0, 0.01, {}, 0});
  m.validations.push_back({1, 5, 0.02, {}, 0});
  m.validations.push_back({1, 10, 0.30, {}, 0});
  m.validations.push_back({2, 20, 0.20, {}, 0});
  auto r = rank_epochs(m);
  EXPECT_EQ(r.basis, "validation loss");
  ASSERT_EQ(r.by_epoch.size(), 2u);
  EXPECT_DOUBLE_EQ(r.by_epoch[0].score, 0.30);
  EXPECT_EQ(r.ranked.front().epoch, 2);

  RunMetrics only_base = curve({0.5, 0.4}, 10);
  only_base.validations.push_back({1, 0, 0.01, {}, 0});
  EXPECT_EQ(rank_epochs(only_base).basis, "smoothed training loss");
}
