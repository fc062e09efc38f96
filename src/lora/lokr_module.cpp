// LoKr: a Kronecker product of a small and a large factor (see network_modules.h).
#include <torch/torch.h>

#include <cmath>

#include <fmt/format.h>

#include "common/error.h"
#include "lora/network_delta.h"
#include "lora/network_modules.h"

namespace lathe {

LoKrModuleImpl::LoKrModuleImpl(BaseOp op, const ModuleSpec& spec)
    : NetworkModuleImpl(std::move(op), spec.rank), spec_(spec) {
  if (rank_ <= 0) throw Error(fmt::format("LoKr rank must be positive, got {}", rank_));
  const auto& shape = op_.weight_shape;
  if (spec.out_l * spec.out_k != shape[0] || spec.in_m * spec.in_n != shape[1])
    throw Error(fmt::format("LoKr factors {}x{} / {}x{} do not fit a weight of {} x {}", spec.out_l, spec.out_k,
                            spec.in_m, spec.in_n, shape[0], shape[1]));
  std::vector<std::int64_t> kernel(shape.begin() + 2, shape.end());
  std::int64_t kernel_numel = 1;
  for (auto k : kernel) kernel_numel *= k;
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
  const double a = std::sqrt(5.0);
  torch::NoGradGuard no_grad;
  // LyCORIS creates w1 then w2, and initialises w2 then w1.
  if (spec.w1_decomposed) {
    lokr_w1_a = register_parameter("lokr_w1_a", torch::empty({spec.out_l, rank_}, f32));
    lokr_w1_b = register_parameter("lokr_w1_b", torch::empty({rank_, spec.in_m}, f32));
  } else {
    lokr_w1 = register_parameter("lokr_w1", torch::empty({spec.out_l, spec.in_m}, f32));
  }
  if (spec.w2_decomposed) {
    lokr_w2_a = register_parameter("lokr_w2_a", torch::empty({spec.out_k, rank_}, f32));
    lokr_w2_b = register_parameter("lokr_w2_b", torch::empty({rank_, spec.in_n * kernel_numel}, f32));
    torch::nn::init::kaiming_uniform_(lokr_w2_a, a);
    lokr_w2_b.zero_();
  } else {
    std::vector<std::int64_t> w2_shape{spec.out_k, spec.in_n};
    w2_shape.insert(w2_shape.end(), kernel.begin(), kernel.end());
    lokr_w2 = register_parameter("lokr_w2", torch::zeros(w2_shape, f32));
  }
  if (spec.w1_decomposed) {
    torch::nn::init::kaiming_uniform_(lokr_w1_a, a);
    torch::nn::init::kaiming_uniform_(lokr_w1_b, a);
  } else {
    torch::nn::init::kaiming_uniform_(lokr_w1, a);
  }
  init_alpha(spec.alpha);
  if (spec.dora) init_dora();
  to(op_.device());
}

void LoKrModuleImpl::set_alpha(double alpha_value) {
  NetworkModuleImpl::set_alpha(alpha_value);
  if (!spec_.w1_decomposed && !spec_.w2_decomposed) {
    // LyCORIS: two full factors have scale 1 and store alpha = rank; loaders ignore it.
    NetworkModuleImpl::set_alpha(static_cast<double>(rank_));
  }
}

torch::Tensor LoKrModuleImpl::w1() const { return spec_.w1_decomposed ? lokr_w1_a.matmul(lokr_w1_b) : lokr_w1; }

torch::Tensor LoKrModuleImpl::w2() const {
  if (!spec_.w2_decomposed) return lokr_w2;
  auto w2 = lokr_w2_a.matmul(lokr_w2_b);  // [out_k, in_n * kh * kw]
  std::vector<std::int64_t> shape{spec_.out_k, spec_.in_n};
  shape.insert(shape.end(), op_.weight_shape.begin() + 2, op_.weight_shape.end());
  return w2.reshape(shape);
}

torch::Tensor LoKrModuleImpl::delta_weight() const { return lokr_delta(w1(), w2()) * scale_; }

torch::Tensor LoKrModuleImpl::forward(const torch::Tensor& x, const torch::Tensor& base_out) {
  return forward_through_weight(x, base_out);
}

}  // namespace lathe
