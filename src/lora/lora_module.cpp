// One LoRA / LoCon module (see lora_network.h): the low-rank pair beside a Linear or Conv2d,
// initialised and applied as kohya's LoRAModule (dropout on the down output, rank dropout with
// its 1 / (1 - p) rescale, module dropout skipping the pair for a whole forward). With DoRA the
// pair's delta goes through the weight (network_module.cpp), as LyCORIS's LoCon does.
#include <cmath>

#include <fmt/format.h>

#include "common/error.h"
#include "lora/lora_network.h"
#include "lora/network_delta.h"

namespace lathe {
namespace nn = torch::nn;

LoRAModuleImpl::LoRAModuleImpl(const nn::Module& base, std::int64_t rank, double alpha_value, bool dora)
    : LoRAModuleImpl(base_op_of(base), rank, alpha_value, dora) {}

LoRAModuleImpl::LoRAModuleImpl(const BaseOp& op, std::int64_t rank, double alpha_value, bool dora)
    : NetworkModuleImpl(op, rank) {
  if (rank <= 0) throw Error(fmt::format("LoRA rank must be positive, got {}", rank));
  const auto& shape = op_.weight_shape;
  if (!op_.conv) {
    lora_down = nn::AnyModule(nn::Linear(nn::LinearOptions(shape[1], rank).bias(false)));
    lora_up = nn::AnyModule(nn::Linear(nn::LinearOptions(rank, shape[0]).bias(false)));
  } else {
    lora_down = nn::AnyModule(nn::Conv2d(nn::Conv2dOptions(shape[1], rank, {shape[2], shape[3]})
                                             .stride({op_.stride[0], op_.stride[1]})
                                             .padding(torch::ExpandingArray<2>({op_.padding[0], op_.padding[1]}))
                                             .dilation({op_.dilation[0], op_.dilation[1]})
                                             .bias(false)));
    lora_up = nn::AnyModule(nn::Conv2d(nn::Conv2dOptions(rank, shape[0], 1).bias(false)));
  }
  register_module("lora_down", lora_down.ptr());
  register_module("lora_up", lora_up.ptr());
  init_alpha(alpha_value);
  {
    torch::NoGradGuard no_grad;
    // kohya: kaiming_uniform_(down, a=sqrt(5)), zeros_(up): the pair starts as an exact no-op.
    nn::init::kaiming_uniform_(lora_down.ptr()->named_parameters()["weight"], std::sqrt(5.0));
    nn::init::zeros_(lora_up.ptr()->named_parameters()["weight"]);
  }
  if (dora) init_dora();
  to(op_.device());
}

torch::Tensor LoRAModuleImpl::delta_weight() const {
  const auto params = [](const nn::AnyModule& m) { return m.ptr()->named_parameters()["weight"]; };
  return lora_delta(params(lora_down), params(lora_up)).reshape(op_.weight_shape) * scale_;
}

namespace {

// Runs a LoRA projection (the module's Linear or Conv2d) with its fp32 weight cast to `dtype`.
torch::Tensor project(const nn::AnyModule& module, const torch::Tensor& x, torch::ScalarType dtype) {
  if (auto* lin = dynamic_cast<nn::LinearImpl*>(module.ptr().get()))
    return torch::linear(x, lin->weight.to(dtype));
  auto* conv = dynamic_cast<nn::Conv2dImpl*>(module.ptr().get());
  const auto& o = conv->options;
  return torch::conv2d(x, conv->weight.to(dtype), {}, o.stride(),
                       std::get<torch::ExpandingArray<2>>(o.padding()), o.dilation());
}

}  // namespace

torch::Tensor LoRAModuleImpl::forward(const torch::Tensor& x, const torch::Tensor& base_out) {
  // DoRA needs the built weight (its norm is of base + delta); LyCORIS ignores neuron dropout there.
  if (dora()) return forward_through_weight(x, base_out);
  if (skipped_by_module_dropout()) return base_out;
  const bool train = is_training();
  // The LoRA weights stay fp32 (the optimizer's master copy) and the pair computes in the
  // activations' dtype, as autocast does: with a bf16 base, casting the two small weights costs
  // little, while casting the activations in and the output back (every module, both passes)
  // cost ~8 % of an SD 1.5 step. With an fp32 base nothing is cast.
  const auto dtype = x.scalar_type();
  auto lx = project(lora_down, x, dtype);  // [B, ..., r] or [B, r, H, W]
  if (train && dropout > 0) lx = torch::dropout(lx, dropout, /*train=*/true);
  double scale = scale_;
  if (train && rank_dropout > 0) {
    auto mask = (torch::rand({lx.size(0), rank_}, lx.options()) > rank_dropout).to(lx.scalar_type());
    if (op_.conv) {
      mask = mask.unsqueeze(-1).unsqueeze(-1);  // [B, r, 1, 1]
    } else {
      for (auto d = mask.dim(); d < lx.dim(); ++d) mask = mask.unsqueeze(1);  // [B, 1.., r]
    }
    lx = lx * mask;
    scale /= (1.0 - rank_dropout);  // as if the rank had shrunk
  }
  // Scaling the rank-wide tensor instead of the output saves a full-size pass per module.
  auto up = project(lora_up, lx * (multiplier * scale), dtype);
  return base_out + up.to(base_out.scalar_type());
}

}  // namespace lathe
