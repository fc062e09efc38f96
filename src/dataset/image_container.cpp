// Completeness checks of image containers (see image_container.h). The full walk reads every
// byte once (memchr over JPEG scan data, zlib's CRC over PNG chunks), so it is far cheaper than
// decoding; the end check reads only the last few KB the header reader fetched.
#include "dataset/image_container.h"

#include <fmt/format.h>
#include <zlib.h>

#include <cstring>

#include "dataset/image_bytes.h"

namespace lathe {
namespace {

using Bytes = const unsigned char*;

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

std::string check_webp(Bytes b, std::size_t head, std::uint64_t n) {
  if (head < 12) return "truncated WebP: the RIFF header is cut short";
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

// Needs the first 38 bytes (26 for the OS/2 core header) and the file size only.
std::string check_bmp(Bytes b, std::size_t head, std::uint64_t n) {
  if (head < 26) return "truncated BMP: the header is cut short";
  std::uint64_t offset = le32(b + 10);
  std::uint32_t dib = le32(b + 14);
  std::uint64_t width, height, bpp, pixel_bytes = 0;
  std::uint32_t compression = 0;
  if (dib == 12) {
    width = le16(b + 18);
    height = le16(b + 20);
    bpp = le16(b + 24);
  } else {
    if (head < 38) return "truncated BMP: the info header is cut short";
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

// A JPEG ends with EOI (FF D9); writers and copy tools may pad after it with 00 or FF bytes.
EndCheck jpeg_end(Bytes tail, std::size_t n, std::uint64_t file_size) {
  std::size_t end = n;
  while (end > 0 && (tail[end - 1] == 0x00 || tail[end - 1] == 0xFF)) --end;
  if (end >= 2 && tail[end - 2] == 0xFF && tail[end - 1] == 0xD9) return {};
  // The scan data of a file cut short runs to the last byte; data after a real EOI (motion
  // photos, maker trailers) looks the same from here, so only the full walk can tell.
  return {EndVerdict::Unsure,
          fmt::format("truncated JPEG: no end-of-image marker (FFD9); the file is cut short at "
                      "{} bytes",
                      file_size)};
}

EndCheck png_end(Bytes tail, std::size_t n, std::uint64_t file_size) {
  static const unsigned char kIend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};
  if (n >= 12 && std::memcmp(tail + n - 12, kIend, 12) == 0) return {};
  return {EndVerdict::Unsure,
          fmt::format("truncated PNG: the file ends at byte {} without an IEND chunk", file_size)};
}

EndCheck verdict_of(std::string problem) {
  if (problem.empty()) return {};
  return {EndVerdict::Broken, std::move(problem)};
}

}  // namespace

std::string container_problem(const unsigned char* b, std::size_t n, ImageFormat by_extension) {
  if (n == 0) return "zero-byte file";
  switch (sniff_image_format(b, n)) {
    case ImageFormat::Png:
      return check_png(b, n);
    case ImageFormat::Jpeg:
      return check_jpeg(b, n);
    case ImageFormat::Webp:
      return check_webp(b, n, n);
    case ImageFormat::Bmp:
      return check_bmp(b, n, n);
    case ImageFormat::Unknown:
      break;
  }
  return unknown_signature_problem(b, n, by_extension, n);
}

EndCheck check_image_end(ImageFormat format, const unsigned char* head, std::size_t head_size,
                         const unsigned char* tail, std::size_t tail_size,
                         std::uint64_t file_size) {
  switch (format) {
    case ImageFormat::Png:
      return png_end(tail, tail_size, file_size);
    case ImageFormat::Jpeg:
      return jpeg_end(tail, tail_size, file_size);
    case ImageFormat::Webp:
      return verdict_of(check_webp(head, head_size, file_size));
    case ImageFormat::Bmp:
      return verdict_of(check_bmp(head, head_size, file_size));
    case ImageFormat::Unknown:
      break;
  }
  return {};
}

}  // namespace lathe
