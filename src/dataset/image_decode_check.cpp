// The audit's --deep check: the container must be complete (PNG reaches IEND with sound chunks,
// JPEG ends its scans with EOI, the WebP RIFF size matches the file, a BMP holds its pixel
// array) and OpenCV must decode the pixels. The structural checks come first because decoders
// happily return a half-grey image for a file cut short, which then trains as garbage.
#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>

#include "common/error.h"
#include "dataset/image_bytes.h"
#include "dataset/image_header.h"
#include "io/atomic_file.h"

namespace lathe {
namespace {

using Bytes = const unsigned char*;

constexpr double kMaxDecodeMegapixels = 178.0;  // PIL's DecompressionBombError threshold

std::string check_png(Bytes b, std::size_t n) {
  std::size_t pos = 8;
  while (true) {
    if (pos + 8 > n)
      return fmt::format("truncated PNG: the file ends at byte {} without an IEND chunk", n);
    std::uint32_t len = be32(b + pos);
    std::string type = printable(b + pos + 4, 4);
    if (len > 0x7fffffffu)
      return fmt::format("corrupt PNG: chunk '{}' at byte {} has length {}", type, pos, len);
    if (pos + 12 + std::size_t(len) > n)
      return fmt::format("truncated PNG: chunk '{}' at byte {} needs {} bytes, the file ends at {}",
                         type, pos, len + 12, n);
    uLong crc = crc32(0L, b + pos + 4, len + 4);
    if (crc != be32(b + pos + 8 + len))
      return fmt::format("corrupt PNG: CRC mismatch in chunk '{}' at byte {}", type, pos);
    if (type == "IEND") return {};
    pos += 12 + std::size_t(len);
  }
}

// Walks marker segments and entropy-coded scans until EOI. Progressive JPEGs have several
// scans with tables between them, so after each scan the walk goes on.
std::string check_jpeg(Bytes b, std::size_t n) {
  std::size_t pos = 2;
  bool in_scan_data = false;
  bool saw_scan = false;
  while (pos < n) {
    if (in_scan_data) {
      const void* ff = std::memchr(b + pos, 0xFF, n - pos);
      if (!ff) break;
      pos = static_cast<std::size_t>(static_cast<Bytes>(ff) - b);
      if (pos + 1 >= n) break;
      unsigned next = b[pos + 1];
      if (next == 0x00 || next == 0xFF || (next >= 0xD0 && next <= 0xD7)) {
        pos += next == 0xFF ? 1 : 2;  // stuffed byte, fill byte or restart marker
        continue;
      }
      in_scan_data = false;
      continue;
    }
    if (b[pos] != 0xFF) return fmt::format("corrupt JPEG: no marker at byte {}", pos);
    if (pos + 1 >= n) break;
    unsigned marker = b[pos + 1];
    if (marker == 0xFF) {
      ++pos;
      continue;
    }
    pos += 2;
    if (marker == 0xD9) {
      if (!saw_scan) return "corrupt JPEG: end-of-image marker before any scan data";
      return {};
    }
    if (marker == 0x01 || marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7)) continue;
    if (pos + 2 > n) break;
    unsigned len = be16(b + pos);
    if (len < 2)
      return fmt::format("corrupt JPEG: marker segment at byte {} has length {}", pos - 2, len);
    if (pos + len > n) break;
    pos += len;
    if (marker == 0xDA) in_scan_data = saw_scan = true;
  }
  return fmt::format(
      "truncated JPEG: no end-of-image marker (FFD9) {}; the file is cut short at {} bytes",
      saw_scan ? "after the scan data" : "and no scan data", n);
}

std::string check_webp(Bytes b, std::size_t n) {
  if (n < 12) return "truncated WebP: the RIFF header is cut short";
  std::uint64_t riff = std::uint64_t(le32(b + 4)) + 8;
  if (riff > n)
    return fmt::format("truncated WebP: the RIFF header says {} bytes, the file has {}", riff, n);
  if (riff < n)
    return fmt::format(
        "corrupt WebP: the RIFF header says {} bytes but the file has {} ({} bytes "
        "of trailing data)",
        riff, n, n - riff);
  return {};
}

std::string check_bmp(Bytes b, std::size_t n) {
  if (n < 26) return "truncated BMP: the header is cut short";
  std::uint64_t offset = le32(b + 10);
  std::uint32_t dib = le32(b + 14);
  std::uint64_t width, height, bpp, pixel_bytes = 0;
  std::uint32_t compression = 0;
  if (dib == 12) {
    width = le16(b + 18);
    height = le16(b + 20);
    bpp = le16(b + 24);
  } else {
    if (n < 38) return "truncated BMP: the info header is cut short";
    auto h = static_cast<std::int32_t>(le32(b + 22));
    width = le32(b + 18);
    height = static_cast<std::uint64_t>(h < 0 ? -std::int64_t(h) : h);
    bpp = le16(b + 28);
    compression = le32(b + 30);
    pixel_bytes = le32(b + 34);
  }
  if (compression == 0 || compression == 3 || compression == 6) {
    pixel_bytes = (width * bpp + 31) / 32 * 4 * height;  // rows padded to 4 bytes
  }
  if (offset + pixel_bytes > n)
    return fmt::format("truncated BMP: the pixel data needs {} bytes from byte {}, the file has {}",
                       pixel_bytes, offset, n);
  return {};
}

}  // namespace

std::string decode_check(const std::filesystem::path& path) {
  std::string data;
  try {
    data = read_file(path, std::size_t(1) << 30);
  } catch (const Error& e) {
    return e.what();
  }
  if (data.empty()) return "zero-byte file";
  auto b = reinterpret_cast<Bytes>(data.data());
  const std::size_t n = data.size();
  const ImageFormat format = sniff_image_format(b, n);
  std::string problem;
  switch (format) {
    case ImageFormat::Png:
      problem = check_png(b, n);
      break;
    case ImageFormat::Jpeg:
      problem = check_jpeg(b, n);
      break;
    case ImageFormat::Webp:
      problem = check_webp(b, n);
      break;
    case ImageFormat::Bmp:
      problem = check_bmp(b, n);
      break;
    case ImageFormat::Unknown:
      return unknown_signature_problem(b, n, image_format_from_extension(path), n);
  }
  if (!problem.empty()) return problem;

  const ImageInfo header = read_image_header(path);
  if (!header.ok) return header.problem;
  // Decoding allocates width x height x channels; refuse what would take gigabytes (PIL
  // refuses such "decompression bombs" too, so training could not load it either).
  const double megapixels = double(header.width) * header.height / 1e6;
  if (megapixels > kMaxDecodeMegapixels)
    return fmt::format("the image is {}x{} ({:.0f} megapixels), too large to decode; resize it",
                       header.width, header.height, megapixels);
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
                       image_format_name(format));
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
