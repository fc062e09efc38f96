// LR schedules. Each formula is transformers' lr_lambda for the same name, evaluated in
// double precision, so Lathe's learning rates equal kohya's to the last printed digit.
#include "train/optim/lr_schedule.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "common/error.h"

namespace lathe {

namespace {

const std::vector<std::pair<const char*, LrScheduleType>>& schedule_names() {
  static const std::vector<std::pair<const char*, LrScheduleType>> names = {
      {"constant", LrScheduleType::Constant},
      {"constant_with_warmup", LrScheduleType::ConstantWithWarmup},
      {"linear", LrScheduleType::Linear},
      {"cosine", LrScheduleType::Cosine},
      {"cosine_with_restarts", LrScheduleType::CosineWithRestarts},
      {"polynomial", LrScheduleType::Polynomial},
  };
  return names;
}

constexpr double kPi = 3.14159265358979323846;

}  // namespace

LrScheduleType lr_schedule_type_from_string(const std::string& text, const std::string& key) {
  std::string valid;
  for (const auto& [name, type] : schedule_names()) {
    if (text == name) return type;
    valid += fmt::format("{}\"{}\"", valid.empty() ? "" : ", ", name);
  }
  throw Error(fmt::format("{}: unknown schedule \"{}\"; use one of {}", key, text, valid));
}

std::string to_string(LrScheduleType type) {
  for (const auto& [name, t] : schedule_names()) {
    if (t == type) return name;
  }
  return "constant";
}

LrSchedule::LrSchedule(const LrScheduleConfig& config, int64_t total_steps)
    : config_(config), total_steps_(total_steps) {
  if (total_steps < 1) {
    throw Error(fmt::format("schedule: the run has {} optimizer steps; it needs at least 1",
                            total_steps));
  }
  if (config.warmup_steps < 0) {
    throw Error(fmt::format("schedule.warmup_steps = {}: must be >= 0", config.warmup_steps));
  }
  if (!(config.warmup_ratio >= 0.0) || !(config.warmup_ratio < 1.0)) {
    throw Error(fmt::format("schedule.warmup_ratio = {}: must be in [0, 1)", config.warmup_ratio));
  }
  if (config.warmup_steps > 0 && config.warmup_ratio > 0.0) {
    throw Error("schedule: set warmup_steps or warmup_ratio, not both");
  }
  warmup_steps_ = config.warmup_ratio > 0.0
                      ? static_cast<int64_t>(std::floor(config.warmup_ratio * total_steps))
                      : config.warmup_steps;
  if (warmup_steps_ > total_steps) {
    throw Error(fmt::format(
        "schedule.warmup_steps = {} is longer than the run ({} optimizer steps); lower it",
        warmup_steps_, total_steps));
  }
  if (config.type == LrScheduleType::Constant && warmup_steps_ > 0) {
    throw Error("schedule: type \"constant\" has no warmup; use \"constant_with_warmup\"");
  }
  const bool restarts = config.type == LrScheduleType::CosineWithRestarts;
  num_cycles_ = config.num_cycles.value_or(restarts ? 1.0 : 0.5);
  if (!(num_cycles_ > 0.0)) {
    throw Error(fmt::format("schedule.num_cycles = {}: must be > 0", num_cycles_));
  }
  if (!(config.power > 0.0)) {
    throw Error(fmt::format("schedule.power = {}: must be > 0", config.power));
  }
  if (!(config.end_lr >= 0.0)) {
    throw Error(fmt::format("schedule.end_lr = {}: must be >= 0", config.end_lr));
  }
}

double LrSchedule::warmup_factor(int64_t step) const {
  return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup_steps_));
}

double LrSchedule::factor(int64_t step) const {
  const bool warming = step < warmup_steps_;
  const double decay_steps =
      static_cast<double>(std::max<int64_t>(1, total_steps_ - warmup_steps_));
  const double progress = static_cast<double>(step - warmup_steps_) / decay_steps;
  switch (config_.type) {
    case LrScheduleType::Constant:
      return 1.0;
    case LrScheduleType::ConstantWithWarmup:
      return warming ? warmup_factor(step) : 1.0;
    case LrScheduleType::Linear:
      if (warming) return warmup_factor(step);
      return std::max(0.0, static_cast<double>(total_steps_ - step) / decay_steps);
    case LrScheduleType::Cosine:
      if (warming) return warmup_factor(step);
      return std::max(0.0, 0.5 * (1.0 + std::cos(kPi * num_cycles_ * 2.0 * progress)));
    case LrScheduleType::CosineWithRestarts:
      if (warming) return warmup_factor(step);
      if (progress >= 1.0) return 0.0;
      return std::max(0.0, 0.5 * (1.0 + std::cos(kPi * std::fmod(num_cycles_ * progress, 1.0))));
    case LrScheduleType::Polynomial:
      break;
  }
  throw Error("schedule: polynomial depends on the base learning rate; call lr_at()");
}

double LrSchedule::lr_at(int64_t step, double base_lr) const {
  if (config_.type != LrScheduleType::Polynomial) return base_lr * factor(step);
  if (base_lr == 0.0) return 0.0;  // a frozen group stays frozen
  if (!(base_lr > config_.end_lr)) {
    throw Error(fmt::format(
        "schedule.end_lr = {} must be below the learning rate it decays from ({})",
        config_.end_lr, base_lr));
  }
  if (step < warmup_steps_) return base_lr * warmup_factor(step);
  if (step > total_steps_) return config_.end_lr;
  const double decay_steps =
      static_cast<double>(std::max<int64_t>(1, total_steps_ - warmup_steps_));
  const double remaining = 1.0 - static_cast<double>(step - warmup_steps_) / decay_steps;
  return (base_lr - config_.end_lr) * std::pow(remaining, config_.power) + config_.end_lr;
}

}  // namespace lathe
