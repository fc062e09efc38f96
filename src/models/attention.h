// Multi-head scaled dot-product attention that never holds the whole [B*heads, N, M] score
// matrix at once. The fused kernels of at::scaled_dot_product_attention (CPU flash attention in
// fp32 / bf16; CUDA flash, memory-efficient and cuDNN) take [B, heads, N, d] tensors and never
// materialise it. For inputs none of them takes (the dispatcher would fall back to its "math"
// kernel, which builds the whole matrix: 4096x4096 per head for a 64x64 self-attention), the
// queries are processed in slices sized to a byte budget instead.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace lathe {

struct AttentionSettings {
  // Largest score slice (bytes of one [B*heads, n, M] block in the compute dtype) materialised
  // at once; queries are chunked to stay under it. 0 = no slicing (the whole matrix at once).
  std::int64_t slice_bytes = 64ll << 20;
  // Use a fused kernel when one takes the inputs (false: always the sliced path).
  bool use_fused = true;
};

// Process-wide settings (the trainer sets them once from the profile before building models).
AttentionSettings& attention_settings();

// q [B, N, heads*d], k and v [B, M, heads*d] -> [B, N, heads*d]. Channel c belongs to head
// c / d (the diffusers / LDM / CLIP layout). softmax(q k^T / sqrt(d)) v per head. `causal` masks
// position j > i (CLIP text encoder). Slicing changes only memory, not the result beyond
// float rounding of the row-wise softmax (each row is computed whole).
// Whether a fused kernel (not the math fallback) takes these [B, N, heads*d] inputs.
bool fused_attention_available(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                               std::int64_t heads, bool causal = false);

torch::Tensor multi_head_attention(const torch::Tensor& q, const torch::Tensor& k,
                                   const torch::Tensor& v, std::int64_t heads, bool causal = false,
                                   std::int64_t slice_bytes = -1);

}  // namespace lathe
