// PNG files with text chunks, as Pillow writes them for A1111 (PngInfo.add_text): a tEXt chunk
// when the text is Latin-1, else an uncompressed iTXt chunk in UTF-8, placed after IHDR and
// before the first IDAT. Readers (A1111's PNG Info tab, ComfyUI, exiftool) find them by keyword.
#pragma once

#include <opencv2/core.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lathe {

// (keyword, UTF-8 text); keywords are 1-79 Latin-1 characters (the PNG rule).
using PngTexts = std::vector<std::pair<std::string, std::string>>;

// Encodes an 8-bit RGB image (CV_8UC3, channels in RGB order) as PNG bytes with `texts`.
// Throws lathe::Error when the image is not 8-bit 3-channel or a keyword is invalid.
std::string encode_png(const cv::Mat& rgb, const PngTexts& texts = {});

// `png` (a whole PNG file) with text chunks inserted before its first IDAT.
std::string insert_png_texts(std::string_view png, const PngTexts& texts);

// The tEXt and uncompressed iTXt chunks of a PNG file, in file order, as UTF-8. Compressed
// text (zTXt, compressed iTXt) is skipped. Throws lathe::Error naming `source` when the bytes
// are not a PNG or a chunk runs past the end.
PngTexts read_png_texts(std::string_view png, const std::string& source);

}  // namespace lathe
