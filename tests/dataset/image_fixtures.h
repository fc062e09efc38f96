// Test images made on the spot: real files written by OpenCV, plus hand-made damage (EXIF
// segments spliced into a JPEG, files cut short, patched header fields) for the header reader,
// the --deep check and the scanner tests.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/atomic_file.h"
#include "temp_dir.h"

namespace lathe::test {

// Writes a width x height image with noise (so JPEG/WebP are not trivially small).
inline void write_image(const std::filesystem::path& path, int width, int height,
                        const std::vector<int>& params = {}) {
  std::filesystem::create_directories(path.parent_path());
  cv::Mat img(height, width, CV_8UC3);
  cv::randu(img, 0, 256);
  if (!cv::imwrite(path.string(), img, params))
    throw std::runtime_error("imwrite failed: " + path.string());
}

// The encoded bytes of a width x height image in the format of `ext` (".png", ".jpg", ...).
inline std::string encode_image(const std::string& ext, int width, int height,
                                const std::vector<int>& params = {}) {
  cv::Mat img(height, width, CV_8UC3);
  cv::randu(img, 0, 256);
  std::vector<unsigned char> buf;
  if (!cv::imencode(ext, img, buf, params)) throw std::runtime_error("imencode failed: " + ext);
  return std::string(buf.begin(), buf.end());
}

// A complete JPEG (segments and EOI in place) whose entropy-coded data is damaged: a restart
// marker planted halfway through the scan, where libjpeg meets it with bits still to read.
// The container walk accepts it; only decoding the data shows the damage.
inline std::string jpeg_with_damaged_scan(int width = 64, int height = 64) {
  std::string jpeg = encode_image(".jpg", width, height);
  const std::size_t sos = jpeg.find("\xFF\xDA");
  if (sos == std::string::npos) throw std::runtime_error("no SOS marker in the encoded JPEG");
  const std::size_t header_len =
      (std::size_t(std::uint8_t(jpeg[sos + 2])) << 8) | std::uint8_t(jpeg[sos + 3]);
  const std::size_t data_start = sos + 2 + header_len;
  std::size_t at = data_start + (jpeg.size() - 2 - data_start) / 2;
  while (std::uint8_t(jpeg[at - 1]) == 0xFF || std::uint8_t(jpeg[at]) == 0x00) ++at;  // not inside FF 00
  jpeg[at] = static_cast<char>(0xFF);
  jpeg[at + 1] = static_cast<char>(0xD5);  // RST5, with no restart interval defined
  return jpeg;
}

inline std::string read_bytes(const std::filesystem::path& p) {
  return lathe::read_file(p);
}

// An APP1 EXIF segment holding only IFD0 with the Orientation tag, in either byte order.
// `padding` adds bytes after the IFD so the segment can outgrow the reader's first window.
inline std::string exif_segment(int orientation, bool little_endian, std::size_t padding = 0) {
  auto u16 = [&](unsigned v) {
    return little_endian ? std::string{char(v & 0xFF), char(v >> 8)}
                         : std::string{char(v >> 8), char(v & 0xFF)};
  };
  auto u32 = [&](unsigned v) {
    return little_endian ? u16(v & 0xFFFF) + u16(v >> 16) : u16(v >> 16) + u16(v & 0xFFFF);
  };
  std::string tiff = little_endian ? std::string("II") : std::string("MM");
  tiff += u16(42) + u32(8);                                           // header, IFD0 at offset 8
  tiff += u16(1);                                                     // one entry
  tiff += u16(0x0112) + u16(3) + u32(1) + u16(orientation) + u16(0);  // Orientation, SHORT
  tiff += u32(0);                                                     // no next IFD
  tiff += std::string(padding, '\0');
  std::string payload = std::string("Exif\0\0", 6) + tiff;
  std::size_t len = payload.size() + 2;
  return std::string{char(0xFF), char(0xE1), char(len >> 8), char(len & 0xFF)} + payload;
}

// A JPEG with `segment` spliced in right after SOI.
inline std::string with_segment_after_soi(const std::string& jpeg, const std::string& segment) {
  return jpeg.substr(0, 2) + segment + jpeg.substr(2);
}

inline bool running_as_root() {
  return ::geteuid() == 0;
}

}  // namespace lathe::test
