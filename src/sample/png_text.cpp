// PNG text chunks (see png_text.h). OpenCV encodes the pixels; the chunks are spliced in by
// hand (length, type, data, CRC-32 over type and data: PNG spec section 5.3), since OpenCV
// writes no text.
#include "sample/png_text.h"

#include <fmt/format.h>
#include <zlib.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cstdint>
#include <optional>

#include "common/error.h"

namespace lathe {
namespace {

constexpr std::string_view kSignature("\x89PNG\r\n\x1a\n", 8);

std::uint32_t read_u32(std::string_view bytes, std::size_t at) {
  auto b = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at + i])); };
  return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}

void append_u32(std::string& out, std::uint32_t v) {
  for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

std::string chunk(std::string_view type, std::string_view data) {
  std::string out;
  append_u32(out, static_cast<std::uint32_t>(data.size()));
  std::string body(type);
  body += data;
  out += body;
  append_u32(out, static_cast<std::uint32_t>(
                      crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()))));
  return out;
}

// UTF-8 as Latin-1 bytes, or nullopt when a character is above U+00FF or the UTF-8 is invalid
// (Pillow's add_text falls back to iTXt exactly then).
std::optional<std::string> utf8_to_latin1(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if ((c == 0xc2 || c == 0xc3) && i + 1 < s.size() &&
               (static_cast<unsigned char>(s[i + 1]) & 0xc0) == 0x80) {
      out.push_back(static_cast<char>(((c & 0x1f) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3f)));
      ++i;
    } else {
      return std::nullopt;
    }
  }
  return out;
}

std::string latin1_to_utf8(std::string_view s) {
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out.push_back(ch);
    } else {
      out.push_back(static_cast<char>(0xc0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
    }
  }
  return out;
}

std::string text_chunk(const std::string& keyword, const std::string& text) {
  auto key = utf8_to_latin1(keyword);
  if (!key || key->empty() || key->size() > 79 || key->find('\0') != std::string::npos)
    throw Error(fmt::format("PNG text keyword '{}': must be 1-79 Latin-1 characters", keyword));
  if (auto latin1 = utf8_to_latin1(text); latin1 && latin1->find('\0') == std::string::npos)
    return chunk("tEXt", *key + '\0' + *latin1);
  // iTXt: keyword, NUL, compression flag 0, method 0, empty language tag, NUL, empty
  // translated keyword, NUL, UTF-8 text.
  std::string data = *key;
  data += std::string("\0\0\0\0\0", 5);
  data += text;
  return chunk("iTXt", data);
}

}  // namespace

std::string insert_png_texts(std::string_view png, const PngTexts& texts) {
  if (png.substr(0, kSignature.size()) != kSignature) throw Error("inserting PNG text: the bytes are not a PNG");
  std::size_t at = kSignature.size();
  while (at + 8 <= png.size()) {
    const std::uint32_t length = read_u32(png, at);
    if (png.substr(at + 4, 4) == "IDAT") {
      std::string out(png.substr(0, at));
      for (const auto& [keyword, text] : texts) out += text_chunk(keyword, text);
      out += png.substr(at);
      return out;
    }
    at += 12 + std::size_t{length};
  }
  throw Error("inserting PNG text: the PNG has no image data (IDAT)");
}

std::string encode_png(const cv::Mat& rgb, const PngTexts& texts) {
  if (rgb.empty() || rgb.type() != CV_8UC3) throw Error("encoding PNG: the image must be 8-bit RGB");
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  std::vector<uchar> bytes;
  if (!cv::imencode(".png", bgr, bytes)) throw Error("encoding PNG: OpenCV could not encode the image");
  return insert_png_texts(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), texts);
}

PngTexts read_png_texts(std::string_view png, const std::string& source) {
  if (png.substr(0, kSignature.size()) != kSignature) throw Error(fmt::format("{}: not a PNG file", source));
  PngTexts out;
  std::size_t at = kSignature.size();
  while (at + 8 <= png.size()) {
    const std::size_t length = read_u32(png, at);
    const std::string_view type = png.substr(at + 4, 4);
    if (at + 12 > png.size() || length > png.size() - at - 12)
      throw Error(fmt::format("{}: PNG chunk '{}' runs past the end of the file (cut short?)", source, type));
    const std::string_view data = png.substr(at + 8, length);
    const std::size_t nul = data.find('\0');
    if (type == "tEXt" && nul != std::string_view::npos) {
      out.emplace_back(latin1_to_utf8(data.substr(0, nul)), latin1_to_utf8(data.substr(nul + 1)));
    } else if (type == "iTXt" && nul != std::string_view::npos && nul + 2 < data.size() && data[nul + 1] == 0) {
      // Skip the compression flag and method, then the language tag and translated keyword.
      std::size_t lang_end = data.find('\0', nul + 3);
      std::size_t translated_end = lang_end == std::string_view::npos ? lang_end : data.find('\0', lang_end + 1);
      if (translated_end != std::string_view::npos)
        out.emplace_back(latin1_to_utf8(data.substr(0, nul)), std::string(data.substr(translated_end + 1)));
    }
    if (type == "IEND") break;
    at += 12 + length;
  }
  return out;
}

}  // namespace lathe
