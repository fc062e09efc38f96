// Multi-head scaled dot-product attention that never holds the whole [B*heads, N, M] score
// matrix at once. libtorch 1.13 has no fused attention kernel, and at SD resolutions the full
// matrix of a 64x64 self-attention is 4096x4096 per head (hundreds of MiB per layer in fp32), so
// the queries are processed in slices sized to a byte budget. Built against libtorch >= 2.0 the
// fused at::scaled_dot_product_attention is used instead (it is memory-efficient by itself).
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace lathe {

struct AttentionSettings {
  // Largest score slice (bytes of one [B*heads, n, M] block in the compute dtype) materialised
  // at once; queries are chunked to stay under it. 0 = no slicing (the whole matrix at once).
  std::int64_t slice_bytes = 64ll << 20;
  // Use the fused kernel when the libtorch build has one (ignored on libtorch 1.x).
  bool use_fused = true;
};

// Process-wide settings (the trainer sets them once from the profile before building models).
AttentionSettings& attention_settings();

// q [B, N, heads*d], k and v [B, M, heads*d] -> [B, N, heads*d]. Channel c belongs to head
// c / d (the diffusers / LDM / CLIP layout). softmax(q k^T / sqrt(d)) v per head. `causal` masks
// position j > i (CLIP text encoder). Slicing changes only memory, not the result beyond
// float rounding of the row-wise softmax (each row is computed whole).
torch::Tensor multi_head_attention(const torch::Tensor& q, const torch::Tensor& k,
                                   const torch::Tensor& v, std::int64_t heads, bool causal = false,
                                   std::int64_t slice_bytes = -1);

}  // namespace lathe
