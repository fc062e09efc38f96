// Contact sheet composition (see contact_sheet.h).
#include "sample/contact_sheet.h"

#include <fmt/format.h>

#include <algorithm>
#include <opencv2/imgproc.hpp>

#include "common/error.h"

namespace lathe {

namespace {

constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;
const cv::Scalar kBackground(24, 24, 24);
const cv::Scalar kLabelColour(230, 230, 230);
const cv::Scalar kMissingFill(64, 64, 64);

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (true) {
    std::size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end == std::string::npos ? end : end - start));
    if (end == std::string::npos) return lines;
    start = end + 1;
  }
}

// The Hershey fonts draw ASCII only: a UTF-8 character becomes one '?', control bytes spaces.
std::string ascii_only(const std::string& text) {
  std::string out;
  for (unsigned char ch : text) {
    if (ch >= 0x80 && ch < 0xC0) continue;  // continuation byte of the '?' already written
    if (ch >= 0x80) out += '?';
    else if (ch < 0x20 || ch == 0x7F) out += ' ';
    else out += static_cast<char>(ch);
  }
  return out;
}

int text_width(const std::string& text, double scale, int thickness) {
  int baseline = 0;
  return cv::getTextSize(text, kFont, scale, thickness, &baseline).width;
}

// One line of text: cap height plus descender, and a little air.
int line_height(double scale, int thickness) {
  int baseline = 0;
  cv::Size size = cv::getTextSize("Ag", kFont, scale, thickness, &baseline);
  return size.height + baseline + std::max(2, size.height / 3);
}

void put_lines(cv::Mat& sheet, const std::vector<std::string>& lines, const cv::Rect& box,
               const ContactSheetLayout& l) {
  const int pad = l.gap;
  const int lh = line_height(l.font_scale, l.font_thickness);
  int baseline = 0;
  const int cap = cv::getTextSize("A", kFont, l.font_scale, l.font_thickness, &baseline).height;
  int y = box.y + pad / 2 + cap;
  for (const std::string& line : lines) {
    if (y > box.y + box.height) break;
    std::string fitted = fit_label(line, box.width - pad, l.font_scale, l.font_thickness);
    cv::putText(sheet, fitted, cv::Point(box.x + pad / 2, y), kFont, l.font_scale, kLabelColour,
                l.font_thickness, cv::LINE_AA);
    y += lh;
  }
}

void place_cell(cv::Mat& sheet, const cv::Mat& image, const cv::Rect& cell,
                const ContactSheetLayout& l) {
  if (image.empty()) {
    sheet(cell).setTo(kMissingFill);
    put_lines(sheet, {"missing"}, cell, l);
    return;
  }
  cv::Rect target(cell.x + (cell.width - image.cols) / 2, cell.y + (cell.height - image.rows) / 2,
                  image.cols, image.rows);
  image.copyTo(sheet(target));
}

}  // namespace

int ContactSheetLayout::width() const {
  return gap + row_label_w + gap + columns * (cell_w + gap);
}

int ContactSheetLayout::height() const {
  return gap + column_label_h + gap + rows * (cell_h + gap);
}

cv::Rect ContactSheetLayout::cell(int row, int column) const {
  return cv::Rect(gap + row_label_w + gap + column * (cell_w + gap),
                  gap + column_label_h + gap + row * (cell_h + gap), cell_w, cell_h);
}

cv::Rect ContactSheetLayout::row_label(int row) const {
  return cv::Rect(gap, gap + column_label_h + gap + row * (cell_h + gap), row_label_w, cell_h);
}

cv::Rect ContactSheetLayout::column_label(int column) const {
  return cv::Rect(gap + row_label_w + gap + column * (cell_w + gap), gap, cell_w, column_label_h);
}

std::string fit_label(const std::string& text, int max_width, double font_scale, int thickness) {
  std::string ascii = ascii_only(text);
  if (text_width(ascii, font_scale, thickness) <= max_width) return ascii;
  // Drop characters from the end until the text and the ellipsis fit.
  while (!ascii.empty()) {
    ascii.pop_back();
    std::string cut = ascii + "...";
    if (text_width(cut, font_scale, thickness) <= max_width) return cut;
  }
  return "";
}

ContactSheetLayout contact_sheet_layout(const ContactSheetInput& in) {
  ContactSheetLayout l;
  l.rows = static_cast<int>(in.row_labels.size());
  l.columns = static_cast<int>(in.column_labels.size());
  if (l.rows == 0 || l.columns == 0)
    throw Error("contact sheet: nothing to compose (no rows or no columns)");
  if (in.cells.size() != static_cast<std::size_t>(l.rows) * l.columns)
    throw Error(fmt::format("contact sheet: {} images for {} rows x {} columns", in.cells.size(),
                            l.rows, l.columns));
  for (const cv::Mat& image : in.cells) {
    if (image.empty()) continue;
    if (image.type() != CV_8UC3)
      throw Error("contact sheet: every image must be 8-bit with 3 channels");
    l.cell_w = std::max(l.cell_w, image.cols);
    l.cell_h = std::max(l.cell_h, image.rows);
  }
  if (l.cell_w == 0) l.cell_w = l.cell_h = 256;  // nothing rendered: grey cells of a usual size
  // Labels readable at the sheet's own size: about 1/25 of a cell's width tall.
  l.font_scale = std::clamp(l.cell_w / 640.0, 0.35, 2.5);
  l.font_thickness = l.font_scale >= 1.2 ? 2 : 1;
  l.gap = std::max(4, l.cell_w / 64);
  const int lh = line_height(l.font_scale, l.font_thickness);
  l.column_label_h = lh + l.gap;
  int widest = 0;
  for (const std::string& label : in.row_labels)
    for (const std::string& line : split_lines(label))
      widest = std::max(widest, text_width(ascii_only(line), l.font_scale, l.font_thickness));
  // Wide enough for the longest line ("loss 0.1234" beside small cells too), but at most two
  // cells wide (longer labels are cut).
  l.row_label_w = std::min(std::max(widest + l.gap, lh * 3), std::max(2 * l.cell_w, lh * 3));
  return l;
}

cv::Mat compose_contact_sheet(const ContactSheetInput& in) {
  const ContactSheetLayout l = contact_sheet_layout(in);
  cv::Mat sheet(l.height(), l.width(), CV_8UC3, kBackground);
  for (int c = 0; c < l.columns; ++c)
    put_lines(sheet, {in.column_labels[static_cast<std::size_t>(c)]}, l.column_label(c), l);
  for (int r = 0; r < l.rows; ++r) {
    put_lines(sheet, split_lines(in.row_labels[static_cast<std::size_t>(r)]), l.row_label(r), l);
    for (int c = 0; c < l.columns; ++c)
      place_cell(sheet, in.cells[static_cast<std::size_t>(r) * l.columns + c], l.cell(r, c), l);
  }
  return sheet;
}

}  // namespace lathe
