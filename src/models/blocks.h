// Building blocks shared by the UNet (and partly the VAE): sinusoidal timestep features, the
// LDM ResBlock, down/upsamplers, cross-attention, the GEGLU feed-forward, the transformer block
// and the spatial transformer. Modules register their children under the original LDM names
// (in_layers.0, emb_layers.1, out_layers.3, skip_connection, op, conv, to_q, to_out.0,
// ff.net.0.proj, ...) so named_parameters() yields the checkpoint's own keys.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace lathe {

// Sinusoidal features of diffusion timesteps (diffusers get_timestep_embedding with
// flip_sin_to_cos=True, freq_shift=0; LDM timestep_embedding): [B] -> [B, dim], the cosine
// half first. Computed in float32 (as the reference does), then converted to `dtype`.
torch::Tensor timestep_features(const torch::Tensor& timesteps, std::int64_t dim,
                                torch::Dtype dtype = torch::kFloat32);

// GroupNorm as the checkpoints use it (affine).
torch::nn::GroupNorm make_group_norm(std::int64_t groups, std::int64_t channels, double eps);

// Reference: ldm.modules.diffusionmodules.openaimodel.ResBlock (diffusers ResnetBlock2D).
struct ResBlockImpl : torch::nn::Module {
  ResBlockImpl(std::int64_t in_channels, std::int64_t out_channels, std::int64_t emb_channels,
               std::int64_t groups = 32);
  // x [B, Cin, H, W], emb [B, E] -> [B, Cout, H, W]
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& emb);

  torch::nn::Sequential in_layers{nullptr};   // 0 GroupNorm, 1 SiLU, 2 Conv3x3
  torch::nn::Sequential emb_layers{nullptr};  // 0 SiLU, 1 Linear
  torch::nn::Sequential out_layers{nullptr};  // 0 GroupNorm, 1 SiLU, 2 Dropout(0), 3 Conv3x3
  torch::nn::Conv2d skip_connection{nullptr}; // 1x1, only when channel counts differ
};
TORCH_MODULE(ResBlock);

// Reference: openaimodel.Downsample (conv, stride 2, padding 1), registered as `op`.
struct DownsampleImpl : torch::nn::Module {
  explicit DownsampleImpl(std::int64_t channels);
  torch::Tensor forward(const torch::Tensor& x);  // [B, C, H, W] -> [B, C, ceil(H/2), ceil(W/2)]
  torch::nn::Conv2d op{nullptr};
};
TORCH_MODULE(Downsample);

// Reference: openaimodel.Upsample (nearest x2, then a 3x3 conv), registered as `conv`.
struct UpsampleImpl : torch::nn::Module {
  explicit UpsampleImpl(std::int64_t channels);
  torch::Tensor forward(const torch::Tensor& x);  // [B, C, H, W] -> [B, C, 2H, 2W]
  torch::nn::Conv2d conv{nullptr};
};
TORCH_MODULE(Upsample);

// Reference: ldm.modules.attention.CrossAttention (diffusers Attention): q/k/v without bias,
// to_out.0 with bias. Without a context it is self-attention.
struct CrossAttentionImpl : torch::nn::Module {
  CrossAttentionImpl(std::int64_t query_dim, std::int64_t context_dim, std::int64_t heads);
  // x [B, N, C], context [B, M, Cc] or undefined -> [B, N, C]
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context = {});

  std::int64_t heads;
  torch::nn::Linear to_q{nullptr}, to_k{nullptr}, to_v{nullptr};
  torch::nn::Sequential to_out{nullptr};  // 0 Linear, 1 Dropout(0)
};
TORCH_MODULE(CrossAttention);

// Reference: ldm.modules.attention.GEGLU: proj C -> 2*inner, a * GELU(g) with exact erf GELU.
struct GEGLUImpl : torch::nn::Module {
  GEGLUImpl(std::int64_t dim_in, std::int64_t dim_out);
  torch::Tensor forward(const torch::Tensor& x);  // [B, N, C] -> [B, N, inner]
  torch::nn::Linear proj{nullptr};
};
TORCH_MODULE(GEGLU);

// Reference: ldm.modules.attention.FeedForward with GEGLU: net.0 GEGLU, net.1 Dropout,
// net.2 Linear (4C -> C).
struct FeedForwardImpl : torch::nn::Module {
  FeedForwardImpl(std::int64_t dim, std::int64_t mult = 4);
  torch::Tensor forward(const torch::Tensor& x);  // [B, N, C] -> [B, N, C]
  torch::nn::Sequential net{nullptr};
};
TORCH_MODULE(FeedForward);

// Reference: ldm.modules.attention.BasicTransformerBlock: self-attention, cross-attention,
// GEGLU feed-forward, each pre-LayerNorm (eps 1e-5) with a residual.
struct BasicTransformerBlockImpl : torch::nn::Module {
  BasicTransformerBlockImpl(std::int64_t dim, std::int64_t heads, std::int64_t context_dim);
  // x [B, N, C], context [B, M, Cc] -> [B, N, C]
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context);

  CrossAttention attn1{nullptr}, attn2{nullptr};
  FeedForward ff{nullptr};
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr}, norm3{nullptr};
};
TORCH_MODULE(BasicTransformerBlock);

// Reference: ldm.modules.attention.SpatialTransformer (diffusers Transformer2DModel):
// GroupNorm (eps 1e-6), proj_in (1x1 conv for SD1.x, Linear for SD2.x/SDXL), `depth`
// transformer blocks over the H*W tokens, proj_out, plus the input.
struct SpatialTransformerImpl : torch::nn::Module {
  SpatialTransformerImpl(std::int64_t channels, std::int64_t heads, std::int64_t depth,
                         std::int64_t context_dim, bool linear_projection, std::int64_t groups = 32);
  // x [B, C, H, W], context [B, M, Cc] -> [B, C, H, W]
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context);

  bool linear_projection;
  torch::nn::GroupNorm norm{nullptr};
  torch::nn::AnyModule proj_in, proj_out;  // Conv2d 1x1 or Linear
  torch::nn::ModuleList transformer_blocks{nullptr};
};
TORCH_MODULE(SpatialTransformer);

}  // namespace lathe
