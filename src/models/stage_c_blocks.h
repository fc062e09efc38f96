// The blocks of the Stable Cascade Stage C prior (diffusers SDCascadeResBlock,
// SDCascadeTimestepBlock, SDCascadeAttnBlock; Stability's ResBlock, TimestepBlock, AttnBlock),
// registered under Stability's names with the attention split as ComfyUI splits it
// (attention.attn.to_q/to_k/to_v/out_proj). Every Linear and Conv2d runs through
// adapted_forward (module_adapter.h), so LoRA adapters attach to them by module.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace lathe {

// LayerNorm over the channels of [B, C, H, W], without affine, eps 1e-6 (SDCascadeLayerNorm).
torch::Tensor stage_c_channel_norm(const torch::Tensor& x);

// The sin/cos embedding of timestep ratios r [B] -> [B, dim] in r's dtype:
// freqs = exp(arange(dim/2, float32) * -(ln 10000 / (dim/2 - 1))) built in float32 as the
// reference builds them, then the angles r * 10000 * freqs and their sin / cos in float64
// (the float32 angle, up to 10^4 rad, is the reference's main rounding error; see the Stage C
// fixtures README), then cast.
torch::Tensor stage_c_timestep_ratio_embedding(const torch::Tensor& r, std::int64_t dim);

// The float32 frequencies exp(arange(half) * -(ln 10000 / (half - 1))) [half]: for half = 32 the
// reference's own values bit for bit (its float32 exp rounds 4 of them differently from
// libtorch's), else computed so.
torch::Tensor stage_c_timestep_frequencies(std::int64_t half);

// A parameter-free module in the position the reference has one (LayerNorm, Identity), so the
// registered module paths (down_downscalers.1.1.blocks.0) match the reference's.
struct StageCChannelNormImpl : torch::nn::Module {
  torch::Tensor forward(const torch::Tensor& x) { return stage_c_channel_norm(x); }
};
TORCH_MODULE(StageCChannelNorm);

// ConvNeXt-V2 GlobalResponseNorm on channels-last [B, H, W, C]: gamma, beta [1, 1, 1, C].
struct GlobalResponseNormImpl : torch::nn::Module {
  explicit GlobalResponseNormImpl(std::int64_t dim);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor gamma, beta;
};
TORCH_MODULE(GlobalResponseNorm);

// depthwise conv -> channel LayerNorm -> [concat skip] -> channelwise (0 Linear c+skip -> 4c,
// 1 GELU (exact), 2 GlobalResponseNorm, 3 Dropout, 4 Linear 4c -> c) -> + x.
struct StageCResBlockImpl : torch::nn::Module {
  StageCResBlockImpl(std::int64_t c, std::int64_t c_skip, std::int64_t kernel_size, double dropout);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& skip = {});

  torch::nn::Conv2d depthwise{nullptr};
  torch::nn::Sequential channelwise{nullptr};  // run entry by entry (adapters, dropout)
  torch::nn::Linear linear_in{nullptr}, linear_out{nullptr};  // channelwise.0, channelwise.4
  GlobalResponseNorm grn{nullptr};                             // channelwise.2
  double dropout;
};
TORCH_MODULE(StageCResBlock);

// x * (1 + a) + b with [a, b] = mapper(r) + mapper_sca(sca) + mapper_crp(crp), the three
// embeddings being consecutive `c_r`-wide chunks of t.
struct StageCTimestepBlockImpl : torch::nn::Module {
  StageCTimestepBlockImpl(std::int64_t c, std::int64_t c_r);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t);

  torch::nn::Linear mapper{nullptr}, mapper_sca{nullptr}, mapper_crp{nullptr};
};
TORCH_MODULE(StageCTimestepBlock);

// The attention of an AttnBlock: q from the image tokens, k and v from [image tokens,
// conditioning tokens], `heads` heads, dropout on the output (diffusers to_out.1).
struct StageCAttentionImpl : torch::nn::Module {
  StageCAttentionImpl(std::int64_t c, std::int64_t heads);
  // x [B, N, c] image tokens (normed), kv [B, N + M, c] -> [B, N, c]
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& kv, double dropout);

  std::int64_t heads;
  torch::nn::Linear to_q{nullptr}, to_k{nullptr}, to_v{nullptr}, out_proj{nullptr};
};
TORCH_MODULE(StageCAttention);

// x + attention(norm(x), kv = [norm(x) tokens, kv_mapper(cond)]), kv_mapper = 0 SiLU, 1 Linear.
struct StageCAttnBlockImpl : torch::nn::Module {
  StageCAttnBlockImpl(std::int64_t c, std::int64_t c_cond, std::int64_t heads, double dropout);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cond);

  StageCAttention attn{nullptr};          // registered as attention.attn
  torch::nn::Sequential kv_mapper{nullptr};
  torch::nn::Linear kv_linear{nullptr};   // kv_mapper.1
  double dropout;
};
TORCH_MODULE(StageCAttnBlock);

}  // namespace lathe
