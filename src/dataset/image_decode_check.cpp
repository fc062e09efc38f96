// The audit's --deep check: the header must be readable and the image within the decode size
// limit (decode_limit.h: read from the header, before a byte of pixels is allocated), the
// container complete (image_container.h: PNG reaches IEND with sound chunks, JPEG ends its
// scans with EOI, the WebP RIFF size matches the file, a BMP holds its pixel array), and OpenCV
// must decode the pixels to the size the header says; a JPEG's compressed data must decode
// without a libjpeg warning (jpeg_data_check.h). The structural checks come first
// because decoders happily return a half-grey image for a file cut short.
#include <fmt/format.h>

#include <algorithm>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>

#include "common/error.h"
#include "dataset/decode_limit.h"
#include "dataset/image_container.h"
#include "dataset/image_header.h"
#include "dataset/jpeg_data_check.h"
#include "io/atomic_file.h"

namespace lathe {

std::string decode_check(const std::filesystem::path& path) {
  // The header first: it is a few KB, and it says whether decoding is affordable at all.
  const ImageInfo header = read_image_header(path);
  if (!header.ok) return header.problem;
  if (std::string too_large = decode_size_problem(header); !too_large.empty()) return too_large;
  std::string data;
  try {
    data = read_file(path, std::size_t(1) << 30);
  } catch (const Error& e) {
    return e.what();
  }
  auto b = reinterpret_cast<const unsigned char*>(data.data());
  const std::size_t n = data.size();
  if (std::string problem = container_problem(b, n, image_format_from_extension(path));
      !problem.empty())
    return problem;
  if (header.format == ImageFormat::Jpeg)
    if (std::string problem = jpeg_data_problem(b, n); !problem.empty()) return problem;
  cv::Mat pixels;
  try {
    pixels = cv::imdecode(
        cv::Mat(1, static_cast<int>(std::min<std::size_t>(n, INT32_MAX)), CV_8U, data.data()),
        cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    return fmt::format("OpenCV cannot decode it: {}", e.err);
  }
  if (pixels.empty())
    return fmt::format("OpenCV cannot decode the {} data (corrupt or an unsupported variant)",
                       image_format_name(header.format));
  // IMREAD_UNCHANGED ignores EXIF orientation, so compare against the stored size.
  const bool swap = header.exif_orientation >= 5;
  const int stored_w = swap ? header.height : header.width;
  const int stored_h = swap ? header.width : header.height;
  if (pixels.cols != stored_w || pixels.rows != stored_h)
    return fmt::format("the header says {}x{} but the pixels decode to {}x{}", stored_w, stored_h,
                       pixels.cols, pixels.rows);
  return {};
}

}  // namespace lathe
