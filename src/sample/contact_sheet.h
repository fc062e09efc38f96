// The epoch grid's picture: images in rows and columns on one canvas, a label strip on the
// left (one label per row: "epoch 3" and its loss) and one on top (one per column: the prompt,
// cut to the cell's width), as kohya users build by hand in an image editor to pick an epoch
// by eye. Pure composition on 8-bit 3-channel images (channel order is kept: the caller's RGB
// stays RGB); `lathe sample --grid` renders the cells and writes the PNG.
#pragma once

#include <opencv2/core.hpp>

#include <string>
#include <vector>

namespace lathe {

struct ContactSheetInput {
  std::vector<std::string> row_labels;     // one per row; '\n' splits a label into lines
  std::vector<std::string> column_labels;  // one per column, cut with "..." to the cell width
  std::vector<cv::Mat> cells;              // row-major, rows x columns; an empty Mat is drawn
                                           // as a grey cell reading "missing"
};

// Where everything goes on the sheet, in pixels. Cells are all the size of the largest input
// image (smaller ones are centred in theirs).
struct ContactSheetLayout {
  int rows = 0, columns = 0;
  int cell_w = 0, cell_h = 0;
  int gap = 0;              // between cells and around the sheet
  int row_label_w = 0;      // width of the left strip
  int column_label_h = 0;   // height of the top strip
  double font_scale = 0;    // for cv::putText (FONT_HERSHEY_SIMPLEX)
  int font_thickness = 1;

  int width() const;
  int height() const;
  cv::Rect cell(int row, int column) const;
  cv::Rect row_label(int row) const;        // the left strip beside row `row`
  cv::Rect column_label(int column) const;  // the top strip above column `column`
};

// The layout for these inputs: font size from the cell size, the left strip as wide as the
// longest row label line. Throws lathe::Error when the counts do not match or there is no cell.
ContactSheetLayout contact_sheet_layout(const ContactSheetInput& input);

// The sheet on a dark background (labels in light grey); 8-bit, 3 channels.
cv::Mat compose_contact_sheet(const ContactSheetInput& input);

// `text` cut with "..." so that it fits `max_width` pixels at the layout's font; non-ASCII
// characters (the Hershey fonts have none) become '?', one per character.
std::string fit_label(const std::string& text, int max_width, double font_scale, int thickness);

}  // namespace lathe
