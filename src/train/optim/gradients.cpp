// Gradient clipping and accumulation. The clip coefficient stays a device tensor so a CUDA
// step does not wait on the host for it.
#include "train/optim/gradients.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include "common/error.h"

namespace lathe {

torch::Tensor clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm) {
  std::vector<torch::Tensor> grads;
  for (const auto& p : params) {
    if (p.grad().defined()) grads.push_back(p.grad());
  }
  if (grads.empty()) return torch::zeros({}, torch::kFloat32);
  torch::NoGradGuard no_grad;
  const auto device = grads.front().device();
  std::vector<torch::Tensor> norms;
  norms.reserve(grads.size());
  for (const auto& g : grads) norms.push_back(g.detach().norm(2).to(device, torch::kFloat32));
  auto total = torch::stack(norms).norm(2);
  if (max_norm > 0.0) {
    auto coef = torch::clamp_max(max_norm / (total + 1e-6), 1.0);
    for (auto& g : grads) g.mul_(coef.to(g.device(), g.scalar_type()));
  }
  return total;
}

GradAccumulator::GradAccumulator(int64_t steps) : steps_(steps) {
  if (steps < 1) {
    throw Error(fmt::format("training.gradient_accumulation_steps = {}: must be >= 1", steps));
  }
}

bool GradAccumulator::advance() {
  if (++pending_ < steps_) return false;
  pending_ = 0;
  return true;
}

void GradAccumulator::set_pending(int64_t pending) {
  if (pending < 0 || pending >= steps_) {
    throw Error(fmt::format("resume state: {} pending micro-batches, but accumulation is over {}",
                            pending, steps_));
  }
  pending_ = pending;
}

}  // namespace lathe
