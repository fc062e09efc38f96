// Terminal image preview (see image_preview.h).
#include "tui/image_preview.h"

#include <algorithm>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "dataset/decode_limit.h"
#include "common/error.h"
#include "dataset/image_header.h"
#include "dataset/jpeg_data_check.h"
#include "io/atomic_file.h"
#include "tui/canvas.h"

namespace lathe::tui {

namespace {

std::uint32_t pixel(const cv::Mat& m, int y, int x) {
  const auto& p = m.at<cv::Vec3b>(y, x);  // BGR
  return (std::uint32_t(p[2]) << 16) | (std::uint32_t(p[1]) << 8) | p[0];
}

}  // namespace

std::string preview_problem(const std::filesystem::path& path) {
  const ImageInfo header = read_image_header(path);
  if (!header.ok) return header.problem;
  if (std::string too_large = decode_size_problem(header); !too_large.empty()) return too_large;
  if (header.format != ImageFormat::Jpeg) return {};
  try {
    const std::string bytes = read_file(path, std::size_t(1) << 30);
    return jpeg_data_problem(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  } catch (const Error& e) {
    return e.what();
  }
}

char ramp_char(std::uint32_t rgb) {
  static const char kRamp[] = " .:-=+*#%@";
  int r = (rgb >> 16) & 255, g = (rgb >> 8) & 255, b = rgb & 255;
  int lum = (299 * r + 587 * g + 114 * b) / 1000;  // 0..255
  return kRamp[lum * 9 / 255];
}

PreviewCells render_preview(const cv::Mat& bgr, int cols, int rows, bool half_blocks) {
  PreviewCells out;
  out.cols = std::max(cols, 0);
  out.rows = std::max(rows, 0);
  out.half_blocks = half_blocks;
  std::size_t n = static_cast<std::size_t>(out.cols) * out.rows;
  out.top.assign(n, 0);
  out.bottom.assign(n, 0);
  out.inside.assign(n, false);
  if (n == 0 || bgr.empty()) return out;
  // A cell is about twice as tall as wide: a half block is a square pixel, a whole cell a
  // 1:2 one.
  double cell_aspect = half_blocks ? 1.0 : 2.0;
  int grid_h = half_blocks ? out.rows * 2 : out.rows;
  double img_aspect = static_cast<double>(bgr.cols) / bgr.rows;
  int dw = out.cols;
  int dh = static_cast<int>(dw / img_aspect / cell_aspect + 0.5);
  if (dh > grid_h) {
    dh = grid_h;
    dw = static_cast<int>(dh * cell_aspect * img_aspect + 0.5);
  }
  dw = std::clamp(dw, 1, out.cols);
  dh = std::clamp(dh, 1, grid_h);
  cv::Mat small;
  cv::resize(bgr, small, cv::Size(dw, dh), 0, 0, cv::INTER_AREA);
  int ox = (out.cols - dw) / 2;
  int oy = (grid_h - dh) / 2;
  if (half_blocks) oy &= ~1;  // start on a cell boundary so a cell's halves stay one image row pair
  for (int py = 0; py < dh; ++py)
    for (int px = 0; px < dw; ++px) {
      int gy = oy + py, gx = ox + px;
      int cy = half_blocks ? gy / 2 : gy;
      if (cy >= out.rows) continue;
      std::size_t i = static_cast<std::size_t>(cy) * out.cols + gx;
      std::uint32_t c = pixel(small, py, px);
      out.inside[i] = true;
      if (half_blocks && (gy & 1)) {
        out.bottom[i] = c;
      } else {
        out.top[i] = c;
        if (half_blocks) out.bottom[i] = c;  // an odd last row shows the top pixel twice
      }
    }
  return out;
}

void ImagePreview::draw(Canvas& c, const Rect& box, const std::filesystem::path& path) {
  bool colour = c.theme().depth() != ColorDepth::Mono;
  bool half = c.glyphs().unicode && colour && c.theme().depth() != ColorDepth::Eight;
  if (path != path_ || box.w != box_.w || box.h != box_.h || half != half_) {
    path_ = path;
    box_ = box;
    half_ = half;
    error_.clear();
    cells_ = PreviewCells{};
    error_ = preview_problem(path);
    if (error_.empty()) {
      cv::Mat img = cv::imread(path.string(), cv::IMREAD_COLOR);
      if (img.empty())
        error_ = "cannot read this image";
      else
        cells_ = render_preview(img, box.w, box.h, half);
    }
  }
  if (!error_.empty()) {
    c.text(box.y, box.x, error_, Role::Warn, box.w);
    return;
  }
  for (int y = 0; y < cells_.rows; ++y)
    for (int x = 0; x < cells_.cols; ++x) {
      std::size_t i = static_cast<std::size_t>(y) * cells_.cols + x;
      if (!cells_.inside[i]) continue;
      if (half)
        c.rgb_cell(box.y + y, box.x + x, c.glyphs().half_block, cells_.top[i], cells_.bottom[i]);
      else if (colour)
        c.rgb_cell(box.y + y, box.x + x, " ", cells_.top[i], cells_.top[i]);
      else
        c.text(box.y + y, box.x + x, std::string(1, ramp_char(cells_.top[i])), Role::Normal, 1);
    }
}

}  // namespace lathe::tui
