// Image preparation for Stable Cascade's EfficientNet encoder, as OneTrainer's data pipeline
// does it: an RGB image in [0, 1] is resized by 0.75 to (round(H * 0.75), round(W * 0.75))
// with torchvision's bilinear resize with antialias=True (torch's _upsample_bilinear2d_aa,
// align_corners false, output size given), then ImageNet-normalized. No latent scaling follows
// the encoder for Stable Cascade.
#pragma once

#include <torch/types.h>

namespace lathe {

// [3, H, W] or [B, 3, H, W] in [0, 1] -> [B, 3, round(0.75 H), round(0.75 W)], float32 math.
// Throws lathe::Error for another rank or channel count.
torch::Tensor resize_for_effnet(const torch::Tensor& image01);

// (x - mean) / std per channel, mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225);
// x is [B, 3, H, W] or [3, H, W].
torch::Tensor imagenet_normalize(const torch::Tensor& image01);

// resize_for_effnet then imagenet_normalize: the encoder's input, [B, 3, h, w].
torch::Tensor prepare_effnet_input(const torch::Tensor& image01);

}  // namespace lathe
