// The one size limit for decoding pixels, applied from the header before any decoder runs:
// the audit's --deep, training (training_image.cpp) and the TUI preview all refuse what would
// take gigabytes to decode. A 2.6 MB PNG can claim 30000x30000 pixels (2.7 GB as 8-bit RGB,
// more at 16 bits), and OpenCV's own limit (2^30 pixels) lets it through.
#pragma once

#include <fmt/format.h>

#include <string>

#include "dataset/image_header.h"

namespace lathe {

// PIL's DecompressionBombError threshold (twice its warning limit), in megapixels.
constexpr double kMaxDecodeMegapixels = 178.0;

// Empty when an image of this (readable) header may be decoded; else what to tell the user.
inline std::string decode_size_problem(const ImageInfo& header) {
  const double megapixels = double(header.width) * double(header.height) / 1e6;
  if (megapixels <= kMaxDecodeMegapixels) return {};
  return fmt::format("the image is {}x{} ({:.0f} megapixels), too large to decode; resize it",
                     header.width, header.height, megapixels);
}

}  // namespace lathe
