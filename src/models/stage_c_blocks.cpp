// Stage C blocks (see stage_c_blocks.h). Reference: diffusers unet_stable_cascade.py
// (SDCascade*Block, GlobalResponseNorm); Stability's modules/common.py and stage_c.py.
#include "models/stage_c_blocks.h"

#include <cmath>

#include "models/attention.h"
#include "models/module_adapter.h"

namespace lathe {

namespace nn = torch::nn;

torch::Tensor stage_c_channel_norm(const torch::Tensor& x) {
  const auto c = x.size(1);
  return torch::layer_norm(x.permute({0, 2, 3, 1}), {c}, {}, {}, 1e-6).permute({0, 3, 1, 2});
}

namespace {

// The reference's float32 frequencies for the 64-wide embedding of every released Stage C, bit
// for bit (the Stable Cascade fixtures' r_embed.freqs_f32). The float32 exp of libtorch 2.11
// (and glibc's) differs from the reference's in the last bit of 4 of the 32; at angles up to
// 10^4 rad one ulp of 0.743 moves an angle by 6e-4, more than everything else together.
constexpr float kReferenceFreqs32[32] = {
    0x1.0000000000000p+0f, 0x1.7c65c40000000p-1f, 0x1.1a9f260000000p-1f, 0x1.a3f4960000000p-2f,
    0x1.3803000000000p-2f, 0x1.cfa0800000000p-3f, 0x1.5875460000000p-3f, 0x1.ffd7020000000p-4f,
    0x1.7c47520000000p-4f, 0x1.1a88860000000p-4f, 0x1.a3d2fa0000000p-5f, 0x1.37ea060000000p-5f,
    0x1.cf7b620000000p-6f, 0x1.5859b40000000p-6f, 0x1.ffae060000000p-7f, 0x1.7c28e00000000p-7f,
    0x1.1a71e80000000p-7f, 0x1.a3b15e0000000p-8f, 0x1.37d1100000000p-8f, 0x1.cf564c0000000p-9f,
    0x1.583e280000000p-9f, 0x1.ff850e0000000p-10f, 0x1.7c0a700000000p-10f, 0x1.1a5b4a0000000p-10f,
    0x1.a38fc40000000p-11f, 0x1.37b81a0000000p-11f, 0x1.cf31340000000p-12f, 0x1.58228c0000000p-12f,
    0x1.ff5c1a0000000p-13f, 0x1.7bec000000000p-13f, 0x1.1a44ae0000000p-13f, 0x1.a36e2c0000000p-14f,
};

}  // namespace

torch::Tensor stage_c_timestep_frequencies(std::int64_t half) {
  if (half == 32) return torch::from_blob(const_cast<float*>(kReferenceFreqs32), {32}, torch::kFloat32).clone();
  const double step = std::log(10000.0) / static_cast<double>(half - 1);
  return torch::arange(half, torch::kFloat32).mul(-step).exp();
}

torch::Tensor stage_c_timestep_ratio_embedding(const torch::Tensor& r, std::int64_t dim) {
  const std::int64_t half = dim / 2;
  auto freqs = stage_c_timestep_frequencies(half).to(r.device());
  auto angles = r.to(torch::kFloat64).mul(10000.0).unsqueeze(1) * freqs.to(torch::kFloat64).unsqueeze(0);
  auto emb = torch::cat({angles.sin(), angles.cos()}, 1);
  if (dim % 2 == 1) emb = torch::constant_pad_nd(emb, {0, 1});
  return emb.to(r.is_floating_point() ? r.scalar_type() : torch::kFloat32);
}

GlobalResponseNormImpl::GlobalResponseNormImpl(std::int64_t dim) {
  gamma = register_parameter("gamma", torch::zeros({1, 1, 1, dim}));
  beta = register_parameter("beta", torch::zeros({1, 1, 1, dim}));
}

torch::Tensor GlobalResponseNormImpl::forward(const torch::Tensor& x) {
  auto agg_norm = torch::linalg_vector_norm(x, 2, std::vector<std::int64_t>{1, 2}, /*keepdim=*/true);
  auto stand_div_norm = agg_norm / (agg_norm.mean({-1}, /*keepdim=*/true) + 1e-6);
  return gamma * (x * stand_div_norm) + beta + x;
}

StageCResBlockImpl::StageCResBlockImpl(std::int64_t c, std::int64_t c_skip, std::int64_t kernel_size, double dropout)
    : dropout(dropout) {
  depthwise = register_module(
      "depthwise", nn::Conv2d(nn::Conv2dOptions(c, c, kernel_size).padding(kernel_size / 2).groups(c)));
  linear_in = nn::Linear(c + c_skip, 4 * c);
  grn = GlobalResponseNorm(4 * c);
  linear_out = nn::Linear(4 * c, c);
  channelwise = register_module(
      "channelwise", nn::Sequential(linear_in, nn::GELU(), grn, nn::Dropout(dropout), linear_out));
}

torch::Tensor StageCResBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& skip) {
  auto h = stage_c_channel_norm(adapted_forward(depthwise, x));
  if (skip.defined()) h = torch::cat({h, skip}, 1);
  h = adapted_forward(linear_in, h.permute({0, 2, 3, 1}));
  h = grn->forward(torch::gelu(h));
  h = torch::dropout(h, dropout, is_training());
  h = adapted_forward(linear_out, h);
  return h.permute({0, 3, 1, 2}) + x;
}

StageCTimestepBlockImpl::StageCTimestepBlockImpl(std::int64_t c, std::int64_t c_r) {
  mapper = register_module("mapper", nn::Linear(c_r, 2 * c));
  mapper_sca = register_module("mapper_sca", nn::Linear(c_r, 2 * c));
  mapper_crp = register_module("mapper_crp", nn::Linear(c_r, 2 * c));
}

torch::Tensor StageCTimestepBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& t) {
  auto parts = t.chunk(3, 1);
  auto ab = adapted_forward(mapper, parts[0]) + adapted_forward(mapper_sca, parts[1]) +
            adapted_forward(mapper_crp, parts[2]);
  // Adding the whole [a, b] outputs before splitting them adds the same numbers in the same
  // order as the reference's per-mapper a, b sums.
  auto halves = ab.unsqueeze(-1).unsqueeze(-1).chunk(2, 1);
  return x * (1 + halves[0]) + halves[1];
}

StageCAttentionImpl::StageCAttentionImpl(std::int64_t c, std::int64_t heads) : heads(heads) {
  to_q = register_module("to_q", nn::Linear(c, c));
  to_k = register_module("to_k", nn::Linear(c, c));
  to_v = register_module("to_v", nn::Linear(c, c));
  out_proj = register_module("out_proj", nn::Linear(c, c));
}

torch::Tensor StageCAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& kv, double dropout) {
  auto q = adapted_forward(to_q, x);
  auto k = adapted_forward(to_k, kv);
  auto v = adapted_forward(to_v, kv);
  auto out = adapted_forward(out_proj, multi_head_attention(q, k, v, heads));
  return torch::dropout(out, dropout, is_training());
}

StageCAttnBlockImpl::StageCAttnBlockImpl(std::int64_t c, std::int64_t c_cond, std::int64_t heads, double dropout)
    : dropout(dropout) {
  auto attention = register_module("attention", std::make_shared<nn::Module>());
  attn = StageCAttention(c, heads);
  attention->register_module("attn", attn);
  kv_linear = nn::Linear(c_cond, c);
  kv_mapper = register_module("kv_mapper", nn::Sequential(nn::SiLU(), kv_linear));
}

torch::Tensor StageCAttnBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& cond) {
  const auto b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  auto kv = adapted_forward(kv_linear, torch::silu(cond));
  auto tokens = stage_c_channel_norm(x).reshape({b, c, h * w}).transpose(1, 2);  // [B, HW, C]
  kv = torch::cat({tokens, kv}, 1);
  auto out = attn->forward(tokens, kv, dropout);
  return x + out.transpose(1, 2).reshape({b, c, h, w});
}

}  // namespace lathe
