// Small datasets and images for the data-pipeline tests: PNGs of known pixels written with
// OpenCV, and in-memory Datasets whose items carry image sizes (no files) for bucket plans.
#pragma once

#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include <zlib.h>

#include "dataset/dataset.h"
#include "temp_dir.h"

namespace lathe::test {

// A w x h image of one BGR colour, as PNG (or whatever the extension says).
inline void write_solid_image(const std::filesystem::path& path, int w, int h,
                              cv::Scalar bgr = cv::Scalar(40, 120, 200)) {
  std::filesystem::create_directories(path.parent_path());
  cv::Mat m(h, w, CV_8UC3, bgr);
  if (!cv::imwrite(path.string(), m)) throw std::runtime_error("cannot write " + path.string());
}

// The bytes of a w x h PNG of one colour.
inline std::string encode_png(int w, int h) {
  cv::Mat m(h, w, CV_8UC3, cv::Scalar(40, 120, 200));
  std::vector<unsigned char> buf;
  cv::imencode(".png", m, buf);
  return std::string(buf.begin(), buf.end());
}

// Sets a PNG's IHDR chunk CRC after its fields were patched.
inline void fix_ihdr_crc(std::string& png) {
  const uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(png.data() + 12), 17);
  for (int i = 0; i < 4; ++i) png[29 + i] = static_cast<char>((crc >> (24 - 8 * i)) & 0xFF);
}

// A small, complete PNG whose header claims w x h pixels (an "image bomb": a few hundred
// bytes that would decode to gigabytes).
inline std::string png_claiming(std::uint32_t w, std::uint32_t h) {
  std::string png = encode_png(16, 16);
  for (int i = 0; i < 4; ++i) {
    png[16 + i] = static_cast<char>((w >> (24 - 8 * i)) & 0xFF);
    png[20 + i] = static_cast<char>((h >> (24 - 8 * i)) & 0xFF);
  }
  fix_ihdr_crc(png);
  return png;
}

// An item of a concept with a readable size and a caption, for in-memory plans.
inline Item sized_item(const std::string& name, int w, int h) {
  Item it;
  it.image_path = name;
  it.image.ok = true;
  it.image.width = w;
  it.image.height = h;
  it.image.format = ImageFormat::Png;
  return it;
}

}  // namespace lathe::test
