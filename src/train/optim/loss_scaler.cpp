// Dynamic loss scaling (see the header for the rule).
#include "train/optim/loss_scaler.h"

#include <torch/torch.h>

namespace lathe {

torch::Tensor LossScaler::scale_loss(const torch::Tensor& loss) const {
  return enabled_ ? loss * state_.scale : loss;
}

bool LossScaler::unscale_and_check(const std::vector<torch::Tensor>& params) const {
  if (!enabled_) return true;
  torch::NoGradGuard no_grad;
  const double inverse = 1.0 / state_.scale;
  torch::Tensor bad;  // count of non-finite gradient elements, summed on the device
  for (const auto& p : params) {
    auto g = p.grad();
    if (!g.defined()) continue;
    g.mul_(inverse);
    auto nonfinite = g.isfinite().logical_not().any();
    bad = bad.defined() ? bad.logical_or(nonfinite) : nonfinite;
  }
  return !bad.defined() || !bad.item<bool>();
}

void LossScaler::update(bool finite) {
  if (!enabled_) return;
  if (!finite) {
    state_.scale *= kBackoffFactor;
    state_.growth_tracker = 0;
    state_.skipped_steps += 1;
    return;
  }
  if (++state_.growth_tracker >= kGrowthInterval) {
    state_.scale *= kGrowthFactor;
    state_.growth_tracker = 0;
  }
}

}  // namespace lathe
