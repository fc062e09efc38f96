// Save and restore of the process state sampling could touch (see sampling_state_guard.h).
#include "train/loop/sampling_state_guard.h"

#include <ATen/autocast_mode.h>
#include <ATen/core/Generator.h>
#include <torch/torch.h>

#include <mutex>

namespace lathe {
namespace {

at::Generator default_generator(const torch::Device& device) {
  return at::globalContext().defaultGenerator(device);
}

torch::Tensor generator_state(const torch::Device& device) {
  at::Generator generator = default_generator(device);
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

void set_generator_state(const torch::Device& device, const torch::Tensor& state) {
  at::Generator generator = default_generator(device);
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

}  // namespace

SamplingStateGuard::SamplingStateGuard(const std::vector<std::shared_ptr<torch::nn::Module>>& roots,
                                       const torch::Device& device) {
  for (const auto& root : roots)
    for (const auto& m : root->modules(/*include_self=*/true)) modes_.emplace_back(m, m->is_training());
  grad_enabled_ = torch::GradMode::is_enabled();
  cpu_autocast_ = {at::autocast::is_autocast_enabled(at::kCPU), at::autocast::get_autocast_dtype(at::kCPU)};
  cuda_autocast_ = {at::autocast::is_autocast_enabled(at::kCUDA), at::autocast::get_autocast_dtype(at::kCUDA)};
  cpu_generator_state_ = generator_state(torch::kCPU);
  if (device.is_cuda()) {
    cuda_device_ = torch::Device(torch::kCUDA, device.has_index() ? device.index() : 0);
    cuda_generator_state_ = generator_state(*cuda_device_);
  }
}

SamplingStateGuard::~SamplingStateGuard() {
  // train(bool) recurses into children; modules() lists parents before their children, so
  // each child's own flag is set after its parent's and stays.
  for (auto& [module, training] : modes_) module->train(training);
  torch::GradMode::set_enabled(grad_enabled_);
  at::autocast::set_autocast_enabled(at::kCPU, cpu_autocast_.enabled);
  at::autocast::set_autocast_dtype(at::kCPU, cpu_autocast_.dtype);
  at::autocast::set_autocast_enabled(at::kCUDA, cuda_autocast_.enabled);
  at::autocast::set_autocast_dtype(at::kCUDA, cuda_autocast_.dtype);
  set_generator_state(torch::kCPU, cpu_generator_state_);
  if (cuda_device_) set_generator_state(*cuda_device_, cuda_generator_state_);
}

}  // namespace lathe
