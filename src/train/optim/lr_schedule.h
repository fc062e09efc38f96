// Learning-rate schedules with the formulas of transformers / diffusers get_scheduler, which
// kohya-ss sd-scripts uses: constant, constant_with_warmup, linear, cosine,
// cosine_with_restarts (hard restarts) and polynomial, with a linear warmup given in steps or
// as a ratio of the total. A schedule is a pure function of the optimizer step, so resuming a
// run needs nothing but the step count.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace lathe {

enum class LrScheduleType {
  Constant,
  ConstantWithWarmup,
  Linear,
  Cosine,
  CosineWithRestarts,
  Polynomial,
};

// Accepts the names above in snake_case ("cosine_with_restarts"); throws lathe::Error naming
// `key` and listing the valid names otherwise.
LrScheduleType lr_schedule_type_from_string(const std::string& text, const std::string& key);
std::string to_string(LrScheduleType type);

struct LrScheduleConfig {
  LrScheduleType type = LrScheduleType::Constant;
  int64_t warmup_steps = 0;    // set this or warmup_ratio, not both
  double warmup_ratio = 0.0;   // warmup = floor(ratio * total_steps), as kohya does
  // cosine: waves over the decay (default 0.5: one half wave, from base_lr down to 0).
  // cosine_with_restarts: number of hard restarts (default 1).
  std::optional<double> num_cycles;
  double power = 1.0;          // polynomial exponent
  double end_lr = 1e-7;        // polynomial final learning rate (absolute)
};

class LrSchedule {
 public:
  // Throws lathe::Error naming the schedule.* key that is invalid (negative warmup, ratio
  // outside [0, 1), both warmup forms set, warmup longer than the run, num_cycles <= 0,
  // power <= 0, total_steps < 1).
  LrSchedule(const LrScheduleConfig& config, int64_t total_steps);

  // The learning rate for the update made after `step` updates have already been taken
  // (0 for the first update), for a group whose configured rate is base_lr. This is
  // LambdaLR's base_lr * lambda(step); the warmup therefore starts at 0.
  double lr_at(int64_t step, double base_lr) const;
  // lambda(step) for schedules that do not depend on base_lr (all but polynomial).
  double factor(int64_t step) const;

  int64_t warmup_steps() const { return warmup_steps_; }
  int64_t total_steps() const { return total_steps_; }
  const LrScheduleConfig& config() const { return config_; }

 private:
  double warmup_factor(int64_t step) const;

  LrScheduleConfig config_;
  int64_t total_steps_;
  int64_t warmup_steps_;
  double num_cycles_;
};

}  // namespace lathe
