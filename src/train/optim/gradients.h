// Gradient housekeeping between backward and the optimizer step: clipping by global norm
// (torch.nn.utils.clip_grad_norm_) and gradient accumulation over micro-batches (the loss of
// each micro-batch is scaled by 1 / N and the optimizer steps every N micro-batches, as
// accelerate does for kohya).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace lathe {

// Scales every gradient by min(1, max_norm / (total_norm + 1e-6)), where total_norm is the 2-norm
// of all gradients together; parameters without a gradient are skipped. Returns total_norm (a
// 0-dim float tensor on the first gradient's device, before clipping; 0 on the CPU when there
// is no gradient) without a host sync, so logging it is the caller's choice. max_norm <= 0
// only measures.
torch::Tensor clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm);

// Counts micro-batches for gradient accumulation. Per micro-batch: backward(loss *
// loss_scale()), then if (accumulator.advance()) { clip, optimizer.step(), zero_grad }.
// At an epoch's end, flush a partial accumulation with `if (accumulator.pending())`, then
// reset() (accelerate steps on the last batch of the data loader).
class GradAccumulator {
 public:
  // Throws lathe::Error unless steps >= 1 (training.gradient_accumulation_steps).
  explicit GradAccumulator(int64_t steps = 1);

  int64_t steps() const { return steps_; }
  double loss_scale() const { return 1.0 / static_cast<double>(steps_); }
  // Records one finished micro-batch; true when it completes an accumulation (step now).
  bool advance();
  // Micro-batches recorded since the last completed accumulation.
  int64_t pending() const { return pending_; }
  void reset() { pending_ = 0; }
  // For resume: the run layer saves pending() and restores it.
  void set_pending(int64_t pending);

 private:
  int64_t steps_;
  int64_t pending_ = 0;
};

}  // namespace lathe
