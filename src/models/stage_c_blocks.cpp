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

torch::Tensor stage_c_timestep_ratio_embedding(const torch::Tensor& r, std::int64_t dim) {
  const std::int64_t half = dim / 2;
  const double step = std::log(10000.0) / static_cast<double>(half - 1);
  // float32, as the reference builds them (its frequencies are part of what it computes)
  auto freqs = torch::arange(half, torch::TensorOptions().dtype(torch::kFloat32).device(r.device())).mul(-step).exp();
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
