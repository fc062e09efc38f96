// LR schedules at the end of warmup, half-way and the end, computed by hand from the
// transformers formulas.
#include "train/optim/lr_schedule.h"

#include <gtest/gtest.h>

#include <cmath>

#include "common/error.h"

namespace {

constexpr double kPi = 3.14159265358979323846;

using lathe::LrSchedule;
using lathe::LrScheduleConfig;
using lathe::LrScheduleType;

LrSchedule make(LrScheduleType type, int64_t warmup, int64_t total) {
  LrScheduleConfig c;
  c.type = type;
  c.warmup_steps = warmup;
  return LrSchedule(c, total);
}

TEST(LrSchedule, ConstantAndConstantWithWarmup) {
  EXPECT_DOUBLE_EQ(make(LrScheduleType::Constant, 0, 100).lr_at(0, 1e-4), 1e-4);
  auto s = make(LrScheduleType::ConstantWithWarmup, 10, 100);
  EXPECT_DOUBLE_EQ(s.lr_at(0, 1e-4), 0.0);
  EXPECT_DOUBLE_EQ(s.lr_at(5, 1e-4), 0.5e-4);
  EXPECT_DOUBLE_EQ(s.lr_at(10, 1e-4), 1e-4);
  EXPECT_DOUBLE_EQ(s.lr_at(99, 1e-4), 1e-4);
}

TEST(LrSchedule, LinearWarmupEndHalfWayEnd) {
  auto s = make(LrScheduleType::Linear, 10, 100);
  EXPECT_DOUBLE_EQ(s.lr_at(10, 2.0), 2.0);
  EXPECT_DOUBLE_EQ(s.lr_at(55, 2.0), 1.0);  // (100 - 55) / 90
  EXPECT_DOUBLE_EQ(s.lr_at(100, 2.0), 0.0);
  EXPECT_DOUBLE_EQ(s.lr_at(120, 2.0), 0.0);
}

TEST(LrSchedule, CosineWarmupEndHalfWayEnd) {
  auto s = make(LrScheduleType::Cosine, 10, 100);
  EXPECT_DOUBLE_EQ(s.lr_at(10, 1.0), 1.0);
  EXPECT_NEAR(s.lr_at(55, 1.0), 0.5, 1e-15);   // 0.5 (1 + cos(pi/2))
  EXPECT_NEAR(s.lr_at(32, 1.0), 0.5 * (1 + std::cos(kPi * 22.0 / 90.0)), 1e-15);
  EXPECT_NEAR(s.lr_at(100, 1.0), 0.0, 1e-15);
}

TEST(LrSchedule, CosineWithRestarts) {
  LrScheduleConfig c;
  c.type = LrScheduleType::CosineWithRestarts;
  c.warmup_steps = 10;
  c.num_cycles = 2;
  LrSchedule s(c, 110);  // 100 decay steps, two cycles of 50
  EXPECT_DOUBLE_EQ(s.lr_at(10, 1.0), 1.0);
  EXPECT_NEAR(s.lr_at(35, 1.0), 0.5, 1e-15);  // a quarter: half-way down the first cycle
  EXPECT_NEAR(s.lr_at(59, 1.0), 0.5 * (1 + std::cos(kPi * 0.98)), 1e-15);
  EXPECT_DOUBLE_EQ(s.lr_at(60, 1.0), 1.0);  // the hard restart
  EXPECT_DOUBLE_EQ(s.lr_at(110, 1.0), 0.0);
}

TEST(LrSchedule, PolynomialWithPowerAndEndLr) {
  LrScheduleConfig c;
  c.type = LrScheduleType::Polynomial;
  c.power = 2.0;
  c.end_lr = 1e-5;
  c.warmup_steps = 10;
  LrSchedule s(c, 110);
  EXPECT_DOUBLE_EQ(s.lr_at(5, 1e-3), 0.5e-3);
  EXPECT_DOUBLE_EQ(s.lr_at(10, 1e-3), 1e-3);
  EXPECT_NEAR(s.lr_at(60, 1e-3), (1e-3 - 1e-5) * 0.25 + 1e-5, 1e-18);
  EXPECT_NEAR(s.lr_at(110, 1e-3), 1e-5, 1e-18);
  EXPECT_DOUBLE_EQ(s.lr_at(500, 1e-3), 1e-5);
  EXPECT_DOUBLE_EQ(s.lr_at(60, 0.0), 0.0);  // a frozen group stays frozen
  EXPECT_THROW(s.lr_at(60, 1e-6), lathe::Error);
}

TEST(LrSchedule, WarmupRatioIsFlooredFractionOfTotal) {
  LrScheduleConfig c;
  c.type = LrScheduleType::Linear;
  c.warmup_ratio = 0.055;
  LrSchedule s(c, 100);
  EXPECT_EQ(s.warmup_steps(), 5);
  EXPECT_DOUBLE_EQ(s.lr_at(4, 1.0), 0.8);
}

TEST(LrSchedule, RejectsInvalidConfigsNamingTheKey) {
  LrScheduleConfig c;
  c.type = LrScheduleType::Linear;
  c.warmup_steps = 5;
  c.warmup_ratio = 0.1;
  EXPECT_THROW(LrSchedule(c, 100), lathe::Error);
  c.warmup_ratio = 0;
  c.warmup_steps = 200;
  EXPECT_THROW(LrSchedule(c, 100), lathe::Error);
  c.warmup_steps = 0;
  c.warmup_ratio = 1.0;
  EXPECT_THROW(LrSchedule(c, 100), lathe::Error);
  try {
    lathe::lr_schedule_type_from_string("cosine_restarts", "schedule.type");
    FAIL() << "expected lathe::Error";
  } catch (const lathe::Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("schedule.type"), std::string::npos);
    EXPECT_NE(m.find("cosine_with_restarts"), std::string::npos);
  }
  EXPECT_EQ(lathe::lr_schedule_type_from_string("polynomial", "k"), LrScheduleType::Polynomial);
}

}  // namespace
