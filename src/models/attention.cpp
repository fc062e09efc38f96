// Fused attention through at::scaled_dot_product_attention, with a sliced bmm path for the
// inputs no fused kernel takes (see attention.h).
#include "models/attention.h"

#include <ATen/SDPBackend.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace lathe {

AttentionSettings& attention_settings() {
  static AttentionSettings settings;
  return settings;
}

namespace {

// [B, N, h*d] -> [B*h, N, d]
torch::Tensor split_heads(const torch::Tensor& x, std::int64_t heads) {
  const auto b = x.size(0), n = x.size(1), c = x.size(2);
  return x.reshape({b, n, heads, c / heads}).permute({0, 2, 1, 3}).reshape({b * heads, n, c / heads});
}

// [B*h, N, d] -> [B, N, h*d]
torch::Tensor merge_heads(const torch::Tensor& x, std::int64_t heads) {
  const auto bh = x.size(0), n = x.size(1), d = x.size(2);
  return x.reshape({bh / heads, heads, n, d}).permute({0, 2, 1, 3}).reshape({bh / heads, n, heads * d});
}

// One slice of queries [BH, n, d] starting at query position `offset`, against all keys.
torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& kt, const torch::Tensor& v,
                     double scale, bool causal, std::int64_t offset) {
  auto scores = torch::bmm(q, kt).mul_(scale);  // [BH, n, M]
  if (causal) {
    const auto n = q.size(1), m = kt.size(2);
    auto rows = torch::arange(offset, offset + n, torch::kLong).unsqueeze(1);
    auto cols = torch::arange(m, torch::kLong).unsqueeze(0);
    scores = scores.masked_fill(cols > rows, -std::numeric_limits<double>::infinity());
  }
  return torch::bmm(torch::softmax(scores, -1), v);  // [BH, n, d]
}

// [B, N, h*d] -> [B, h, N, d]: the layout the fused kernels take (a view, no copy).
torch::Tensor to_heads_4d(const torch::Tensor& x, std::int64_t heads) {
  return x.reshape({x.size(0), x.size(1), heads, x.size(2) / heads}).transpose(1, 2);
}

// Which kernel the dispatcher would run for these inputs; "math" is the unfused reference
// kernel that builds the whole score matrix, which the sliced path beats on memory.
at::SDPBackend fused_backend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, bool causal) {
  return static_cast<at::SDPBackend>(at::_fused_sdp_choice(q, k, v, {}, 0.0, causal));
}

}  // namespace

bool fused_attention_available(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                               std::int64_t heads, bool causal) {
  const auto choice = fused_backend(to_heads_4d(q, heads), to_heads_4d(k, heads), to_heads_4d(v, heads), causal);
  return choice != at::SDPBackend::math && choice != at::SDPBackend::error;
}

torch::Tensor multi_head_attention(const torch::Tensor& q, const torch::Tensor& k,
                                   const torch::Tensor& v, std::int64_t heads, bool causal,
                                   std::int64_t slice_bytes) {
  TORCH_CHECK(q.dim() == 3 && k.dim() == 3 && v.dim() == 3, "attention expects [B, N, C] inputs");
  TORCH_CHECK(q.size(2) % heads == 0, "attention: channels not divisible by heads");
  const auto& settings = attention_settings();
  if (slice_bytes < 0) slice_bytes = settings.slice_bytes;
  const std::int64_t d = q.size(2) / heads;
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));

  if (settings.use_fused) {
    auto q4 = to_heads_4d(q, heads), k4 = to_heads_4d(k, heads), v4 = to_heads_4d(v, heads);
    const auto choice = fused_backend(q4, k4, v4, causal);
    if (choice != at::SDPBackend::math && choice != at::SDPBackend::error) {
      auto out = at::scaled_dot_product_attention(q4, k4, v4, {}, 0.0, causal);  // [B, h, N, d]
      return out.transpose(1, 2).reshape({q.size(0), q.size(1), q.size(2)});
    }
  }
  auto qh = split_heads(q, heads), kh = split_heads(k, heads), vh = split_heads(v, heads);
  auto kt = kh.transpose(1, 2);  // [BH, d, M]
  const std::int64_t bh = qh.size(0), n = qh.size(1), m = kh.size(1);
  const std::int64_t row_bytes = bh * m * static_cast<std::int64_t>(q.element_size());
  std::int64_t chunk = n;
  if (slice_bytes > 0) chunk = std::clamp<std::int64_t>(slice_bytes / std::max<std::int64_t>(row_bytes, 1), 1, n);
  if (chunk >= n) return merge_heads(attend(qh, kt, vh, scale, causal, 0), heads);

  std::vector<torch::Tensor> parts;
  for (std::int64_t start = 0; start < n; start += chunk) {
    const auto len = std::min(chunk, n - start);
    parts.push_back(attend(qh.narrow(1, start, len), kt, vh, scale, causal, start));
  }
  return merge_heads(torch::cat(parts, 1), heads);
}

}  // namespace lathe
