// Stable Cascade image/latent sizes (see effnet_latent_size.h).
#include "models/effnet_latent_size.h"

#include <cmath>

namespace lathe {

int64_t effnet_input_length(int64_t pixels) {
  const double scaled = static_cast<double>(pixels) * kEffNetImageScale;
  const double floor = std::floor(scaled);
  const double frac = scaled - floor;
  auto base = static_cast<int64_t>(floor);
  // Python's round(): halves go to the even neighbour (round(94.5) == 94, round(97.5) == 98).
  if (frac > 0.5 || (frac == 0.5 && base % 2 != 0)) ++base;
  return base;
}

int64_t stage_c_latent_length(int64_t pixels) {
  const int64_t input = effnet_input_length(pixels);
  return (input + kEffNetOutputStride - 1) / kEffNetOutputStride;
}

bool is_stage_c_bucket_length(int64_t pixels) {
  return pixels > 0 && pixels % kStageCBucketQuantization == 0;
}

}  // namespace lathe
