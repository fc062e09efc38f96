// One training image, decoded and prepared as kohya's dataset does (trim_and_resize_if_required
// then the crop and flip of __getitem__): decode with OpenCV, apply the EXIF orientation the
// header reader saw (so the pixels agree with the size the bucket was chosen from), resize with
// area interpolation (Lanczos when enlarging), crop to the bucket, flip, and map to [-1, 1].
// 8-bit colour and grey images stay 8-bit until that last step, as kohya's uint8 arrays do;
// images with alpha (composited on white) or 16 bits per channel are worked on as floats.
#include "train/data/training_image.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/error.h"
#include "dataset/decode_limit.h"
#include "dataset/image_container.h"
#include "dataset/image_header.h"
#include "dataset/jpeg_data_check.h"
#include "io/atomic_file.h"
#include "train/config/train_config.h"

namespace lathe {
namespace {

// [0, 1] floats from any depth OpenCV decodes to.
cv::Mat to_unit_float(const cv::Mat& m, const std::filesystem::path& path) {
  if (m.channels() < 1 || m.channels() > 4)
    throw Error(fmt::format("{}: {} colour channels; expected grey, RGB or RGBA", path.string(),
                            m.channels()));
  double scale = 1.0;
  switch (m.depth()) {
    case CV_8U:
      scale = 1.0 / 255.0;
      break;
    case CV_16U:
      scale = 1.0 / 65535.0;
      break;
    case CV_32F:
      break;
    default:
      throw Error(
          fmt::format("{}: unsupported pixel depth (OpenCV depth {}); save it as 8- or "
                      "16-bit PNG or JPEG",
                      path.string(), m.depth()));
  }
  cv::Mat f;
  m.convertTo(f, CV_32F, scale);
  return f;
}

// RGB float [0, 1] from grey, grey + alpha, BGR or BGRA, transparent pixels made white.
cv::Mat to_rgb_on_white(const cv::Mat& f) {
  const int channels = f.channels();
  std::vector<cv::Mat> planes;
  cv::split(f, planes);
  cv::Mat alpha;
  if (channels == 2 || channels == 4) {
    alpha = planes.back();
    planes.pop_back();
  }
  if (planes.size() == 1) planes = {planes[0], planes[0], planes[0]};
  std::swap(planes[0], planes[2]);  // BGR -> RGB
  if (!alpha.empty()) {
    cv::Mat inverse = 1.0 - alpha;
    for (cv::Mat& p : planes) p = p.mul(alpha) + inverse;
  }
  cv::Mat rgb;
  cv::merge(planes, rgb);
  return rgb;
}

// EXIF orientation 2..8 applied as OpenCV's own ApplyExifOrientation does.
void apply_orientation(cv::Mat& m, int orientation) {
  if (orientation >= 5 && orientation <= 8) {
    cv::Mat turned;  // transpose works in place only on square images
    cv::transpose(m, turned);
    m = turned;
  }
  switch (orientation) {
    case 2:
    case 6:
      cv::flip(m, m, 1);
      break;
    case 3:
    case 7:
      cv::flip(m, m, -1);
      break;
    case 4:
    case 8:
      cv::flip(m, m, 0);
      break;
    default:
      break;
  }
}

// kohya's resize_image: area interpolation when the image loses pixels, Lanczos otherwise.
cv::Mat resize_to(const cv::Mat& m, int width, int height) {
  if (m.cols == width && m.rows == height) return m;
  const bool shrinking =
      static_cast<long long>(m.cols) * m.rows > static_cast<long long>(width) * height;
  cv::Mat out;
  cv::resize(m, out, cv::Size(width, height), 0, 0,
             shrinking ? cv::INTER_AREA : cv::INTER_LANCZOS4);
  return out;
}

// RGB pixels to work on: 8-bit colour and grey stay 8-bit (kohya resizes uint8 arrays, and it
// is the fast path); images with alpha or more bits become floats in [0, 1], alpha composited.
cv::Mat to_rgb(const cv::Mat& decoded, const std::filesystem::path& path) {
  cv::Mat rgb;
  if (decoded.depth() == CV_8U && decoded.channels() == 3) {
    cv::cvtColor(decoded, rgb, cv::COLOR_BGR2RGB);
  } else if (decoded.depth() == CV_8U && decoded.channels() == 1) {
    cv::cvtColor(decoded, rgb, cv::COLOR_GRAY2RGB);
  } else {
    rgb = to_rgb_on_white(to_unit_float(decoded, path));
  }
  return rgb;
}

// [3, H, W] in [-1, 1] from 8-bit or [0, 1] float RGB.
torch::Tensor to_chw_tensor(const cv::Mat& rgb) {
  cv::Mat scaled;
  const double scale = rgb.depth() == CV_8U ? 2.0 / 255.0 : 2.0;
  rgb.convertTo(scaled, CV_32F, scale, -1.0);
  cv::min(cv::max(scaled, -1.0), 1.0, scaled);  // float Lanczos overshoots at sharp edges
  if (!scaled.isContinuous()) scaled = scaled.clone();
  return torch::from_blob(scaled.data, {scaled.rows, scaled.cols, 3}, torch::kFloat32)
      .permute({2, 0, 1})
      .contiguous();
}

// The file's bytes, checked as the audit's --deep checks them, then decoded from memory (one
// read). The header decides first whether decoding is affordable: OpenCV itself would
// allocate gigabytes for a small PNG that claims 30000x30000 pixels.
cv::Mat decode_checked(const std::filesystem::path& path) {
  const ImageInfo header = read_image_header(path);
  if (!header.ok) throw BadImageError(path, header.problem);
  if (std::string too_large = decode_size_problem(header); !too_large.empty())
    throw BadImageError(path, too_large);
  std::string data;
  try {
    data = read_file(path, std::size_t(1) << 30);
  } catch (const Error& e) {
    throw BadImageError(path, e.what());
  }
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  if (std::string problem = container_problem(bytes, data.size()); !problem.empty())
    throw BadImageError(path, problem);
  if (header.format == ImageFormat::Jpeg)
    if (std::string problem = jpeg_data_problem(bytes, data.size()); !problem.empty())
      throw BadImageError(path, problem);
  cv::Mat decoded;
  try {
    decoded = cv::imdecode(cv::Mat(1, static_cast<int>(data.size()), CV_8U, data.data()),
                           cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    throw BadImageError(path, fmt::format("OpenCV cannot decode it: {}", e.err));
  }
  if (decoded.empty())
    throw BadImageError(path, fmt::format("OpenCV cannot decode the {} data (corrupt or an "
                                          "unsupported variant); `lathe audit --deep` lists "
                                          "such files",
                                          image_format_name(header.format)));
  // IMREAD_UNCHANGED ignores EXIF: compare with the stored size, then orient as the header
  // reader did when sizing the image.
  const bool swap = header.exif_orientation >= 5;
  const int stored_w = swap ? header.height : header.width;
  const int stored_h = swap ? header.width : header.height;
  if (decoded.cols != stored_w || decoded.rows != stored_h)
    throw BadImageError(path, fmt::format("the header says {}x{} but the pixels decode to {}x{}",
                                          stored_w, stored_h, decoded.cols, decoded.rows));
  cv::Mat rgb = to_rgb(decoded, path);
  apply_orientation(rgb, header.exif_orientation);
  return rgb;
}

}  // namespace

ImageView choose_image_view(const BucketAssignment& assignment, CropMode crop, bool flip,
                            SeededRng& rng) {
  ImageView v;
  v.crop_left = assignment.crop_left;
  v.crop_top = assignment.crop_top;
  if (crop == CropMode::Random) {
    const int spare_w = std::max(0, assignment.resized_width - assignment.bucket.width);
    const int spare_h = std::max(0, assignment.resized_height - assignment.bucket.height);
    v.crop_left = static_cast<int>(rng.below(static_cast<std::uint64_t>(spare_w) + 1));
    v.crop_top = static_cast<int>(rng.below(static_cast<std::uint64_t>(spare_h) + 1));
  }
  v.flipped = flip && rng.chance(0.5);
  return v;
}

BadImageError::BadImageError(std::filesystem::path path, std::string problem)
    : Error(fmt::format("{}: {}", path.string(), problem)),
      path_(std::move(path)),
      problem_(std::move(problem)) {}

torch::Tensor load_training_image(const std::filesystem::path& path,
                                  const BucketAssignment& assignment, const ImageView& view) {
  cv::Mat rgb = decode_checked(path);
  const BucketSize bucket = assignment.bucket;
  cv::Mat resized = resize_to(rgb, assignment.resized_width, assignment.resized_height);
  if (view.crop_left < 0 || view.crop_top < 0 || view.crop_left + bucket.width > resized.cols ||
      view.crop_top + bucket.height > resized.rows)
    throw Error(fmt::format("{}: crop {}x{} at ({}, {}) does not fit the image resized to {}x{}",
                            path.string(), bucket.width, bucket.height, view.crop_left,
                            view.crop_top, resized.cols, resized.rows));
  cv::Mat cropped = resized(cv::Rect(view.crop_left, view.crop_top, bucket.width, bucket.height));
  if (!view.flipped) return to_chw_tensor(cropped);
  cv::Mat flipped;
  cv::flip(cropped, flipped, 1);
  return to_chw_tensor(flipped);
}

}  // namespace lathe
