// Loading one training image as the model sees it: decoded with OpenCV (EXIF orientation
// applied, alpha composited on white, grey and 16-bit converted), resized with area
// interpolation (Lanczos when enlarging) to the bucket assignment's resized size, cropped to
// the bucket (centred, or at a random offset), optionally flipped, as a float tensor in
// [-1, 1], channels RGB.
#pragma once

#include <torch/types.h>

#include <filesystem>

#include "common/seeded_rng.h"
#include "dataset/bucket_plan.h"

namespace lathe {

enum class CropMode;

// Where the crop was taken and whether the image was flipped: the latent cache key and SDXL's
// crop conditioning both need it.
struct ImageView {
  int crop_left = 0;
  int crop_top = 0;
  bool flipped = false;
};

// Picks the crop offset and flip for one sample (random crop / flip draw from `rng`; centre
// crop and flip = false draw nothing).
ImageView choose_image_view(const BucketAssignment& assignment, CropMode crop, bool flip,
                            SeededRng& rng);

// [3, bucket height, bucket width] float32 in [-1, 1] on the CPU. Throws lathe::Error naming
// the file when it cannot be decoded.
torch::Tensor load_training_image(const std::filesystem::path& path,
                                  const BucketAssignment& assignment, const ImageView& view);

}  // namespace lathe
