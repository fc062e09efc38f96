// Tiny UNet configurations with the code paths of SD 1.x, SD 2.x and SDXL (conv vs Linear
// projections, attention levels, SDXL's added conditioning) at widths that run in milliseconds.
// Shared by the network and LoRA tests.
#pragma once

#include <cstdint>

#include "models/unet.h"

namespace lathe::test {

// One attention level, conv projections (SD 1.x shape).
inline UNetConfig tiny_sd15(std::int64_t cross_attention_dim = 24) {
  UNetConfig c;
  c.block_out_channels = {32, 64};
  c.layers_per_block = 1;
  c.attention = {true, false};
  c.heads = {4, 4};
  c.transformer_depth = {1, 1};
  c.mid_heads = 4;
  c.cross_attention_dim = cross_attention_dim;
  return c;
}

// SD 2.x: Linear projections, per-level head counts.
inline UNetConfig tiny_sd2(std::int64_t cross_attention_dim = 24) {
  auto c = tiny_sd15(cross_attention_dim);
  c.heads = {2, 4};
  c.linear_projection = true;
  return c;
}

// SDXL: attention only on the deeper level, transformer depth 2, added time/size conditioning.
inline UNetConfig tiny_sdxl(std::int64_t cross_attention_dim = 24) {
  UNetConfig c;
  c.block_out_channels = {32, 64};
  c.layers_per_block = 2;
  c.attention = {false, true};
  c.heads = {2, 4};
  c.transformer_depth = {1, 2};
  c.mid_heads = 4;
  c.mid_transformer_depth = 2;
  c.cross_attention_dim = cross_attention_dim;
  c.linear_projection = true;
  c.addition_time_embed_dim = 8;
  c.adm_in_channels = 16 + 6 * 8;
  return c;
}

}  // namespace lathe::test
