// What every adapter module shares (see network_module.h): the base op, the alpha buffer,
// DoRA's magnitude, module dropout, and the forward of modules that build their full delta.
#include "lora/network_module.h"

#include <torch/torch.h>

#include <fmt/format.h>

#include <cmath>

#include "common/error.h"
#include "lora/network_delta.h"

namespace lathe {
namespace nn = torch::nn;

torch::Device BaseOp::device() const { return weight.defined() ? weight.device() : torch::Device(torch::kCPU); }

torch::Tensor BaseOp::apply(const torch::Tensor& x, const torch::Tensor& w) const {
  if (!conv) return torch::linear(x, w);
  return torch::conv2d(x, w, {}, stride, padding, dilation);
}

BaseOp base_op_of(const nn::Module& base) {
  BaseOp op;
  if (auto* lin = dynamic_cast<const nn::LinearImpl*>(&base)) {
    op.weight = lin->weight;
  } else if (auto* conv = dynamic_cast<const nn::Conv2dImpl*>(&base)) {
    const auto& o = conv->options;
    if (o.groups() != 1) throw Error(fmt::format("LoRA: cannot adapt a grouped Conv2d ({} groups)", o.groups()));
    const auto* padding = std::get_if<torch::ExpandingArray<2>>(&o.padding());
    if (!padding) throw Error("LoRA: cannot adapt a Conv2d with 'same' / 'valid' padding");
    op.conv = true;
    op.weight = conv->weight;
    op.stride = {(*o.stride())[0], (*o.stride())[1]};
    op.padding = {(**padding)[0], (**padding)[1]};
    op.dilation = {(*o.dilation())[0], (*o.dilation())[1]};
  } else {
    throw Error(fmt::format("LoRA: cannot adapt a {} (only Linear and Conv2d)", base.name()));
  }
  op.weight_shape = op.weight.sizes().vec();
  return op;
}

const char* network_algo_name(NetworkAlgo a) {
  switch (a) {
    case NetworkAlgo::LoRA: return "lora";
    case NetworkAlgo::LoHa: return "loha";
    case NetworkAlgo::LoKr: return "lokr";
  }
  return "lora";
}

void NetworkModuleImpl::init_alpha(double alpha_value) {
  alpha = register_buffer("alpha", torch::scalar_tensor(0.0, torch::kFloat32));
  set_alpha(alpha_value);
}

void NetworkModuleImpl::set_alpha(double alpha_value) {
  // kohya / LyCORIS: alpha None or 0 means alpha = rank (scale 1); a negative alpha is kept.
  if (alpha_value == 0 || std::isnan(alpha_value)) alpha_value = static_cast<double>(rank_);
  torch::NoGradGuard no_grad;
  alpha.fill_(alpha_value);
  // kohya and LyCORIS compute the scale from the float32 alpha buffer.
  scale_ = static_cast<double>(alpha.item<float>()) / static_cast<double>(rank_);
}

void NetworkModuleImpl::init_dora() {
  torch::NoGradGuard no_grad;
  if (op_.weight.defined()) {
    dora_scale = register_parameter("dora_scale", dora_magnitude(op_.weight.detach()).to(torch::kCPU));
  } else {  // a module built only to be loaded from a file (merge): the file gives the values
    std::vector<std::int64_t> shape(op_.weight_shape.size(), 1);
    shape[1] = op_.weight_shape[1];
    dora_scale = register_parameter("dora_scale", torch::ones(shape));
  }
}

bool NetworkModuleImpl::skipped_by_module_dropout() const {
  return is_training() && module_dropout > 0 && torch::rand({1}).item<double>() < module_dropout;
}

torch::Tensor NetworkModuleImpl::forward_through_weight(const torch::Tensor& x, const torch::Tensor& base_out) {
  if (skipped_by_module_dropout()) return base_out;
  auto delta = delta_weight().reshape(op_.weight_shape);  // fp32, scale included
  if (is_training() && rank_dropout > 0) {
    // LyCORIS drops whole output rows of the built weight, without rescaling.
    std::vector<std::int64_t> shape(op_.weight_shape.size(), 1);
    shape[0] = delta.size(0);
    delta = delta * (torch::rand({delta.size(0)}, delta.options()) > rank_dropout).to(delta.scalar_type()).reshape(shape);
  }
  if (dora()) delta = dora_delta(op_.weight.detach().to(torch::kFloat32), delta, dora_scale);
  // As the LoRA path: the small fp32 weights are cast to the activations' dtype, not the reverse.
  auto out = op_.apply(x, (delta * multiplier).to(x.scalar_type()));
  return base_out + out.to(base_out.scalar_type());
}

std::pair<std::int64_t, std::int64_t> lokr_factorization(std::int64_t dimension, std::int64_t factor) {
  if (factor > 0 && dimension % factor == 0) {
    std::int64_t m = factor, n = dimension / factor;
    if (m > n) std::swap(m, n);
    return {m, n};
  }
  if (factor < 0) factor = dimension;
  std::int64_t m = 1, n = dimension;
  const std::int64_t length = m + n;
  while (m < n) {
    std::int64_t new_m = m + 1;
    while (dimension % new_m != 0) ++new_m;
    const std::int64_t new_n = dimension / new_m;
    if (new_m + new_n > length || new_m > factor) break;
    m = new_m;
    n = new_n;
  }
  if (m > n) std::swap(m, n);
  return {m, n};
}

ModuleSpec lokr_spec(std::int64_t out, std::int64_t in, std::int64_t rank, double alpha, std::int64_t factor,
                     bool decompose_both, bool dora) {
  ModuleSpec s;
  s.algo = NetworkAlgo::LoKr;
  s.rank = rank;
  s.alpha = alpha;
  s.dora = dora;
  std::tie(s.out_l, s.out_k) = lokr_factorization(out, factor);
  std::tie(s.in_m, s.in_n) = lokr_factorization(in, factor);
  const auto r = static_cast<double>(rank);
  s.w1_decomposed = decompose_both && r < static_cast<double>(std::max(s.out_l, s.in_m)) / 2;
  s.w2_decomposed = r < static_cast<double>(std::max(s.out_k, s.in_n)) / 2;
  return s;
}

}  // namespace lathe
