// AutoencoderKL (see vae.h). Every GroupNorm in the VAE uses eps 1e-6; the mid attention is one
// head over all positions, so it goes through the sliced attention (a 512 px image has 4096
// positions at the mid block: a 64 MiB score matrix per image in fp32).
#include "models/vae.h"

#include "common/error.h"
#include "models/attention.h"
#include "models/blocks.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace lathe {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {
constexpr double kEps = 1e-6;
nn::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride = 1, std::int64_t pad = 0) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(pad));
}
}  // namespace

VAEConfig VAEConfig::sd() { return VAEConfig{}; }

VAEConfig VAEConfig::sdxl() {
  VAEConfig c;
  c.scaling_factor = 0.13025;
  return c;
}

VAEConfig vae_config_from_diffusers(const nlohmann::json& j, const std::string& source) {
  try {
    VAEConfig c;
    if (j.value("act_fn", std::string("silu")) != "silu")
      throw Error(fmt::format("{}: act_fn {} is not supported", source, j["act_fn"].dump()));
    for (const char* key : {"use_quant_conv", "use_post_quant_conv", "mid_block_add_attention"})
      if (j.contains(key) && j[key] == false)
        throw Error(fmt::format("{}: `{}` = false is not supported", source, key));
    c.in_channels = j.value("in_channels", 3);
    c.out_channels = j.value("out_channels", 3);
    c.latent_channels = j.value("latent_channels", 4);
    c.block_out_channels = j.at("block_out_channels").get<std::vector<std::int64_t>>();
    c.layers_per_block = j.value("layers_per_block", 2);
    c.norm_groups = j.value("norm_num_groups", 32);
    c.scaling_factor = j.value("scaling_factor", 0.18215);
    if (j.contains("shift_factor") && !j["shift_factor"].is_null())
      throw Error(fmt::format("{}: `shift_factor` is not supported (not an SD 1.x/2.x/SDXL VAE)", source));
    for (const char* key : {"down_block_types", "up_block_types"})
      if (j.contains(key) && j[key].size() != c.block_out_channels.size())
        throw Error(fmt::format("{}: `{}` has {} entries for {} levels", source, key, j[key].size(),
                                c.block_out_channels.size()));
    return c;
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: malformed VAE config: {}", source, e.what()));
  }
}

VAEConfig detect_vae_config(const std::map<std::string, std::vector<std::int64_t>>& shapes, double scaling_factor,
                            const std::string& source) {
  auto shape = [&](const std::string& key) -> const std::vector<std::int64_t>& {
    auto it = shapes.find(key);
    if (it == shapes.end() || it->second.size() != 4)
      throw Error(fmt::format("{}: VAE tensor `{}` {}; is this an SD VAE?", source, key,
                              it == shapes.end() ? "not found" : "is not a conv kernel"));
    return it->second;
  };
  auto has = [&](const std::string& key) { return shapes.count(key) > 0; };
  VAEConfig c;
  c.in_channels = shape("encoder.conv_in.weight")[1];
  c.out_channels = shape("decoder.conv_out.weight")[0];
  c.latent_channels = shape("encoder.conv_out.weight")[0] / 2;  // mean and log-variance
  c.block_out_channels.clear();
  for (int level = 0; has(fmt::format("encoder.down.{}.block.0.conv2.weight", level)); ++level)
    c.block_out_channels.push_back(shape(fmt::format("encoder.down.{}.block.0.conv2.weight", level))[0]);
  if (c.block_out_channels.empty())
    throw Error(fmt::format("{}: VAE tensor `encoder.down.0.block.0.conv2.weight` not found; is this an SD VAE?",
                            source));
  c.layers_per_block = 0;
  while (has(fmt::format("encoder.down.0.block.{}.conv2.weight", c.layers_per_block))) ++c.layers_per_block;
  c.scaling_factor = scaling_factor;
  return c;
}

VAEResnetImpl::VAEResnetImpl(std::int64_t in, std::int64_t out, std::int64_t groups) {
  norm1 = register_module("norm1", make_group_norm(groups, in, kEps));
  conv1 = register_module("conv1", conv(in, out, 3, 1, 1));
  norm2 = register_module("norm2", make_group_norm(groups, out, kEps));
  conv2 = register_module("conv2", conv(out, out, 3, 1, 1));
  if (in != out) nin_shortcut = register_module("nin_shortcut", conv(in, out, 1));
}

torch::Tensor VAEResnetImpl::forward(const torch::Tensor& x) {
  auto h = conv1->forward(torch::silu(norm1->forward(x)));
  h = conv2->forward(torch::silu(norm2->forward(h)));
  return (nin_shortcut ? nin_shortcut->forward(x) : x) + h;
}

VAEAttentionImpl::VAEAttentionImpl(std::int64_t channels, std::int64_t groups) {
  norm = register_module("norm", make_group_norm(groups, channels, kEps));
  q = register_module("q", conv(channels, channels, 1));
  k = register_module("k", conv(channels, channels, 1));
  v = register_module("v", conv(channels, channels, 1));
  proj_out = register_module("proj_out", conv(channels, channels, 1));
}

torch::Tensor VAEAttentionImpl::forward(const torch::Tensor& x) {
  const auto b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  auto n = norm->forward(x);
  auto tokens = [&](const torch::Tensor& t) { return t.reshape({b, c, h * w}).transpose(1, 2); };  // [B, HW, C]
  auto a = multi_head_attention(tokens(q->forward(n)), tokens(k->forward(n)), tokens(v->forward(n)), 1);
  a = a.transpose(1, 2).reshape({b, c, h, w});
  return x + proj_out->forward(a);
}

VAEMidImpl::VAEMidImpl(std::int64_t channels, std::int64_t groups) {
  block_1 = register_module("block_1", VAEResnet(channels, channels, groups));
  attn_1 = register_module("attn_1", VAEAttention(channels, groups));
  block_2 = register_module("block_2", VAEResnet(channels, channels, groups));
}

torch::Tensor VAEMidImpl::forward(const torch::Tensor& x) {
  return block_2->forward(attn_1->forward(block_1->forward(x)));
}

VAELevelImpl::VAELevelImpl(std::int64_t in, std::int64_t out, std::int64_t resnets, Resample r, std::int64_t groups)
    : resample(r) {
  block = register_module("block", nn::ModuleList());
  for (std::int64_t i = 0; i < resnets; ++i) block->push_back(VAEResnet(i == 0 ? in : out, out, groups));
  if (r == Resample::None) return;
  auto holder = std::make_shared<nn::Module>();  // `downsample` / `upsample` with one `conv`
  resample_conv = holder->register_module("conv", r == Resample::Down ? conv(out, out, 3, 2, 0) : conv(out, out, 3, 1, 1));
  register_module(r == Resample::Down ? "downsample" : "upsample", holder);
}

torch::Tensor VAELevelImpl::forward(const torch::Tensor& x) {
  auto h = x;
  for (const auto& m : *block) h = m->as<VAEResnetImpl>()->forward(h);
  if (resample == Resample::Down) {
    h = F::pad(h, F::PadFuncOptions({0, 1, 0, 1}));  // right column, bottom row
    h = resample_conv->forward(h);
  } else if (resample == Resample::Up) {
    h = F::interpolate(h, F::InterpolateFuncOptions().scale_factor(std::vector<double>{2.0, 2.0}).mode(torch::kNearest));
    h = resample_conv->forward(h);
  }
  return h;
}

VAEEncoderImpl::VAEEncoderImpl(const VAEConfig& c) {
  const auto& chs = c.block_out_channels;
  conv_in = register_module("conv_in", conv(c.in_channels, chs[0], 3, 1, 1));
  down = register_module("down", nn::ModuleList());
  std::int64_t ch = chs[0];
  for (std::size_t i = 0; i < chs.size(); ++i) {
    const bool last = i + 1 == chs.size();
    down->push_back(VAELevel(ch, chs[i], c.layers_per_block,
                             last ? VAELevelImpl::Resample::None : VAELevelImpl::Resample::Down, c.norm_groups));
    ch = chs[i];
  }
  mid = register_module("mid", VAEMid(ch, c.norm_groups));
  norm_out = register_module("norm_out", make_group_norm(c.norm_groups, ch, kEps));
  conv_out = register_module("conv_out", conv(ch, 2 * c.latent_channels, 3, 1, 1));
}

torch::Tensor VAEEncoderImpl::forward(const torch::Tensor& x) {
  auto h = conv_in->forward(x);
  for (const auto& level : *down) h = level->as<VAELevelImpl>()->forward(h);
  h = mid->forward(h);
  return conv_out->forward(torch::silu(norm_out->forward(h)));
}

VAEDecoderImpl::VAEDecoderImpl(const VAEConfig& c) {
  const auto& chs = c.block_out_channels;
  const auto n = chs.size();
  std::int64_t ch = chs.back();
  conv_in = register_module("conv_in", conv(c.latent_channels, ch, 3, 1, 1));
  mid = register_module("mid", VAEMid(ch, c.norm_groups));
  // up.i is level i counted from the output end; it runs last-to-first, upsampling on i > 0.
  std::vector<VAELevel> levels(n, nullptr);
  for (std::size_t k = 0; k < n; ++k) {
    const auto i = n - 1 - k;
    levels[i] = VAELevel(ch, chs[i], c.layers_per_block + 1,
                         i == 0 ? VAELevelImpl::Resample::None : VAELevelImpl::Resample::Up, c.norm_groups);
    ch = chs[i];
  }
  up = register_module("up", nn::ModuleList());
  for (auto& level : levels) up->push_back(level);
  norm_out = register_module("norm_out", make_group_norm(c.norm_groups, ch, kEps));
  conv_out = register_module("conv_out", conv(ch, c.out_channels, 3, 1, 1));
}

torch::Tensor VAEDecoderImpl::forward(const torch::Tensor& z) {
  auto h = mid->forward(conv_in->forward(z));
  for (auto i = static_cast<std::int64_t>(up->size()) - 1; i >= 0; --i) h = up[i]->as<VAELevelImpl>()->forward(h);
  return conv_out->forward(torch::silu(norm_out->forward(h)));
}

torch::Tensor LatentDistribution::sample(std::optional<at::Generator> generator) const {
  auto eps = generator ? torch::randn(mean.sizes(), *generator, mean.options()) : torch::randn_like(mean);
  return mean + std * eps;
}

VAEImpl::VAEImpl(VAEConfig config) : config_(std::move(config)) {
  encoder = register_module("encoder", VAEEncoder(config_));
  decoder = register_module("decoder", VAEDecoder(config_));
  const auto z2 = 2 * config_.latent_channels, z = config_.latent_channels;
  quant_conv = register_module("quant_conv", conv(z2, z2, 1));
  post_quant_conv = register_module("post_quant_conv", conv(z, z, 1));
}

// The input is cast to the weights' dtype (bf16 base weights take fp32 images) and the result
// comes back in the input's dtype, so cached latents stay fp32.
torch::Tensor VAEImpl::moments(const torch::Tensor& image) {
  const auto dtype = quant_conv->weight.scalar_type();
  return quant_conv->forward(encoder->forward(image.to(dtype))).to(image.scalar_type());
}

LatentDistribution VAEImpl::encode(const torch::Tensor& image) {
  auto m = moments(image).chunk(2, 1);
  LatentDistribution d;
  d.mean = m[0];
  d.logvar = torch::clamp(m[1], -30.0, 20.0);
  d.std = torch::exp(0.5 * d.logvar);
  return d;
}

torch::Tensor VAEImpl::decode(const torch::Tensor& latents) {
  const auto dtype = post_quant_conv->weight.scalar_type();
  return decoder->forward(post_quant_conv->forward(latents.to(dtype))).to(latents.scalar_type());
}

torch::Tensor VAEImpl::encode_scaled(const torch::Tensor& image, std::optional<at::Generator> generator) {
  auto d = encode(image);
  return (generator ? d.sample(generator) : d.mean) * config_.scaling_factor;
}

}  // namespace lathe
