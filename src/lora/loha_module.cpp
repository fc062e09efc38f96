// LoHa: a Hadamard product of two low-rank products (see network_modules.h).
#include <torch/torch.h>

#include <fmt/format.h>

#include "common/error.h"
#include "lora/network_delta.h"
#include "lora/network_modules.h"

namespace lathe {

namespace {
std::int64_t flat_in(const BaseOp& op) {
  std::int64_t n = 1;
  for (std::size_t i = 1; i < op.weight_shape.size(); ++i) n *= op.weight_shape[i];
  return n;
}
}  // namespace

LoHaModuleImpl::LoHaModuleImpl(BaseOp op, const ModuleSpec& spec) : NetworkModuleImpl(std::move(op), spec.rank) {
  if (rank_ <= 0) throw Error(fmt::format("LoHa rank must be positive, got {}", rank_));
  const std::int64_t out = op_.weight_shape[0], in = flat_in(op_);
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
  torch::NoGradGuard no_grad;
  // LyCORIS's init (the tensors drawn in its order from torch's global generator).
  hada_w1_a = register_parameter("hada_w1_a", torch::empty({out, rank_}, f32));
  hada_w1_b = register_parameter("hada_w1_b", torch::empty({rank_, in}, f32));
  hada_w2_a = register_parameter("hada_w2_a", torch::empty({out, rank_}, f32));
  hada_w2_b = register_parameter("hada_w2_b", torch::empty({rank_, in}, f32));
  hada_w1_b.normal_(0.0, 1.0);
  hada_w1_a.normal_(0.0, 0.1);
  hada_w2_b.normal_(0.0, 1.0);
  hada_w2_a.zero_();
  init_alpha(spec.alpha);
  if (spec.dora) init_dora();
  to(op_.device());
}

torch::Tensor LoHaModuleImpl::delta_weight() const {
  return loha_delta(hada_w1_a, hada_w1_b, hada_w2_a, hada_w2_b) * scale_;
}

torch::Tensor LoHaModuleImpl::forward(const torch::Tensor& x, const torch::Tensor& base_out) {
  return forward_through_weight(x, base_out);
}

}  // namespace lathe
