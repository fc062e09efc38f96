// What rendering samples in the middle of a training run could leave changed, saved when the
// guard is made and put back when it goes (also when rendering throws): every module's
// train/eval flag (the base model's and the LoRA network's, whose dropouts act in train mode
// only), grad mode, autocast's enabled flag and dtype on the CPU and CUDA, and the state of
// torch's default CPU generator and of the training device's CUDA generator. Sampling draws
// its own noise from seeded generators of its own, so nothing here should move; the guard
// makes "samples on or off give the same LoRA" hold even if some op starts drawing from a
// global stream.
#pragma once

#include <torch/types.h>

#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace torch::nn {
class Module;
}

namespace lathe {

class SamplingStateGuard {
 public:
  // `roots`: the modules whose train flags (theirs and every descendant's) are restored.
  SamplingStateGuard(const std::vector<std::shared_ptr<torch::nn::Module>>& roots, const torch::Device& device);
  ~SamplingStateGuard();
  SamplingStateGuard(const SamplingStateGuard&) = delete;
  SamplingStateGuard& operator=(const SamplingStateGuard&) = delete;

 private:
  struct AutocastState {
    bool enabled = false;
    at::ScalarType dtype = at::kBFloat16;
  };
  std::vector<std::pair<std::shared_ptr<torch::nn::Module>, bool>> modes_;
  bool grad_enabled_ = true;
  AutocastState cpu_autocast_, cuda_autocast_;
  torch::Tensor cpu_generator_state_;
  std::optional<torch::Device> cuda_device_;
  torch::Tensor cuda_generator_state_;
};

}  // namespace lathe
