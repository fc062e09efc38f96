// Attention: the fused kernels (at::scaled_dot_product_attention on [B, heads, N, d]) and the
// sliced bmm path each equal an explicit softmax(q k^T / sqrt(d)) v, forward and backward, and
// the fused path is really taken where a fused kernel exists.
#include "models/attention.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

namespace lathe {
namespace {

// Forces the fused or the sliced path for one test and restores the setting after it.
class AttentionPath {
 public:
  explicit AttentionPath(bool fused) : saved_(attention_settings().use_fused) { attention_settings().use_fused = fused; }
  ~AttentionPath() { attention_settings().use_fused = saved_; }

 private:
  bool saved_;
};

// The definition, with nothing fused or sliced: [B, N, h*d] in and out.
torch::Tensor explicit_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, int heads,
                                 bool causal) {
  const auto b = q.size(0), n = q.size(1), m = k.size(1), d = q.size(2) / heads;
  auto qh = q.reshape({b, n, heads, d}).transpose(1, 2).to(torch::kFloat64);
  auto kh = k.reshape({b, m, heads, d}).transpose(1, 2).to(torch::kFloat64);
  auto vh = v.reshape({b, m, heads, d}).transpose(1, 2).to(torch::kFloat64);
  auto s = torch::matmul(qh, kh.transpose(-1, -2)) / std::sqrt(static_cast<double>(d));
  if (causal) s = s.masked_fill(torch::ones({n, m}, torch::kBool).triu(1), -INFINITY);
  return torch::matmul(torch::softmax(s, -1), vh).transpose(1, 2).reshape({b, n, heads * d}).to(q.scalar_type());
}

struct Inputs {
  torch::Tensor q, k, v;
};

Inputs random_inputs(std::int64_t b, std::int64_t n, std::int64_t m, std::int64_t c, torch::Dtype dtype,
                     bool grad = false) {
  auto make = [&](std::int64_t rows) {
    auto t = torch::randn({b, rows, c}).to(dtype);
    if (grad) t.requires_grad_(true);
    return t;
  };
  Inputs in;
  in.q = make(n);
  in.k = make(m);
  in.v = make(m);
  return in;
}

TEST(Attention, FusedKernelTakesSelfAndCrossAttentionOnTheCpu) {
  torch::manual_seed(1);
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    auto self = random_inputs(2, 64, 64, 32, dtype);
    EXPECT_TRUE(fused_attention_available(self.q, self.k, self.v, 4)) << dtype;
    EXPECT_TRUE(fused_attention_available(self.q, self.k, self.v, 4, /*causal=*/true)) << dtype;
    auto cross = random_inputs(2, 64, 77, 32, dtype);
    EXPECT_TRUE(fused_attention_available(cross.q, cross.k, cross.v, 4)) << dtype;
  }
}

TEST(Attention, FusedEqualsExplicitForward) {
  AttentionPath fused(true);
  torch::manual_seed(2);
  for (bool causal : {false, true}) {
    auto in = random_inputs(2, 37, 37, 16, torch::kFloat32);
    auto out = multi_head_attention(in.q, in.k, in.v, 4, causal);
    EXPECT_TRUE(torch::allclose(out, explicit_attention(in.q, in.k, in.v, 4, causal), 1e-5, 1e-6)) << causal;
  }
  // Cross-attention against a 77-token context, SD's head width (d = 40 at 320 channels / 8).
  auto cross = random_inputs(1, 50, 77, 320, torch::kFloat32);
  EXPECT_TRUE(torch::allclose(multi_head_attention(cross.q, cross.k, cross.v, 8),
                              explicit_attention(cross.q, cross.k, cross.v, 8, false), 1e-5, 1e-6));
  // bf16: the fused kernel accumulates in fp32, the inputs carry 8 bits of mantissa.
  auto half = random_inputs(2, 64, 64, 64, torch::kBFloat16);
  auto out = multi_head_attention(half.q, half.k, half.v, 2).to(torch::kFloat32);
  auto ref = explicit_attention(half.q.to(torch::kFloat32), half.k.to(torch::kFloat32), half.v.to(torch::kFloat32), 2, false);
  EXPECT_LT((out - ref).abs().max().item<double>(), 2e-2);
}

std::vector<torch::Tensor> gradients(bool fused, bool causal, std::int64_t slice_bytes) {
  AttentionPath path(fused);
  torch::manual_seed(3);
  auto in = random_inputs(1, 33, 33, 16, torch::kFloat32, /*grad=*/true);
  auto w = torch::randn({1, 33, 16});  // a loss that weighs every output differently
  (multi_head_attention(in.q, in.k, in.v, 2, causal, slice_bytes) * w).sum().backward();
  return {in.q.grad(), in.k.grad(), in.v.grad()};
}

std::vector<torch::Tensor> explicit_gradients(bool causal) {
  torch::manual_seed(3);
  auto in = random_inputs(1, 33, 33, 16, torch::kFloat32, /*grad=*/true);
  auto w = torch::randn({1, 33, 16});
  (explicit_attention(in.q, in.k, in.v, 2, causal) * w).sum().backward();
  return {in.q.grad(), in.k.grad(), in.v.grad()};
}

TEST(Attention, FusedGradientsEqualExplicit) {
  for (bool causal : {false, true}) {
    auto fused = gradients(true, causal, -1), ref = explicit_gradients(causal);
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(torch::allclose(fused[i], ref[i], 1e-4, 1e-5)) << "qkv"[i] << " causal " << causal;
  }
}

TEST(Attention, SlicedEqualsExplicitForward) {
  AttentionPath sliced(false);
  torch::manual_seed(4);
  for (bool causal : {false, true}) {
    auto in = random_inputs(2, 37, 37, 16, torch::kFloat32);
    auto whole = multi_head_attention(in.q, in.k, in.v, 4, causal, 0);
    // 1 KiB slices: a handful of query rows per slice, with a ragged last slice.
    auto parts = multi_head_attention(in.q, in.k, in.v, 4, causal, 1024);
    EXPECT_TRUE(torch::allclose(whole, parts, 1e-6, 1e-6)) << "causal " << causal;
    EXPECT_TRUE(torch::allclose(whole, explicit_attention(in.q, in.k, in.v, 4, causal), 1e-5, 1e-6)) << causal;
  }
  auto cross = random_inputs(1, 50, 7, 8, torch::kFloat32);
  EXPECT_TRUE(torch::allclose(multi_head_attention(cross.q, cross.k, cross.v, 2, false, 256),
                              explicit_attention(cross.q, cross.k, cross.v, 2, false), 1e-5, 1e-6));
}

TEST(Attention, SlicedGradientsEqualExplicit) {
  for (bool causal : {false, true}) {
    auto whole = gradients(false, causal, 0), parts = gradients(false, causal, 512), ref = explicit_gradients(causal);
    for (int i = 0; i < 3; ++i) {
      EXPECT_TRUE(torch::allclose(whole[i], parts[i], 1e-5, 1e-6)) << i;
      EXPECT_TRUE(torch::allclose(whole[i], ref[i], 1e-4, 1e-5)) << i;
    }
  }
}

}  // namespace
}  // namespace lathe
