// EfficientNet input preparation (see effnet_image.h).
#include "models/effnet_image.h"

#include <torch/torch.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.h"
#include "models/effnet_latent_size.h"

namespace lathe {
namespace {

torch::Tensor as_batch(const torch::Tensor& image) {
  if ((image.dim() != 3 && image.dim() != 4) || image.size(-3) != 3)
    throw Error(fmt::format("effnet image: expected an RGB image [3, H, W] or [B, 3, H, W], got shape {}",
                            fmt::join(image.sizes(), "x")));
  return image.dim() == 3 ? image.unsqueeze(0) : image;
}

}  // namespace

torch::Tensor resize_for_effnet(const torch::Tensor& image01) {
  const auto batch = as_batch(image01);
  const int64_t h = effnet_input_length(batch.size(2));
  const int64_t w = effnet_input_length(batch.size(3));
  if (h < 1 || w < 1)
    throw Error(fmt::format("effnet image: {}x{} px is too small to scale by 0.75", batch.size(3), batch.size(2)));
  // torchvision Resize(antialias=True) -> F.interpolate(size=..., mode="bilinear",
  // align_corners=False, antialias=True): scales come from the sizes, not a scale factor.
  return torch::_upsample_bilinear2d_aa(batch.to(torch::kFloat32), {h, w}, /*align_corners=*/false,
                                        std::nullopt, std::nullopt);
}

torch::Tensor imagenet_normalize(const torch::Tensor& image01) {
  const auto batch = as_batch(image01);
  auto opts = batch.options();
  const auto mean = torch::tensor({0.485, 0.456, 0.406}, opts).view({1, 3, 1, 1});
  const auto std = torch::tensor({0.229, 0.224, 0.225}, opts).view({1, 3, 1, 1});
  auto out = (batch - mean) / std;
  return image01.dim() == 3 ? out.squeeze(0) : out;
}

torch::Tensor prepare_effnet_input(const torch::Tensor& image01) {
  return imagenet_normalize(resize_for_effnet(image01));
}

}  // namespace lathe
