// The Stable Cascade Stage C prior (diffusers StableCascadeUNet, Stability's StageC) as one
// libtorch module, registered under Stability's single-file names with the attention split as
// ComfyUI splits it, so named_parameters() yields the canonical keys of stage_c_weights.h:
//
//   clip_txt_mapper, clip_txt_pooled_mapper, clip_img_mapper   (Linear; clip_norm has none)
//   embedding.1                    1x1 conv in -> width[0] (embedding.2: channel LayerNorm)
//   down_blocks.L.3i   ResBlock    depthwise, channelwise.0 / .2 (gamma, beta) / .4
//   down_blocks.L.3i+1 TimestepBlock mapper, mapper_sca, mapper_crp
//   down_blocks.L.3i+2 AttnBlock   attention.attn.to_q/to_k/to_v/out_proj, kv_mapper.1
//   down_downscalers.L.1.blocks.0  LayerNorm + 1x1 conv width[L-1] -> width[L] (L >= 1)
//   up_blocks.K (K = 0 the deepest level), up_upscalers.K.1.blocks.1 (K < levels - 1)
//   clf.1                          1x1 conv width[0] -> out
//
// Every Linear and Conv2d runs through adapted_forward (module_adapter.h); the LoRA targets
// are listed by stage_c_lora_targets.h.
#pragma once

#include <torch/torch.h>

#include "models/stage_c_blocks.h"
#include "models/stage_c_config.h"

namespace lathe {

struct StageCImpl : torch::nn::Module {
  explicit StageCImpl(StageCConfig config);

  // sample [B, in, H, W]; timestep_ratio r [B] (float); clip_text_pooled [B, 1, Cp] (or
  // [B, Cp]); clip_text [B, T, Ct]; clip_img [B, 1, Ci] (zeros when no image embedding is
  // trained) -> [B, out, H, W]. sca / crp are zeros, as in training. As in the reference,
  // the conditioning is the pooled tokens alone when clip_text or clip_img is undefined.
  torch::Tensor forward(const torch::Tensor& sample, const torch::Tensor& timestep_ratio,
                        const torch::Tensor& clip_text_pooled, const torch::Tensor& clip_text,
                        const torch::Tensor& clip_img);

  // The pieces of forward(), for tests and callers that cache them.
  // [B, 3 * c_r]: embeddings of r, sca = 0, crp = 0, in r's dtype.
  torch::Tensor r_embedding(const torch::Tensor& timestep_ratio) const;
  // [B, T + 2 * clip_seq, conditioning_dim] after clip_norm.
  torch::Tensor clip_embeddings(const torch::Tensor& clip_text_pooled, const torch::Tensor& clip_text,
                                const torch::Tensor& clip_img);
  torch::Tensor forward_with(const torch::Tensor& sample, const torch::Tensor& r_embed, const torch::Tensor& clip);

  const StageCConfig& config() const { return config_; }
  void set_gradient_checkpointing(bool on) { config_.gradient_checkpointing = on; }

  torch::nn::Linear clip_txt_mapper{nullptr}, clip_txt_pooled_mapper{nullptr}, clip_img_mapper{nullptr};
  torch::nn::Sequential embedding{nullptr};  // 0 Identity (patch size 1), 1 Conv2d, 2 LayerNorm
  torch::nn::ModuleList down_blocks{nullptr}, down_downscalers{nullptr}, down_repeat_mappers{nullptr};
  torch::nn::ModuleList up_blocks{nullptr}, up_upscalers{nullptr}, up_repeat_mappers{nullptr};
  torch::nn::Sequential clf{nullptr};        // 0 LayerNorm, 1 Conv2d, 2 Identity
  torch::nn::Conv2d embedding_conv{nullptr}, clf_conv{nullptr};
  std::vector<torch::nn::Conv2d> down_maps;  // per level >= 1: down_downscalers.L.1.blocks.0
  std::vector<torch::nn::Conv2d> up_maps;    // per up index K < levels - 1: up_upscalers.K.1.blocks.1

 private:
  torch::Tensor run_block(const std::shared_ptr<torch::nn::Module>& block, const torch::Tensor& x,
                          const torch::Tensor& r_embed, const torch::Tensor& clip, const torch::Tensor& skip);
  torch::Tensor run_block_maybe_checkpointed(const std::shared_ptr<torch::nn::Module>& block, const torch::Tensor& x,
                                             const torch::Tensor& r_embed, const torch::Tensor& clip,
                                             const torch::Tensor& skip);
  StageCConfig config_;
};
TORCH_MODULE(StageC);

}  // namespace lathe
