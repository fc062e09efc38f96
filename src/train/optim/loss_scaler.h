// Dynamic loss scaling for fp16 training (torch.cuda.amp.GradScaler's rule): fp16 gradients
// underflow to zero below 6e-8, so the loss is multiplied by a large scale before backward and
// the gradients are divided by it before clipping and the optimizer step. A step whose
// gradients hold an inf or NaN (the scale was too large) is skipped and the scale halves; after
// `growth_interval` good steps in a row it doubles. bf16 and fp32 have fp32's exponent range
// and need none of this: the scaler is then disabled and every call is a no-op.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace lathe {

struct LossScalerState {
  double scale = 65536.0;         // 2^16, GradScaler's initial scale
  std::int64_t growth_tracker = 0;  // good steps since the scale last changed
  std::int64_t skipped_steps = 0;   // steps skipped over the whole run (for the log)
};

class LossScaler {
 public:
  static constexpr double kGrowthFactor = 2.0;
  static constexpr double kBackoffFactor = 0.5;
  static constexpr std::int64_t kGrowthInterval = 2000;
  static constexpr double kMinScale = 1.0 / 65536.0;  // below this the run is hopeless

  explicit LossScaler(bool enabled) : enabled_(enabled) {}

  bool enabled() const { return enabled_; }
  double scale() const { return enabled_ ? state_.scale : 1.0; }
  const LossScalerState& state() const { return state_; }
  void restore(const LossScalerState& state) { state_ = state; }

  // loss * scale (the loss itself when disabled).
  torch::Tensor scale_loss(const torch::Tensor& loss) const;

  // Divides every gradient of `params` by the scale in place and reports whether all of them
  // are finite (one host sync). Disabled: returns true without touching anything.
  bool unscale_and_check(const std::vector<torch::Tensor>& params) const;

  // After the step: `finite` false means the step was skipped; the scale backs off, else it
  // grows every kGrowthInterval good steps.
  void update(bool finite);

 private:
  bool enabled_;
  LossScalerState state_;
};

}  // namespace lathe
