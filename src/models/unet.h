// The Stable Diffusion UNet (SD 1.x, SD 2.x, SDXL) as one configurable libtorch module. The
// configuration comes from a diffusers unet/config.json, from the shapes of a checkpoint's
// weights, or from the presets of the real models. Submodules are registered under the LDM
// names (input_blocks, middle_block, output_blocks, time_embed, label_emb, out), so
// named_parameters() yields the single-file keys without the `model.diffusion_model.` prefix.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lathe {

struct UNetConfig {
  std::int64_t in_channels = 4;
  std::int64_t out_channels = 4;
  std::vector<std::int64_t> block_out_channels;  // per level; level 0 = model_channels
  std::int64_t layers_per_block = 2;             // resnets per down level (up levels have +1)
  std::vector<bool> attention;                   // per level: cross-attention blocks or plain
  std::vector<std::int64_t> heads;               // per level: attention heads (not head dim)
  std::vector<std::int64_t> transformer_depth;   // per level: transformer blocks per attention
  std::int64_t mid_heads = 8;
  std::int64_t mid_transformer_depth = 1;
  std::int64_t cross_attention_dim = 768;
  bool linear_projection = false;                // proj_in/out: Linear (SD2, SDXL) or 1x1 conv
  std::int64_t norm_groups = 32;
  // SDXL text-time conditioning: each of the 6 time_ids gets `addition_time_embed_dim`
  // sinusoidal features; [text_embeds, features] (adm_in_channels wide) goes through label_emb.
  std::int64_t addition_time_embed_dim = 0;
  std::int64_t adm_in_channels = 0;              // 0 = no label_emb (SD 1.x / 2.x)
  // Recompute each input/middle/output block in the backward pass instead of keeping its
  // activations (see grad_checkpoint.h).
  bool gradient_checkpointing = false;

  std::int64_t levels() const { return static_cast<std::int64_t>(block_out_channels.size()); }
  std::int64_t time_embed_dim() const { return 4 * block_out_channels.at(0); }
  void validate() const;  // throws lathe::Error on inconsistent lists

  static UNetConfig sd15();  // SD 1.x: 320/640/1280/1280, 8 heads, context 768, conv proj
  static UNetConfig sd2();   // SD 2.x: head dim 64 (5/10/20/20 heads), context 1024, linear proj
  static UNetConfig sdxl();  // SDXL base: 320/640/1280, depth 0/2/10, context 2048, adm 2816
};

// From a diffusers UNet2DConditionModel config.json; throws lathe::Error naming `source` and
// the key for options this UNet does not implement.
UNetConfig unet_config_from_diffusers(const nlohmann::json& config, const std::string& source);

// From checkpoint tensor shapes, keyed by LDM name without the `model.diffusion_model.` prefix.
// The head count is not stored in the weights: SD 1.x (1x1 conv projections) uses 8 heads,
// SD 2.x / SDXL (Linear projections) use head dim 64, as the released models do.
UNetConfig detect_unet_config(const std::map<std::string, std::vector<std::int64_t>>& shapes,
                              const std::string& source);

// Reference: ldm.modules.diffusionmodules.openaimodel.UNetModel (diffusers UNet2DConditionModel).
struct UNetImpl : torch::nn::Module {
  explicit UNetImpl(UNetConfig config);

  // x [B, Cin, H, W] (H, W multiples of 2^(levels-1)), timesteps [B] (int or float),
  // context [B, M, cross_attention_dim], y [B, adm_in_channels] for SDXL -> [B, Cout, H, W]
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& timesteps,
                        const torch::Tensor& context, const torch::Tensor& y = {});

  // SDXL's added vector: [text_embeds, features of each time_id] -> [B, adm_in_channels].
  // text_embeds [B, P], time_ids [B, 6] (orig h, orig w, crop top, crop left, target h, w).
  torch::Tensor sdxl_vector(const torch::Tensor& text_embeds, const torch::Tensor& time_ids) const;

  const UNetConfig& config() const { return config_; }

  torch::nn::Sequential time_embed{nullptr};  // 0 Linear, 1 SiLU, 2 Linear
  torch::nn::ModuleList label_emb{nullptr};   // 0: Sequential(0 Linear, 1 SiLU, 2 Linear); SDXL only
  torch::nn::ModuleList input_blocks{nullptr}, output_blocks{nullptr};
  torch::nn::ModuleList middle_block{nullptr};
  torch::nn::Sequential out{nullptr};         // 0 GroupNorm, 1 SiLU, 2 Conv3x3

 private:
  torch::Tensor run_block(torch::nn::ModuleList& block, torch::Tensor h, const torch::Tensor& emb,
                          const torch::Tensor& context);
  torch::Tensor run_block_maybe_checkpointed(torch::nn::ModuleList& block, const torch::Tensor& h,
                                             const torch::Tensor& emb, const torch::Tensor& context);
  UNetConfig config_;
};
TORCH_MODULE(UNet);

}  // namespace lathe
