// Small helpers shared by the header reader and the --deep decode check: fixed-width integer
// reads in both byte orders, and the wording for files that are no image Lathe reads.
// Internal to src/dataset; not part of the dataset API.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "dataset/image_header.h"

namespace lathe {

inline unsigned be16(const unsigned char* p) {
  return (unsigned(p[0]) << 8) | p[1];
}
inline std::uint32_t be32(const unsigned char* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) |
         p[3];
}
inline unsigned le16(const unsigned char* p) {
  return p[0] | (unsigned(p[1]) << 8);
}
inline std::uint32_t le24(const unsigned char* p) {
  return p[0] | (std::uint32_t(p[1]) << 8) | (std::uint32_t(p[2]) << 16);
}
inline std::uint32_t le32(const unsigned char* p) {
  return le24(p) | (std::uint32_t(p[3]) << 24);
}

// Bytes as text for a message, non-printable ones as '?'.
inline std::string printable(const unsigned char* p, std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += (p[i] >= 0x20 && p[i] < 0x7f) ? char(p[i]) : '?';
  return s;
}

inline const char* preferred_extension(ImageFormat f) {
  switch (f) {
    case ImageFormat::Png:
      return ".png";
    case ImageFormat::Jpeg:
      return ".jpg";
    case ImageFormat::Webp:
      return ".webp";
    case ImageFormat::Bmp:
      return ".bmp";
    case ImageFormat::Unknown:
      break;
  }
  return "";
}

// What a file with no known signature probably is, so the message can say what to do.
inline std::string unknown_signature_problem(const unsigned char* b, std::size_t n,
                                             ImageFormat by_extension, std::uint64_t file_size) {
  const char* guess = nullptr;
  if (n >= 6 && (std::memcmp(b, "GIF87a", 6) == 0 || std::memcmp(b, "GIF89a", 6) == 0))
    guess = "a GIF image, which training does not read; convert it to PNG";
  else if (n >= 4 && (std::memcmp(b, "II*\0", 4) == 0 || std::memcmp(b, "MM\0*", 4) == 0))
    guess = "a TIFF image, which training does not read; convert it to PNG";
  else if (n >= 12 && std::memcmp(b + 4, "ftyp", 4) == 0)
    guess = "an AVIF/HEIC image, which training does not read; convert it to PNG or JPEG";
  else if (n >= 1 && (b[0] == '<' || b[0] == '{'))
    guess = "text (HTML/XML/JSON), probably a failed download; download the image again";
  const std::string what = by_extension == ImageFormat::Unknown
                               ? std::string("not a PNG, JPEG, WebP or BMP file")
                               : fmt::format("not a {} file", image_format_name(by_extension));
  std::string hex;
  for (std::size_t i = 0; i < std::min<std::size_t>(n, 4); ++i) hex += fmt::format("{:02X} ", b[i]);
  if (!hex.empty()) hex.pop_back();
  if (guess) return fmt::format("{}: it looks like {}", what, guess);
  return fmt::format("{}: unknown signature (starts with {}, {} bytes)", what, hex, file_size);
}

}  // namespace lathe
