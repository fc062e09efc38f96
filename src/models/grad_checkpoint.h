// Gradient checkpointing: run a function without keeping its activations, and recompute it in
// the backward pass (PyTorch's reentrant torch.utils.checkpoint, written as an autograd Node
// since libtorch's C++ API has no checkpoint utility (torch.utils.checkpoint is Python)). Trades about one extra forward of the
// wrapped blocks for not storing their intermediate tensors.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <vector>

namespace lathe {

using TensorFn = std::function<std::vector<torch::Tensor>(const std::vector<torch::Tensor>&)>;

// Returns fn(inputs). When grad mode is on, the outputs get one backward node that, when
// reached, recomputes fn on detached copies of the inputs with grad enabled and back-propagates
// through it: gradients flow to the inputs that require grad and accumulate into every
// parameter fn uses (also when no input requires grad, e.g. frozen base + LoRA). `fn` must be
// deterministic (no dropout) and must take every tensor that needs a gradient as an input, not
// by capture. Undefined input tensors are allowed and passed through as undefined.
std::vector<torch::Tensor> checkpoint(const TensorFn& fn, const std::vector<torch::Tensor>& inputs);

}  // namespace lathe
