// One LoRA / LoCon module (see lora_network.h): the low-rank pair beside a Linear or Conv2d,
// initialised and applied as kohya's LoRAModule (dropout on the down output, rank dropout with
// its 1 / (1 - p) rescale, module dropout skipping the pair for a whole forward).
#include <cmath>

#include <fmt/format.h>

#include "common/error.h"
#include "lora/lora_network.h"

namespace lathe {
namespace nn = torch::nn;

LoRAModuleImpl::LoRAModuleImpl(const nn::Module& base, std::int64_t rank, double alpha_value)
    : rank_(rank), scale_(1.0), conv_(false) {
  if (rank <= 0) throw Error(fmt::format("LoRA rank must be positive, got {}", rank));
  torch::Device device = torch::kCPU;
  if (auto* lin = dynamic_cast<const nn::LinearImpl*>(&base)) {
    lora_down = nn::AnyModule(nn::Linear(nn::LinearOptions(lin->options.in_features(), rank).bias(false)));
    lora_up = nn::AnyModule(nn::Linear(nn::LinearOptions(rank, lin->options.out_features()).bias(false)));
    device = lin->weight.device();
  } else if (auto* conv = dynamic_cast<const nn::Conv2dImpl*>(&base)) {
    const auto& o = conv->options;
    lora_down = nn::AnyModule(nn::Conv2d(nn::Conv2dOptions(o.in_channels(), rank, o.kernel_size())
                                              .stride(o.stride())
                                              .padding(o.padding())
                                              .dilation(o.dilation())
                                              .bias(false)));
    lora_up = nn::AnyModule(nn::Conv2d(nn::Conv2dOptions(rank, o.out_channels(), 1).bias(false)));
    device = conv->weight.device();
    conv_ = true;
  } else {
    throw Error(fmt::format("LoRA: cannot adapt a {} (only Linear and Conv2d)", base.name()));
  }
  register_module("lora_down", lora_down.ptr());
  register_module("lora_up", lora_up.ptr());
  alpha = register_buffer("alpha", torch::scalar_tensor(0.0, torch::kFloat32));
  set_alpha(alpha_value);
  {
    torch::NoGradGuard no_grad;
    // kohya: kaiming_uniform_(down, a=sqrt(5)), zeros_(up): the pair starts as an exact no-op.
    nn::init::kaiming_uniform_(lora_down.ptr()->named_parameters()["weight"], std::sqrt(5.0));
    nn::init::zeros_(lora_up.ptr()->named_parameters()["weight"]);
  }
  to(device);
}

void LoRAModuleImpl::set_alpha(double alpha_value) {
  // kohya: alpha None or 0 means alpha = rank (scale 1).
  if (!(alpha_value > 0)) alpha_value = static_cast<double>(rank_);
  torch::NoGradGuard no_grad;
  alpha.fill_(alpha_value);
  // kohya computes the scale from the float32 alpha buffer.
  scale_ = static_cast<double>(alpha.item<float>()) / static_cast<double>(rank_);
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
  const bool train = is_training();
  if (train && module_dropout > 0 && torch::rand({1}).item<double>() < module_dropout) return base_out;
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
    if (conv_) {
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
