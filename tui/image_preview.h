// The image preview of the Dataset screen. The image is read with OpenCV and resized
// (area interpolation, aspect kept) to the preview box: with Unicode and 256 or more colours
// each cell shows two pixels as an upper half block (foreground = top pixel, background =
// bottom pixel), in truecolor on a direct-colour terminal; with 8 colours, or without UTF-8
// but with colour, each cell is one pixel of background colour; without colour, one
// character of a brightness ramp. The header is read first: an image cut short or over the
// decode limit shows why instead of being decoded. render_preview is pure (tests);
// ImagePreview caches the last image so a redraw does not decode again.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "tui/layout.h"

namespace cv {
class Mat;
}

namespace lathe::tui {

class Canvas;

struct PreviewCells {
  int cols = 0, rows = 0;
  bool half_blocks = false;
  std::vector<std::uint32_t> top;     // 0xRRGGBB per cell (the whole cell without half blocks)
  std::vector<std::uint32_t> bottom;  // half blocks: the lower pixel
  std::vector<bool> inside;           // the cell shows the image (else background)
};

// Fits `bgr` (8-bit, 3 channels) into cols x rows cells, centred.
PreviewCells render_preview(const cv::Mat& bgr, int cols, int rows, bool half_blocks);

// Why `path` is not previewed, from its header (unreadable, cut short, or over the decode
// size limit that training and the audit use: a small PNG can claim 30000x30000 pixels) and,
// for a JPEG, libjpeg's check of its compressed data (whose warnings would otherwise be
// printed over the TUI's screen); empty when it may be decoded.
std::string preview_problem(const std::filesystem::path& path);

// A brightness ramp character for the monochrome preview.
char ramp_char(std::uint32_t rgb);

class ImagePreview {
 public:
  // Draws `path` into `box` (reloading only when the path or the box changed). Shows a short
  // message instead when the image cannot be read.
  void draw(Canvas& canvas, const Rect& box, const std::filesystem::path& path);

 private:
  std::filesystem::path path_;
  Rect box_;
  bool half_ = false;
  PreviewCells cells_;
  std::string error_;
};

}  // namespace lathe::tui
