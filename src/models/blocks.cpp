// Shared UNet blocks (see blocks.h). Forward passes follow the facts of the reference listed in
// ../shared/fixtures/README.md: resnet GroupNorm eps 1e-5, transformer GroupNorm eps 1e-6,
// LayerNorm eps 1e-5, exact GELU in GEGLU, cosine-first timestep features in float32.
#include "models/blocks.h"

#include "models/attention.h"
#include "models/module_adapter.h"

#include <cmath>

namespace lathe {

namespace nn = torch::nn;

torch::Tensor timestep_features(const torch::Tensor& timesteps, std::int64_t dim, torch::Dtype dtype) {
  const std::int64_t half = dim / 2;
  auto exponent = torch::arange(half, torch::TensorOptions().dtype(torch::kFloat32).device(timesteps.device()));
  exponent = exponent * static_cast<float>(-std::log(10000.0)) / static_cast<float>(half);
  auto freqs = torch::exp(exponent);                                          // [half]
  auto args = timesteps.to(torch::kFloat32).unsqueeze(1) * freqs.unsqueeze(0);  // [B, half]
  auto features = torch::cat({torch::cos(args), torch::sin(args)}, 1);          // [B, 2*half]
  if (dim % 2 == 1) features = torch::nn::functional::pad(features, torch::nn::functional::PadFuncOptions({0, 1}));
  return features.to(dtype);
}

nn::GroupNorm make_group_norm(std::int64_t groups, std::int64_t channels, double eps) {
  return nn::GroupNorm(nn::GroupNormOptions(groups, channels).eps(eps).affine(true));
}

namespace {
nn::Conv2d conv3x3(std::int64_t in, std::int64_t out, std::int64_t stride = 1) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(1));
}
}  // namespace

ResBlockImpl::ResBlockImpl(std::int64_t in_channels, std::int64_t out_channels,
                           std::int64_t emb_channels, std::int64_t groups) {
  in_layers = register_module("in_layers", nn::Sequential(make_group_norm(groups, in_channels, 1e-5),
                                                          nn::SiLU(), conv3x3(in_channels, out_channels)));
  emb_layers = register_module("emb_layers", nn::Sequential(nn::SiLU(), nn::Linear(emb_channels, out_channels)));
  out_layers = register_module("out_layers", nn::Sequential(make_group_norm(groups, out_channels, 1e-5), nn::SiLU(),
                                                            nn::Identity(), conv3x3(out_channels, out_channels)));
  if (in_channels != out_channels)
    skip_connection = register_module("skip_connection", nn::Conv2d(nn::Conv2dOptions(in_channels, out_channels, 1)));
}

torch::Tensor ResBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& emb) {
  // adapted_forward: LoRA / LoCon adapters attach to these convs and Linears (module_adapter.h).
  auto h = adapted_forward(in_layers, x);                                // [B, Cout, H, W]
  h = h + adapted_forward(emb_layers, emb).unsqueeze(-1).unsqueeze(-1);  // + [B, Cout, 1, 1]
  h = adapted_forward(out_layers, h);
  return (skip_connection ? adapted_forward(skip_connection, x) : x) + h;
}

DownsampleImpl::DownsampleImpl(std::int64_t channels) {
  op = register_module("op", conv3x3(channels, channels, 2));
}

torch::Tensor DownsampleImpl::forward(const torch::Tensor& x) { return adapted_forward(op, x); }

UpsampleImpl::UpsampleImpl(std::int64_t channels) {
  conv = register_module("conv", conv3x3(channels, channels));
}

torch::Tensor UpsampleImpl::forward(const torch::Tensor& x) {
  namespace F = torch::nn::functional;
  auto up = F::interpolate(x, F::InterpolateFuncOptions()
                                  .scale_factor(std::vector<double>{2.0, 2.0})
                                  .mode(torch::kNearest));
  return adapted_forward(conv, up);
}

CrossAttentionImpl::CrossAttentionImpl(std::int64_t query_dim, std::int64_t context_dim, std::int64_t heads_)
    : heads(heads_) {
  to_q = register_module("to_q", nn::Linear(nn::LinearOptions(query_dim, query_dim).bias(false)));
  to_k = register_module("to_k", nn::Linear(nn::LinearOptions(context_dim, query_dim).bias(false)));
  to_v = register_module("to_v", nn::Linear(nn::LinearOptions(context_dim, query_dim).bias(false)));
  to_out = register_module("to_out", nn::Sequential(nn::Linear(query_dim, query_dim), nn::Identity()));
}

torch::Tensor CrossAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& context) {
  const auto& ctx = context.defined() ? context : x;
  auto out = multi_head_attention(adapted_forward(to_q, x), adapted_forward(to_k, ctx),
                                  adapted_forward(to_v, ctx), heads);
  return adapted_forward(to_out, out);  // [B, N, C]
}

GEGLUImpl::GEGLUImpl(std::int64_t dim_in, std::int64_t dim_out) {
  proj = register_module("proj", nn::Linear(dim_in, dim_out * 2));
}

torch::Tensor GEGLUImpl::forward(const torch::Tensor& x) {
  auto halves = adapted_forward(proj, x).chunk(2, -1);  // a, g: [B, N, inner] each
  return halves[0] * torch::gelu(halves[1]);     // exact (erf) GELU, as the reference
}

FeedForwardImpl::FeedForwardImpl(std::int64_t dim, std::int64_t mult) {
  net = register_module("net", nn::Sequential(GEGLU(dim, dim * mult), nn::Identity(), nn::Linear(dim * mult, dim)));
}

torch::Tensor FeedForwardImpl::forward(const torch::Tensor& x) { return adapted_forward(net, x); }

BasicTransformerBlockImpl::BasicTransformerBlockImpl(std::int64_t dim, std::int64_t heads, std::int64_t context_dim) {
  attn1 = register_module("attn1", CrossAttention(dim, dim, heads));
  ff = register_module("ff", FeedForward(dim));
  attn2 = register_module("attn2", CrossAttention(dim, context_dim, heads));
  auto ln = [dim] { return nn::LayerNorm(nn::LayerNormOptions({dim}).eps(1e-5)); };
  norm1 = register_module("norm1", ln());
  norm2 = register_module("norm2", ln());
  norm3 = register_module("norm3", ln());
}

torch::Tensor BasicTransformerBlockImpl::forward(const torch::Tensor& x_in, const torch::Tensor& context) {
  auto x = attn1->forward(norm1->forward(x_in)) + x_in;
  x = attn2->forward(norm2->forward(x), context) + x;
  return ff->forward(norm3->forward(x)) + x;
}

SpatialTransformerImpl::SpatialTransformerImpl(std::int64_t channels, std::int64_t heads, std::int64_t depth,
                                               std::int64_t context_dim, bool linear, std::int64_t groups)
    : linear_projection(linear) {
  norm = register_module("norm", make_group_norm(groups, channels, 1e-6));
  if (linear) {
    proj_in = nn::AnyModule(nn::Linear(channels, channels));
    proj_out = nn::AnyModule(nn::Linear(channels, channels));
  } else {
    proj_in = nn::AnyModule(nn::Conv2d(nn::Conv2dOptions(channels, channels, 1)));
    proj_out = nn::AnyModule(nn::Conv2d(nn::Conv2dOptions(channels, channels, 1)));
  }
  register_module("proj_in", proj_in.ptr());
  transformer_blocks = register_module("transformer_blocks", nn::ModuleList());
  for (std::int64_t i = 0; i < depth; ++i)
    transformer_blocks->push_back(BasicTransformerBlock(channels, heads, context_dim));
  register_module("proj_out", proj_out.ptr());
}

torch::Tensor SpatialTransformerImpl::forward(const torch::Tensor& x, const torch::Tensor& context) {
  const auto b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  auto t = norm->forward(x);
  // tokens [B, H*W, C]; the 1x1 conv projection runs before flattening, Linear after.
  if (!linear_projection) t = adapted_forward(proj_in, t);
  t = t.permute({0, 2, 3, 1}).reshape({b, h * w, c});
  if (linear_projection) t = adapted_forward(proj_in, t);
  for (const auto& block : *transformer_blocks)
    t = block->as<BasicTransformerBlockImpl>()->forward(t, context);
  if (linear_projection) t = adapted_forward(proj_out, t);
  t = t.reshape({b, h, w, c}).permute({0, 3, 1, 2});
  if (!linear_projection) t = adapted_forward(proj_out, t.contiguous());
  return t + x;
}

}  // namespace lathe
