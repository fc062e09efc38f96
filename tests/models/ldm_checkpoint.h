// Small single-file checkpoints in the original LDM key layout, written from Lathe's own modules,
// with the keys real files carry beside the weights: the UNet's EMA copy (model_ema.*), the DDPM
// schedule buffers, HF CLIP's int64 position_ids, OpenCLIP's logit_scale and text_projection,
// and each component in its own dtype. The LDM names are written out here independently of the
// loader's key maps (OpenCLIP's fused q/k/v rows and transposed projection included), so the
// tests check the loader against the layout, not against itself.
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "models/clip_text.h"
#include "models/tensor_io.h"
#include "models/unet.h"
#include "models/vae.h"

namespace lathe::test {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

inline void add_unet(NamedTensors& out, UNet& unet, torch::Dtype dtype = torch::kFloat32) {
  for (const auto& p : unet->named_parameters())
    out.emplace_back("model.diffusion_model." + p.key(), p.value().detach().to(dtype));
}

// LitEma's copy: each UNet parameter under `model_ema.diffusion_model` with its dots removed,
// holding `value(param)`, plus the decay and update counter buffers.
template <typename Fn>
void add_unet_ema(NamedTensors& out, UNet& unet, Fn value) {
  for (const auto& p : unet->named_parameters()) {
    std::string key = "model_ema.diffusion_model";
    for (char ch : p.key())
      if (ch != '.') key += ch;
    out.emplace_back(key, value(p.value().detach()));
  }
  out.emplace_back("model_ema.decay", torch::tensor(0.9999f));
  out.emplace_back("model_ema.num_updates", torch::tensor(1000, torch::kInt32));
}

// The buffers of LDM's LatentDiffusion (DDPM) wrapper, float32 [1000] as the released files.
inline void add_schedule_buffers(NamedTensors& out) {
  auto betas = torch::linspace(std::sqrt(0.00085), std::sqrt(0.012), 1000).pow(2);  // SD's scaled-linear
  auto alphas = (1 - betas).cumprod(0);
  for (const char* name : {"betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod",
                           "sqrt_one_minus_alphas_cumprod", "log_one_minus_alphas_cumprod",
                           "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod", "posterior_variance",
                           "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2"})
    out.emplace_back(name, std::string(name) == "betas" ? betas : alphas.sqrt());
  out.emplace_back("logvar", torch::zeros({1000}));
}

// OpenAI CLIP in Hugging Face names under `prefix` (SD 1.x: cond_stage_model.transformer.; SDXL
// encoder 1: conditioner.embedders.0.transformer.), with the int64 position_ids buffer.
inline void add_hf_clip(NamedTensors& out, CLIPTextModel& te, const std::string& prefix,
                        torch::Dtype dtype = torch::kFloat32) {
  for (const auto& p : te->named_parameters()) out.emplace_back(prefix + p.key(), p.value().detach().to(dtype));
  out.emplace_back(prefix + "text_model.embeddings.position_ids",
                   torch::arange(te->config().max_positions, torch::kInt64).unsqueeze(0));
}

// An OpenCLIP text tower under `prefix` (SD 2.x: cond_stage_model.model.; SDXL encoder 2:
// conditioner.embedders.1.model.): fused in_proj q/k/v, text_projection stored [in, out],
// logit_scale. `projection` is written even for a module without one (SD 2.x files carry it).
inline void add_openclip(NamedTensors& out, CLIPTextModel& te, const std::string& prefix,
                         torch::Dtype dtype = torch::kFloat32) {
  auto& tm = *te->text_model;
  auto put = [&](const std::string& key, const torch::Tensor& t) { out.emplace_back(prefix + key, t.detach().to(dtype)); };
  put("token_embedding.weight", tm.token_embedding->weight);
  put("positional_embedding", tm.position_embedding->weight);
  for (std::size_t i = 0; i < tm.layers->size(); ++i) {
    auto& l = *tm.layers[i]->as<CLIPEncoderLayerImpl>();
    const std::string b = "transformer.resblocks." + std::to_string(i) + ".";
    auto& a = *l.self_attn;
    put(b + "attn.in_proj_weight", torch::cat({a.q_proj->weight, a.k_proj->weight, a.v_proj->weight}, 0));
    put(b + "attn.in_proj_bias", torch::cat({a.q_proj->bias, a.k_proj->bias, a.v_proj->bias}, 0));
    put(b + "attn.out_proj.weight", a.out_proj->weight);
    put(b + "attn.out_proj.bias", a.out_proj->bias);
    put(b + "ln_1.weight", l.layer_norm1->weight);
    put(b + "ln_1.bias", l.layer_norm1->bias);
    put(b + "ln_2.weight", l.layer_norm2->weight);
    put(b + "ln_2.bias", l.layer_norm2->bias);
    put(b + "mlp.c_fc.weight", l.fc1->weight);
    put(b + "mlp.c_fc.bias", l.fc1->bias);
    put(b + "mlp.c_proj.weight", l.fc2->weight);
    put(b + "mlp.c_proj.bias", l.fc2->bias);
  }
  put("ln_final.weight", tm.final_layer_norm->weight);
  put("ln_final.bias", tm.final_layer_norm->bias);
  const auto width = te->config().hidden_size;
  put("text_projection", te->text_projection ? te->text_projection->weight.t() : torch::eye(width));
  out.emplace_back(prefix + "logit_scale", torch::tensor(4.6052f));
}

inline void add_vae(NamedTensors& out, VAE& vae, const std::string& prefix = "first_stage_model.",
                    torch::Dtype dtype = torch::kFloat32) {
  for (const auto& p : vae->named_parameters()) out.emplace_back(prefix + p.key(), p.value().detach().to(dtype));
}

// Random small values in every parameter (fresh modules have zeroed biases and unit norms,
// which would hide a mix-up between tensors).
inline void randomize(torch::nn::Module& m, double scale = 0.05) {
  torch::NoGradGuard no_grad;
  for (auto& p : m.parameters()) p.normal_(0.0, scale);
}

// A CLIP text encoder config of the real kind at a small size: `width` a multiple of 64 so the
// loader's heads = width / 64 rule gives the same module.
inline CLIPTextConfig small_clip(std::int64_t layers, std::int64_t width, bool open_clip, bool projection) {
  CLIPTextConfig c;
  c.hidden_size = width;
  c.intermediate_size = 4 * width;
  c.layers = layers;
  c.heads = width / 64;
  c.quick_gelu = !open_clip;
  c.projection_dim = projection ? width : 0;
  return c;
}

// A 4-level VAE of the real topology at tiny widths (latents 1/8 of the image).
inline VAEConfig small_vae() {
  VAEConfig c;
  c.block_out_channels = {32, 32, 64, 64};
  c.layers_per_block = 1;
  return c;
}

}  // namespace lathe::test
