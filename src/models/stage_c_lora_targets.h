// The modules of a Stage C prior a LoRA can adapt: every Linear and Conv2d, in named_modules()
// order (OneTrainer's "full" layer preset walks the prior the same way), with the facts a LoRA
// needs to shape its down / up matrices. Names are the canonical (Stability / ComfyUI) module
// paths; the LoRA key is "lora_prior_unet_" + name with '.' -> '_'.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/stage_c.h"

namespace lathe {

struct StageCLoraTarget {
  std::string name;                        // "down_blocks.1.2.attention.attn.out_proj"
  enum class Kind { Linear, Conv2d } kind = Kind::Linear;
  std::int64_t in = 0, out = 0;            // features or channels
  std::int64_t kernel_h = 1, kernel_w = 1; // Conv2d
  std::int64_t groups = 1;                 // Conv2d; == in for the ResBlock depthwise convs
  std::shared_ptr<torch::nn::Module> module;

  bool is_depthwise() const { return kind == Kind::Conv2d && groups > 1; }
  std::string lora_name() const;           // "lora_prior_unet_down_blocks_1_2_attention_attn_out_proj"
};

std::vector<StageCLoraTarget> stage_c_lora_targets(StageCImpl& model);

}  // namespace lathe
