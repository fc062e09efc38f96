// Gradient checkpointing as a custom autograd Node (see grad_checkpoint.h). The backward is
// reentrant: it runs torch::autograd::backward on the recomputed sub-graph from inside the
// outer backward, which the autograd engine supports.
#include "models/grad_checkpoint.h"

#include <ATen/autocast_mode.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/utils.h>

namespace lathe {

namespace {

using torch::autograd::variable_list;

// The autocast state of the forward, re-entered for the recompute (as torch.utils.checkpoint
// does): the backward runs outside any autocast scope, and a recompute in other dtypes would
// not match the gradients the outer graph hands in.
struct AutocastState {
  bool cpu = false, gpu = false;
  at::ScalarType cpu_dtype = at::kBFloat16, gpu_dtype = at::kHalf;
  static AutocastState current() {
    return {at::autocast::is_autocast_enabled(at::kCPU), at::autocast::is_autocast_enabled(at::kCUDA),
            at::autocast::get_autocast_dtype(at::kCPU), at::autocast::get_autocast_dtype(at::kCUDA)};
  }
  void apply() const {
    at::autocast::set_autocast_enabled(at::kCPU, cpu);
    at::autocast::set_autocast_enabled(at::kCUDA, gpu);
    at::autocast::set_autocast_dtype(at::kCPU, cpu_dtype);
    at::autocast::set_autocast_dtype(at::kCUDA, gpu_dtype);
  }
};

struct CheckpointBackward : torch::autograd::Node {
  TensorFn fn;
  std::vector<torch::Tensor> inputs;  // detached copies, kept (not the activations)
  std::vector<bool> input_requires_grad;
  AutocastState autocast;

  variable_list apply(variable_list&& grads) override {
    std::vector<torch::Tensor> leaves;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      auto t = inputs[i].defined() ? inputs[i].detach() : torch::Tensor();
      if (t.defined() && input_requires_grad[i]) t.requires_grad_(true);
      leaves.push_back(t);
    }
    std::vector<torch::Tensor> outputs;
    {
      torch::AutoGradMode enable(true);
      const auto outer = AutocastState::current();
      autocast.apply();
      try {
        outputs = fn(leaves);
      } catch (...) {
        outer.apply();
        throw;
      }
      outer.apply();
    }
    std::vector<torch::Tensor> roots, root_grads;
    for (std::size_t i = 0; i < outputs.size() && i < grads.size(); ++i) {
      if (!outputs[i].defined() || !outputs[i].requires_grad() || !grads[i].defined()) continue;
      roots.push_back(outputs[i]);
      root_grads.push_back(grads[i]);
    }
    if (!roots.empty()) torch::autograd::backward(roots, root_grads);
    variable_list result;
    for (std::size_t i = 0; i < leaves.size(); ++i)
      result.push_back(leaves[i].defined() && input_requires_grad[i] ? leaves[i].grad() : torch::Tensor());
    inputs.clear();  // the node runs once
    return result;
  }
};

}  // namespace

std::vector<torch::Tensor> checkpoint(const TensorFn& fn, const std::vector<torch::Tensor>& inputs) {
  if (!torch::GradMode::is_enabled()) return fn(inputs);
  std::vector<torch::Tensor> outputs;
  {
    torch::NoGradGuard no_grad;
    outputs = fn(inputs);
  }
  auto node = std::shared_ptr<CheckpointBackward>(new CheckpointBackward(), torch::autograd::deleteNode);
  node->fn = fn;
  node->autocast = AutocastState::current();
  for (const auto& t : inputs) {
    node->inputs.push_back(t.defined() ? t.detach() : torch::Tensor());
    node->input_requires_grad.push_back(t.defined() && t.requires_grad());
  }
  // Undefined inputs get an invalid edge, so input i still pairs with gradient slot i.
  torch::autograd::edge_list edges;
  for (const auto& t : inputs)
    edges.push_back(t.defined() ? torch::autograd::impl::gradient_edge(t) : torch::autograd::Edge());
  node->set_next_edges(std::move(edges));
  for (auto& out : outputs) {
    if (!out.defined() || !out.is_floating_point()) continue;
    if (out.is_view()) {  // a no-grad view cannot take a grad_fn; give it its own storage
      torch::NoGradGuard no_grad;
      out = out.clone();
    }
    torch::autograd::set_history(out, node);
  }
  return outputs;
}

}  // namespace lathe
