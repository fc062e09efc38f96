// The Stable Diffusion autoencoder (AutoencoderKL): encoder to a diagonal Gaussian over the
// latents, decoder back to pixels, and each family's latent scaling factor. Submodules carry
// the LDM names (encoder.down.N.block.M, encoder.mid.attn_1.q as a 1x1 conv, quant_conv,
// post_quant_conv, decoder.up.N...) so named_parameters() yields the single-file keys without
// the `first_stage_model.` prefix.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lathe {

struct VAEConfig {
  std::int64_t in_channels = 3;
  std::int64_t out_channels = 3;
  std::int64_t latent_channels = 4;
  std::vector<std::int64_t> block_out_channels{128, 256, 512, 512};  // per level
  std::int64_t layers_per_block = 2;  // resnets per encoder level; decoder levels have +1
  std::int64_t norm_groups = 32;
  double scaling_factor = 0.18215;    // SD 1.x / 2.x; SDXL 0.13025

  static VAEConfig sd();    // the SD 1.x / 2.x VAE
  static VAEConfig sdxl();  // same topology, scaling factor 0.13025
};

// From a diffusers AutoencoderKL config.json; throws lathe::Error naming `source` and the key.
VAEConfig vae_config_from_diffusers(const nlohmann::json& config, const std::string& source);

// From the canonical (LDM) names and shapes of a VAE, as single files and standalone VAE files
// carry no config: levels and widths from encoder.down.N, resnets per level, image and latent
// channels from the convs; 32 norm groups (every released VAE); `scaling_factor` is the family's.
// Throws lathe::Error naming `source` when a needed tensor is missing.
VAEConfig detect_vae_config(const std::map<std::string, std::vector<std::int64_t>>& shapes,
                            double scaling_factor, const std::string& source);

// Reference: ldm.modules.diffusionmodules.model.ResnetBlock without time input (GroupNorm eps
// 1e-6, SiLU, nin_shortcut 1x1 when channel counts differ).
struct VAEResnetImpl : torch::nn::Module {
  VAEResnetImpl(std::int64_t in_channels, std::int64_t out_channels, std::int64_t groups);
  torch::Tensor forward(const torch::Tensor& x);  // [B, Cin, H, W] -> [B, Cout, H, W]
  torch::nn::GroupNorm norm1{nullptr}, norm2{nullptr};
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, nin_shortcut{nullptr};
};
TORCH_MODULE(VAEResnet);

// Reference: model.AttnBlock: single-head self-attention over H*W with 1x1-conv q/k/v/proj_out.
struct VAEAttentionImpl : torch::nn::Module {
  VAEAttentionImpl(std::int64_t channels, std::int64_t groups);
  torch::Tensor forward(const torch::Tensor& x);  // [B, C, H, W] -> [B, C, H, W]
  torch::nn::GroupNorm norm{nullptr};
  torch::nn::Conv2d q{nullptr}, k{nullptr}, v{nullptr}, proj_out{nullptr};
};
TORCH_MODULE(VAEAttention);

// Reference: the `mid` of model.Encoder / model.Decoder: resnet, attention, resnet.
struct VAEMidImpl : torch::nn::Module {
  VAEMidImpl(std::int64_t channels, std::int64_t groups);
  torch::Tensor forward(const torch::Tensor& x);  // [B, C, H, W] -> same
  VAEResnet block_1{nullptr}, block_2{nullptr};
  VAEAttention attn_1{nullptr};
};
TORCH_MODULE(VAEMid);

// One resolution level: `block` resnets, then an optional `downsample.conv` (encoder: pad the
// bottom row and right column, 3x3 stride 2, no padding) or `upsample.conv` (decoder:
// nearest x2, 3x3 conv).
struct VAELevelImpl : torch::nn::Module {
  enum class Resample { None, Down, Up };
  VAELevelImpl(std::int64_t in_channels, std::int64_t out_channels, std::int64_t resnets, Resample resample,
               std::int64_t groups);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::ModuleList block{nullptr};
  torch::nn::Conv2d resample_conv{nullptr};  // registered as downsample.conv / upsample.conv
  Resample resample;
};
TORCH_MODULE(VAELevel);

// Reference: model.Encoder (double_z): conv_in, down levels, mid, norm_out, conv_out.
struct VAEEncoderImpl : torch::nn::Module {
  explicit VAEEncoderImpl(const VAEConfig& c);
  torch::Tensor forward(const torch::Tensor& x);  // [B, 3, H, W] -> [B, 2*latent, H/f, W/f]
  torch::nn::Conv2d conv_in{nullptr}, conv_out{nullptr};
  torch::nn::ModuleList down{nullptr};
  VAEMid mid{nullptr};
  torch::nn::GroupNorm norm_out{nullptr};
};
TORCH_MODULE(VAEEncoder);

// Reference: model.Decoder: conv_in, mid, up levels (numbered from the output end), norm_out, conv_out.
struct VAEDecoderImpl : torch::nn::Module {
  explicit VAEDecoderImpl(const VAEConfig& c);
  torch::Tensor forward(const torch::Tensor& z);  // [B, latent, h, w] -> [B, 3, h*f, w*f]
  torch::nn::Conv2d conv_in{nullptr}, conv_out{nullptr};
  VAEMid mid{nullptr};
  torch::nn::ModuleList up{nullptr};
  torch::nn::GroupNorm norm_out{nullptr};
};
TORCH_MODULE(VAEDecoder);

// The encoder's output distribution (reference: DiagonalGaussianDistribution).
struct LatentDistribution {
  torch::Tensor mean;    // [B, latent, h, w]
  torch::Tensor logvar;  // clamped to [-30, 20]
  torch::Tensor std;     // exp(0.5 * logvar)
  // mean + std * eps, eps ~ N(0, 1) drawn from `generator` (unscaled).
  torch::Tensor sample(std::optional<at::Generator> generator = std::nullopt) const;
};

// Reference: ldm.models.autoencoder.AutoencoderKL (diffusers AutoencoderKL).
struct VAEImpl : torch::nn::Module {
  explicit VAEImpl(VAEConfig config);

  torch::Tensor moments(const torch::Tensor& image);          // [B, 3, H, W] in [-1, 1] -> [B, 2*latent, H/8, W/8]
  LatentDistribution encode(const torch::Tensor& image);
  torch::Tensor decode(const torch::Tensor& latents);         // unscaled latents -> [B, 3, H, W]
  // Training latents: scaling_factor * (mean, or a sample when a generator is given).
  torch::Tensor encode_scaled(const torch::Tensor& image, std::optional<at::Generator> generator = std::nullopt);
  const VAEConfig& config() const { return config_; }

  VAEEncoder encoder{nullptr};
  VAEDecoder decoder{nullptr};
  torch::nn::Conv2d quant_conv{nullptr}, post_quant_conv{nullptr};

 private:
  VAEConfig config_;
};
TORCH_MODULE(VAE);

}  // namespace lathe
