// Adapters that add to the output of a model's Linear / Conv2d modules (LoRA, LoCon) without
// changing the model: the base modules stay where they are, with their canonical parameter
// names, and the model's forward passes each adaptable call through adapted_forward(), which
// looks the module up in a process-wide table of attached adapters. libtorch has no forward
// hooks and LinearImpl::forward is not virtual, so this table is the hook: with nothing
// attached it costs one relaxed atomic load per call.
#pragma once

#include <torch/torch.h>

#include <functional>

namespace lathe {

// Called with the module's input and the base module's output; returns the adapted output.
using ModuleAdapterFn = std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& base_out)>;

// Attaches `fn` to `target` (identified by address) on behalf of `owner` (the network that
// adapts it). Several owners may adapt one module: their adapters run in the order they were
// attached, each given the previous one's output as base_out, so LoRA deltas add up (`lathe
// sample --lora a --lora b`). Throws lathe::Error when `owner` already adapts `target`.
void attach_adapter(const torch::nn::Module& target, const void* owner, ModuleAdapterFn fn);
// Removes `owner`'s adapter from `target`; no-op when it has none there.
void detach_adapter(const torch::nn::Module& target, const void* owner);
bool has_adapter(const torch::nn::Module& target);
// The single-owner form (the module is its own owner): one such adapter per module.
inline void attach_adapter(const torch::nn::Module& target, ModuleAdapterFn fn) {
  attach_adapter(target, &target, std::move(fn));
}
inline void detach_adapter(const torch::nn::Module& target) { detach_adapter(target, &target); }

// base_out, or the attached adapters' result.
torch::Tensor apply_adapter(const torch::nn::Module& target, const torch::Tensor& x,
                            const torch::Tensor& base_out);

// m->forward(x) through the module's adapter, if any (Linear, Conv2d, any module holder).
template <typename Holder>
torch::Tensor adapted_forward(Holder& m, const torch::Tensor& x) {
  return apply_adapter(*m, x, m->forward(x));
}

// A Sequential's forward with each entry passed through its adapter (in_layers, to_out, ff.net).
torch::Tensor adapted_forward(torch::nn::Sequential& seq, torch::Tensor x);

// An AnyModule (SpatialTransformer's proj_in / proj_out) through its adapter.
torch::Tensor adapted_forward(torch::nn::AnyModule& m, const torch::Tensor& x);

}  // namespace lathe
