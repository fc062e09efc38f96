// The sizes around Stable Cascade's EfficientNet encoder, torch-free: OneTrainer scales every
// image by 0.75 before the encoder (Python round(), half to even) and the encoder's output
// stride is 32 (five stride-2 3x3 convs with padding 1, each giving ceil(n / 2)). Buckets are
// quantised to 128 px, so a bucket side of 128 k px gives a latent side of 3 k (1024 px -> 768 ->
// 24); that is why the prior's latents are multiples of 3.
#pragma once

#include <cstdint>

namespace lathe {

constexpr double kEffNetImageScale = 0.75;       // OneTrainer's ScaleImage(factor=0.75)
constexpr int64_t kEffNetOutputStride = 32;
constexpr int64_t kStageCBucketQuantization = 128;  // px; OneTrainer's Stable Cascade buckets

// round(pixels * 0.75) as Python rounds (ties to even): the side the encoder sees.
int64_t effnet_input_length(int64_t pixels);

// Latent side for an image side: ceil(effnet_input_length(pixels) / 32).
int64_t stage_c_latent_length(int64_t pixels);

// True when a bucket side is a positive multiple of 128 px (the latent is then 3 * side / 128).
bool is_stage_c_bucket_length(int64_t pixels);

}  // namespace lathe
