// Weight deltas of the adapter types (see network_delta.h).
#include "lora/network_delta.h"

#include <torch/torch.h>

#include <limits>

namespace lathe {

torch::Tensor lora_delta(const torch::Tensor& down, const torch::Tensor& up) {
  return up.flatten(1).matmul(down.flatten(1));  // [out, in * k * k]
}

torch::Tensor loha_delta(const torch::Tensor& w1_a, const torch::Tensor& w1_b, const torch::Tensor& w2_a,
                         const torch::Tensor& w2_b) {
  return w1_a.matmul(w1_b) * w2_a.matmul(w2_b);  // [out, in * k * k]
}

torch::Tensor lokr_delta(const torch::Tensor& w1, const torch::Tensor& w2) {
  return torch::kron(w1, w2.flatten(1));  // [out_l * out_k, in_m * in_n * k * k]
}

namespace {

// ||w|| per input channel, shaped to broadcast against w: [1, in(, 1, 1)].
torch::Tensor input_channel_norm(const torch::Tensor& w) {
  std::vector<std::int64_t> shape(static_cast<std::size_t>(w.dim()), 1);
  shape[1] = w.size(1);
  return w.transpose(0, 1).reshape({w.size(1), -1}).norm(2, {1}).reshape(shape);
}

}  // namespace

torch::Tensor dora_delta(const torch::Tensor& base, const torch::Tensor& delta, const torch::Tensor& dora_scale) {
  auto merged = base + delta.reshape(base.sizes());
  auto norm = input_channel_norm(merged) + std::numeric_limits<float>::epsilon();
  return merged * (dora_scale.reshape(norm.sizes()) / norm) - base;
}

torch::Tensor dora_magnitude(const torch::Tensor& base) { return input_channel_norm(base.to(torch::kFloat32)); }

}  // namespace lathe
