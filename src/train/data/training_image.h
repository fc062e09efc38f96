// Loading one training image as the model sees it: decoded with OpenCV (EXIF orientation
// applied, alpha composited on white, grey and 16-bit converted), resized with area
// interpolation (Lanczos when enlarging) to the bucket assignment's resized size, cropped to
// the bucket (centred, or at a random offset), optionally flipped, as a float tensor in
// [-1, 1], channels RGB.
#pragma once

#include <torch/types.h>

#include <filesystem>
#include <string>

#include "common/error.h"
#include "common/seeded_rng.h"
#include "dataset/bucket_plan.h"

namespace lathe {

enum class CropMode;

// An image training cannot use (unreadable, cut short, corrupt, too large to decode, decoding
// to another size than its header says). The message names the file; dataset.on_bad_image
// decides whether the run stops on it or leaves the image out (bad_images.h).
class BadImageError : public Error {
 public:
  BadImageError(std::filesystem::path path, std::string problem);
  const std::filesystem::path& path() const { return path_; }
  const std::string& problem() const { return problem_; }

 private:
  std::filesystem::path path_;
  std::string problem_;
};

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

// [3, bucket height, bucket width] float32 in [-1, 1] on the CPU. Before decoding, the header
// must be readable, the pixels within the decode limit (decode_limit.h) and the container
// complete (image_container.h), so a file cut short never trains as grey garbage. Throws
// BadImageError naming the file when the image cannot be used, lathe::Error for a crop that
// does not fit.
torch::Tensor load_training_image(const std::filesystem::path& path,
                                  const BucketAssignment& assignment, const ImageView& view);

}  // namespace lathe
