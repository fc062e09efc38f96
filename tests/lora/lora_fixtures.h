// Model configurations for the LoRA tests: the real SD 1.5 / SDXL block topologies with tiny
// widths (the module count and names depend only on the topology), the tiny models for forward
// checks (tiny_unet_configs.h), and inputs for them.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "models/clip_text.h"
#include "models/unet.h"
#include "models/tiny_unet_configs.h"

namespace lathe::test {

// SD 1.5 topology (4 levels, 2 resnets, attention on 3 levels, 1x1 conv projections).
inline UNetConfig sd15_topology() {
  auto c = UNetConfig::sd15();
  c.block_out_channels = {32, 64, 128, 128};  // the real 1:2:4:4 ratios keep the 1x1 shortcuts
  c.heads = {2, 2, 2, 2};
  c.mid_heads = 2;
  c.cross_attention_dim = 16;
  return c;
}

// SDXL base topology (3 levels, transformer depth 0/2/10, mid 10, Linear projections).
inline UNetConfig sdxl_topology() {
  auto c = UNetConfig::sdxl();
  c.block_out_channels = {32, 32, 64};
  c.heads = {2, 2, 2};
  c.mid_heads = 2;
  c.cross_attention_dim = 16;
  c.addition_time_embed_dim = 4;
  c.adm_in_channels = 8 + 6 * 4;
  return c;
}

inline CLIPTextConfig tiny_clip(std::int64_t layers, std::int64_t hidden = 16) {
  CLIPTextConfig c;
  c.hidden_size = hidden;
  c.intermediate_size = 4 * hidden;
  c.layers = layers;
  c.heads = 2;
  c.vocab_size = 1000;
  c.eos_token_id = 999;
  return c;
}

struct UNetInputs {
  torch::Tensor x, t, ctx, y;
};

inline UNetInputs unet_inputs(UNet& unet, std::int64_t b = 2) {
  const auto& c = unet->config();
  UNetInputs in;
  in.x = torch::randn({b, 4, 8, 8});
  in.t = torch::tensor(std::vector<std::int64_t>{999, 3}).slice(0, 0, b);
  in.ctx = torch::randn({b, 5, c.cross_attention_dim});
  if (c.adm_in_channels > 0) in.y = torch::randn({b, c.adm_in_channels});
  return in;
}

inline torch::Tensor run_unet(UNet& unet, const UNetInputs& in) {
  torch::NoGradGuard no_grad;
  return unet->forward(in.x, in.t, in.ctx, in.y);
}

}  // namespace lathe::test
