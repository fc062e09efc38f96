// Image size from file headers, without decoding pixels: PNG, JPEG (with EXIF orientation),
// WebP (VP8, VP8L, VP8X), BMP. This is what keeps the audit interactive on 100k images.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace lathe {

enum class ImageFormat { Unknown, Png, Jpeg, Webp, Bmp };

const char* image_format_name(ImageFormat f);

struct ImageInfo {
  ImageFormat format = ImageFormat::Unknown;
  int width = 0;   // as displayed: EXIF orientations 5-8 swap the stored width and height
  int height = 0;
  int exif_orientation = 1;  // 1..8, 1 when absent
  std::uint64_t file_size = 0;
  bool ok = false;            // header read and sane
  std::string problem;        // when !ok: "zero-byte file", "not a PNG: bad signature", ...
  // The content is another format than the extension says (a JPEG named .png). The size is
  // still read, so `ok` stays true and `problem` says what is off: a warning, not a broken file.
  bool extension_mismatch = false;
};

// Reads the header bytes and the file's last few KB (a file cut short is found here, not only
// by decoding; the whole file is read only when its end is unusual). Never throws for a bad
// image: `ok` is false and `problem` says why (unreadable, zero bytes, truncated header or
// file, unknown format, extension mismatch...).
ImageInfo read_image_header(const std::filesystem::path& path);

// Fully decodes the image with OpenCV (the audit's --deep): empty string when it decodes,
// otherwise what went wrong (truncated data, corrupt stream, decoder error).
std::string decode_check(const std::filesystem::path& path);

bool is_image_extension(const std::filesystem::path& path);  // case-insensitive

// The format an extension names (".JPG" -> Jpeg), Unknown for anything else.
ImageFormat image_format_from_extension(const std::filesystem::path& path);

// The format the first bytes show (signature only, at least 12 bytes for WebP).
ImageFormat sniff_image_format(const unsigned char* bytes, std::size_t size);

// Images wider or taller than this are reported as absurd (JPEG's own limit; PIL and OpenCV
// refuse far smaller pixel counts by default).
constexpr int kMaxImageSide = 65535;

}  // namespace lathe
