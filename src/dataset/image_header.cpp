// Image sizes from the first bytes of a file (PNG IHDR, JPEG SOFn + EXIF orientation, WebP
// VP8/VP8L/VP8X, BMP info header), so a 100k-image audit reads a few KB per image instead of
// decoding pixels, plus the file's last bytes to tell a file cut short (image_container.h).
// Every problem becomes ImageInfo::problem; nothing here throws for a bad file. The --deep
// check (decode_check) lives in image_decode_check.cpp.
#include "dataset/image_header.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "dataset/image_bytes.h"
#include "dataset/image_container.h"

namespace lathe {
namespace {

// Reads windows of a file on demand: most headers fit the first 4 KB; a JPEG with a large
// EXIF or ICC segment before its frame header needs a few more reads, never the whole file.
class HeaderReader {
 public:
  HeaderReader(int fd, std::uint64_t size) : fd_(fd), size_(size) {}

  // n bytes at offset, or nullptr when the file ends first (or a read fails).
  const unsigned char* at(std::uint64_t offset, std::size_t n) {
    if (offset + n > size_) return nullptr;
    if (offset >= start_ && offset + n <= start_ + buf_.size())
      return buf_.data() + (offset - start_);
    std::size_t want = std::max<std::size_t>(n, kWindow);
    want = static_cast<std::size_t>(std::min<std::uint64_t>(want, size_ - offset));
    buf_.resize(want);
    std::size_t got = 0;
    while (got < want) {
      ssize_t r = ::pread(fd_, buf_.data() + got, want - got, static_cast<off_t>(offset + got));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      got += static_cast<std::size_t>(r);
    }
    buf_.resize(got);
    start_ = offset;
    return got >= n ? buf_.data() : nullptr;
  }

 private:
  static constexpr std::size_t kWindow = 4096;
  int fd_;
  std::uint64_t size_;
  std::uint64_t start_ = 0;
  std::vector<unsigned char> buf_;
};

struct Size {
  int width = 0;
  int height = 0;
  int orientation = 1;
  std::string problem;  // set when the header could not be read
};

Size fail(std::string problem) {
  Size s;
  s.problem = std::move(problem);
  return s;
}

Size read_png(HeaderReader& r) {
  // 8-byte signature, then the IHDR chunk: length, "IHDR", width, height (big-endian).
  const unsigned char* b = r.at(0, 24);
  if (!b) return fail("truncated PNG header: the file ends before the IHDR chunk");
  if (std::memcmp(b + 12, "IHDR", 4) != 0) return fail("corrupt PNG: the first chunk is not IHDR");
  Size s;
  s.width = static_cast<int>(std::min<std::uint32_t>(be32(b + 16), 0x7fffffff));
  s.height = static_cast<int>(std::min<std::uint32_t>(be32(b + 20), 0x7fffffff));
  return s;
}

// EXIF orientation (tag 0x0112 in IFD0) from an APP1 payload that starts with "Exif\0\0".
int exif_orientation(const unsigned char* seg, std::size_t len) {
  if (len < 6 + 8 || std::memcmp(seg, "Exif\0\0", 6) != 0) return 1;
  const unsigned char* tiff = seg + 6;
  std::size_t n = len - 6;
  bool little;
  if (tiff[0] == 'I' && tiff[1] == 'I')
    little = true;
  else if (tiff[0] == 'M' && tiff[1] == 'M')
    little = false;
  else
    return 1;
  auto u16 = [&](std::size_t o) { return little ? le16(tiff + o) : be16(tiff + o); };
  auto u32 = [&](std::size_t o) { return little ? le32(tiff + o) : be32(tiff + o); };
  if (u16(2) != 42) return 1;
  std::uint64_t ifd = u32(4);
  if (ifd + 2 > n) return 1;
  unsigned entries = u16(ifd);
  for (unsigned i = 0; i < entries; ++i) {
    std::uint64_t e = ifd + 2 + 12ull * i;
    if (e + 12 > n) break;
    if (u16(e) != 0x0112) continue;
    if (u16(e + 2) != 3) return 1;  // orientation is a SHORT; anything else is malformed
    unsigned v = u16(e + 8);
    return v >= 1 && v <= 8 ? static_cast<int>(v) : 1;
  }
  return 1;
}

bool is_sof_marker(unsigned m) {
  return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

Size read_jpeg(HeaderReader& r) {
  // Walk the marker segments after SOI up to the frame header (SOFn); pick up the EXIF
  // orientation on the way, since it decides the displayed width and height.
  int orientation = 1;
  bool exif_seen = false;
  std::uint64_t pos = 2;
  while (true) {
    const unsigned char* m = r.at(pos, 2);
    if (!m) return fail("truncated JPEG header: the file ends before the frame header (SOF)");
    if (m[0] != 0xFF) return fail(fmt::format("corrupt JPEG: no marker at byte {}", pos));
    unsigned marker = m[1];
    if (marker == 0xFF) {  // fill byte before a marker
      ++pos;
      continue;
    }
    pos += 2;
    if (marker == 0x01 || marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7)) continue;
    if (marker == 0xD9) return fail("corrupt JPEG: end-of-image marker before any frame header");
    if (marker == 0xDA) return fail("corrupt JPEG: scan data before any frame header");
    const unsigned char* l = r.at(pos, 2);
    if (!l) return fail("truncated JPEG header: the file ends inside a marker segment");
    unsigned len = be16(l);
    if (len < 2)
      return fail(
          fmt::format("corrupt JPEG: marker segment at byte {} has length {}", pos - 2, len));
    if (is_sof_marker(marker)) {
      const unsigned char* f = r.at(pos + 2, 5);
      if (!f || len < 7) return fail("truncated JPEG header: the frame header is cut short");
      Size s;
      s.height = be16(f + 1);
      s.width = be16(f + 3);
      s.orientation = orientation;
      return s;
    }
    if (marker == 0xE1 && !exif_seen && len >= 2 + 14) {
      // APP1 is also used for XMP; fetch the whole segment (up to 64 KB) only for EXIF.
      const unsigned char* sig = r.at(pos + 2, 6);
      if (sig && std::memcmp(sig, "Exif\0\0", 6) == 0) {
        const unsigned char* seg = r.at(pos + 2, len - 2);
        if (!seg) return fail("truncated JPEG header: the file ends inside the EXIF segment");
        exif_seen = true;
        orientation = exif_orientation(seg, len - 2);
      }
    }
    pos += len;
  }
}

Size read_webp(HeaderReader& r) {
  // RIFF <size> WEBP, then the first chunk: VP8 (lossy), VP8L (lossless) or VP8X (extended).
  const unsigned char* b = r.at(0, 30);
  if (!b) return fail("truncated WebP header: the file ends before the image size");
  Size s;
  if (std::memcmp(b + 12, "VP8 ", 4) == 0) {
    if (b[23] != 0x9D || b[24] != 0x01 || b[25] != 0x2A)
      return fail("corrupt WebP: VP8 frame has no start code");
    s.width = le16(b + 26) & 0x3FFF;
    s.height = le16(b + 28) & 0x3FFF;
  } else if (std::memcmp(b + 12, "VP8L", 4) == 0) {
    if (b[20] != 0x2F) return fail("corrupt WebP: VP8L stream has a bad signature byte");
    std::uint32_t bits = le32(b + 21);
    s.width = static_cast<int>(bits & 0x3FFF) + 1;
    s.height = static_cast<int>((bits >> 14) & 0x3FFF) + 1;
  } else if (std::memcmp(b + 12, "VP8X", 4) == 0) {
    s.width = static_cast<int>(le24(b + 24)) + 1;
    s.height = static_cast<int>(le24(b + 27)) + 1;
  } else {
    return fail(fmt::format("corrupt WebP: unknown first chunk '{}'", printable(b + 12, 4)));
  }
  return s;
}

Size read_bmp(HeaderReader& r) {
  // BITMAPFILEHEADER (14 bytes), then the DIB header; its size tells the variant.
  const unsigned char* b = r.at(0, 26);
  if (!b) return fail("truncated BMP header: the file ends before the image size");
  std::uint32_t dib = le32(b + 14);
  Size s;
  if (dib == 12) {  // BITMAPCOREHEADER: 16-bit unsigned sizes
    s.width = le16(b + 18);
    s.height = le16(b + 20);
    return s;
  }
  if (dib < 16) return fail(fmt::format("corrupt BMP: unknown info header size {}", dib));
  auto w = static_cast<std::int32_t>(le32(b + 18));
  auto h = static_cast<std::int32_t>(le32(b + 22));
  if (w <= 0) return fail(fmt::format("corrupt BMP: width {} in the header", w));
  if (h == INT32_MIN) return fail("corrupt BMP: height out of range");
  s.width = w;
  s.height = h < 0 ? -h : h;  // negative height: rows stored top-down
  return s;
}

std::string os_error(int err) {
  return std::strerror(err);
}

// The whole file, for the full container walk; empty when it cannot be read or is over 1 GiB
// (no image Lathe can decode is that large).
std::string read_whole(int fd, std::uint64_t size) {
  if (size > (std::uint64_t(1) << 30)) return {};
  std::string data(static_cast<std::size_t>(size), '\0');
  std::size_t got = 0;
  while (got < data.size()) {
    ssize_t r = ::pread(fd, data.data() + got, data.size() - got, static_cast<off_t>(got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return {};
    got += static_cast<std::size_t>(r);
  }
  return data;
}

// Whether the file is complete (image_container.h): one small read of its last bytes; the
// whole file is read only when its end is not what the format ends with (a file cut short, or
// data after the image such as a phone's motion-photo video).
std::string end_problem(HeaderReader& r, int fd, ImageFormat format, std::uint64_t size) {
  const std::size_t head_n = static_cast<std::size_t>(std::min<std::uint64_t>(size, 64));
  const unsigned char* h = r.at(0, head_n);
  if (!h) return {};
  const std::vector<unsigned char> head(h, h + head_n);  // the next read reuses the buffer
  const std::size_t tail_n = static_cast<std::size_t>(std::min<std::uint64_t>(size, kEndCheckBytes));
  const unsigned char* tail = r.at(size - tail_n, tail_n);
  if (!tail) return {};
  EndCheck end = check_image_end(format, head.data(), head_n, tail, tail_n, size);
  if (end.verdict != EndVerdict::Unsure) return end.problem;
  const std::string all = read_whole(fd, size);
  if (all.empty()) return {};
  return container_problem(reinterpret_cast<const unsigned char*>(all.data()), all.size());
}

}  // namespace

const char* image_format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::Png:
      return "PNG";
    case ImageFormat::Jpeg:
      return "JPEG";
    case ImageFormat::Webp:
      return "WebP";
    case ImageFormat::Bmp:
      return "BMP";
    case ImageFormat::Unknown:
      break;
  }
  return "unknown";
}

ImageFormat image_format_from_extension(const std::filesystem::path& path) {
  const std::string& s = path.native();
  std::size_t dot = s.rfind('.');
  std::size_t slash = s.rfind('/');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash))
    return ImageFormat::Unknown;
  std::string ext;
  for (std::size_t i = dot + 1; i < s.size() && ext.size() < 5; ++i)
    ext += static_cast<char>(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
  if (dot + 1 + ext.size() != s.size()) return ImageFormat::Unknown;
  if (ext == "png") return ImageFormat::Png;
  if (ext == "jpg" || ext == "jpeg") return ImageFormat::Jpeg;
  if (ext == "webp") return ImageFormat::Webp;
  if (ext == "bmp") return ImageFormat::Bmp;
  return ImageFormat::Unknown;
}

bool is_image_extension(const std::filesystem::path& path) {
  return image_format_from_extension(path) != ImageFormat::Unknown;
}

ImageFormat sniff_image_format(const unsigned char* b, std::size_t n) {
  if (n >= 8 && std::memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0) return ImageFormat::Png;
  if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return ImageFormat::Jpeg;
  if (n >= 12 && std::memcmp(b, "RIFF", 4) == 0 && std::memcmp(b + 8, "WEBP", 4) == 0)
    return ImageFormat::Webp;
  if (n >= 2 && b[0] == 'B' && b[1] == 'M') return ImageFormat::Bmp;
  return ImageFormat::Unknown;
}

ImageInfo read_image_header(const std::filesystem::path& path) {
  ImageInfo info;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    info.problem = fmt::format("cannot read: {}", os_error(errno));
    return info;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    info.problem = fmt::format("cannot read: {}", os_error(errno));
    ::close(fd);
    return info;
  }
  if (!S_ISREG(st.st_mode)) {
    info.problem = "not a regular file";
    ::close(fd);
    return info;
  }
  info.file_size = static_cast<std::uint64_t>(st.st_size);
  if (info.file_size == 0) {
    info.problem = "zero-byte file";
    ::close(fd);
    return info;
  }
  HeaderReader reader(fd, info.file_size);
  errno = 0;
  const std::size_t head_len =
      static_cast<std::size_t>(std::min<std::uint64_t>(info.file_size, 16));
  const unsigned char* head = reader.at(0, head_len);
  if (!head) {
    info.problem = fmt::format("cannot read: {}", errno ? os_error(errno) : "short read");
    ::close(fd);
    return info;
  }
  info.format = sniff_image_format(head, head_len);
  const ImageFormat by_ext = image_format_from_extension(path);
  if (info.format == ImageFormat::Unknown) {
    info.problem = unknown_signature_problem(head, head_len, by_ext, info.file_size);
    ::close(fd);
    return info;
  }

  Size size;
  switch (info.format) {
    case ImageFormat::Png:
      size = read_png(reader);
      break;
    case ImageFormat::Jpeg:
      size = read_jpeg(reader);
      break;
    case ImageFormat::Webp:
      size = read_webp(reader);
      break;
    case ImageFormat::Bmp:
      size = read_bmp(reader);
      break;
    case ImageFormat::Unknown:
      break;
  }
  if (!size.problem.empty()) {
    ::close(fd);
    info.problem = std::move(size.problem);
    return info;
  }
  if (size.width <= 0 || size.height <= 0 || size.width > kMaxImageSide ||
      size.height > kMaxImageSide) {
    ::close(fd);
    info.problem = fmt::format("absurd size {}x{} in the {} header (corrupt file?)", size.width,
                               size.height, image_format_name(info.format));
    return info;
  }
  // A file cut short has an intact header; decoders fill the missing rows with grey and at
  // most warn, so the end of the file is checked here, for every audit and every training.
  std::string end = end_problem(reader, fd, info.format, info.file_size);
  ::close(fd);
  if (!end.empty()) {
    info.problem = std::move(end);
    return info;
  }
  info.exif_orientation = size.orientation;
  const bool swap = size.orientation >= 5;
  info.width = swap ? size.height : size.width;
  info.height = swap ? size.width : size.height;
  info.ok = true;
  if (by_ext != ImageFormat::Unknown && by_ext != info.format) {
    info.extension_mismatch = true;
    info.problem = fmt::format("the extension says {} but the content is {}; rename it to {}",
                               image_format_name(by_ext), image_format_name(info.format),
                               preferred_extension(info.format));
  }
  return info;
}

}  // namespace lathe
