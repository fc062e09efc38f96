// The epoch grid's composition: sheet size from the cell size and the label strips, each cell
// where its row and column say, labels drawn as ink in their strips (and only there), missing
// cells grey, labels cut to the cell width, and wrong inputs refused.
#include "sample/contact_sheet.h"

#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "common/error.h"

namespace lathe {
namespace {

const cv::Vec3b kBackground(24, 24, 24);

cv::Mat solid(int w, int h, cv::Vec3b colour) {
  return cv::Mat(h, w, CV_8UC3, cv::Scalar(colour[0], colour[1], colour[2]));
}

// A distinct colour per cell, so a misplaced cell is caught.
cv::Vec3b cell_colour(int r, int c) {
  return cv::Vec3b(static_cast<uchar>(60 + 40 * r), static_cast<uchar>(200 - 30 * c), 150);
}

ContactSheetInput grid(int rows, int cols, int w, int h) {
  ContactSheetInput in;
  for (int r = 0; r < rows; ++r) in.row_labels.push_back("epoch " + std::to_string(r + 1) + "\nloss 0.12" + std::to_string(r));
  for (int c = 0; c < cols; ++c) in.column_labels.push_back("a photo of lathecat number " + std::to_string(c));
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) in.cells.push_back(solid(w, h, cell_colour(r, c)));
  return in;
}

// Pixels in `box` that differ from the background.
int ink(const cv::Mat& sheet, const cv::Rect& box) {
  int n = 0;
  for (int y = box.y; y < box.y + box.height; ++y)
    for (int x = box.x; x < box.x + box.width; ++x)
      if (sheet.at<cv::Vec3b>(y, x) != kBackground) ++n;
  return n;
}

TEST(ContactSheet, SheetSizeIsCellsGapsAndLabelStrips) {
  ContactSheetInput in = grid(3, 2, 64, 48);
  ContactSheetLayout l = contact_sheet_layout(in);
  EXPECT_EQ(l.rows, 3);
  EXPECT_EQ(l.columns, 2);
  EXPECT_EQ(l.cell_w, 64);
  EXPECT_EQ(l.cell_h, 48);
  EXPECT_GT(l.row_label_w, 0);
  EXPECT_GT(l.column_label_h, 0);
  EXPECT_EQ(l.width(), l.gap + l.row_label_w + l.gap + 2 * (64 + l.gap));
  EXPECT_EQ(l.height(), l.gap + l.column_label_h + l.gap + 3 * (48 + l.gap));
  cv::Mat sheet = compose_contact_sheet(in);
  EXPECT_EQ(sheet.cols, l.width());
  EXPECT_EQ(sheet.rows, l.height());
  EXPECT_EQ(sheet.type(), CV_8UC3);
}

TEST(ContactSheet, EveryCellIsWhereItsRowAndColumnSay) {
  ContactSheetInput in = grid(3, 4, 40, 30);
  ContactSheetLayout l = contact_sheet_layout(in);
  cv::Mat sheet = compose_contact_sheet(in);
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) {
      cv::Rect cell = l.cell(r, c);
      // Every pixel of the cell is the cell's own colour (no label or neighbour drawn over it).
      cv::Mat expected = solid(cell.width, cell.height, cell_colour(r, c));
      EXPECT_EQ(cv::norm(sheet(cell), expected, cv::NORM_INF), 0) << "cell " << r << "," << c;
      // Cells do not overlap the label strips or each other.
      EXPECT_GE(cell.x, l.row_label(r).x + l.row_label(r).width);
      EXPECT_GE(cell.y, l.column_label(c).y + l.column_label(c).height);
      if (c > 0) EXPECT_GE(cell.x, l.cell(r, c - 1).x + l.cell_w);
      if (r > 0) EXPECT_GE(cell.y, l.cell(r - 1, c).y + l.cell_h);
    }
}

TEST(ContactSheet, LabelsAreInkInTheirStripsOnly) {
  ContactSheetInput in = grid(2, 3, 128, 96);
  ContactSheetLayout l = contact_sheet_layout(in);
  cv::Mat sheet = compose_contact_sheet(in);
  for (int r = 0; r < 2; ++r) EXPECT_GT(ink(sheet, l.row_label(r)), 20) << "row label " << r;
  for (int c = 0; c < 3; ++c) EXPECT_GT(ink(sheet, l.column_label(c)), 20) << "column label " << c;
  // The corner above the row labels and the gaps are background.
  EXPECT_EQ(ink(sheet, cv::Rect(0, 0, l.gap + l.row_label_w, l.gap + l.column_label_h)), 0);
  EXPECT_EQ(ink(sheet, cv::Rect(l.cell(0, 0).x + l.cell_w, l.cell(0, 0).y, l.gap, l.cell_h)), 0);

  // An empty label leaves its strip blank: the ink above comes from the text.
  in.column_labels[1] = "";
  in.row_labels[1] = "";
  cv::Mat blank = compose_contact_sheet(in);
  EXPECT_EQ(ink(blank, l.column_label(1)), 0);
  EXPECT_EQ(ink(blank, l.row_label(1)), 0);
}

TEST(ContactSheet, SmallerImagesAreCentredAndMissingOnesGrey) {
  ContactSheetInput in = grid(2, 2, 64, 64);
  in.cells[1] = solid(32, 16, cv::Vec3b(255, 0, 0));
  in.cells[2] = cv::Mat();
  ContactSheetLayout l = contact_sheet_layout(in);
  cv::Mat sheet = compose_contact_sheet(in);
  cv::Rect small = l.cell(0, 1);
  EXPECT_EQ(sheet.at<cv::Vec3b>(small.y + 32, small.x + 32), cv::Vec3b(255, 0, 0));
  EXPECT_EQ(sheet.at<cv::Vec3b>(small.y + 2, small.x + 2), kBackground);
  cv::Rect missing = l.cell(1, 0);
  EXPECT_EQ(sheet.at<cv::Vec3b>(missing.y + missing.height - 2, missing.x + 2), cv::Vec3b(64, 64, 64));
  EXPECT_GT(ink(sheet, missing), missing.area() / 2);
}

TEST(ContactSheet, LongLabelsAreCutToTheCellWidth) {
  const double scale = 0.5;
  std::string prompt(300, 'x');
  std::string cut = fit_label(prompt, 120, scale, 1);
  ASSERT_GE(cut.size(), 4u);
  EXPECT_EQ(cut.substr(cut.size() - 3), "...");
  int baseline = 0;
  EXPECT_LE(cv::getTextSize(cut, cv::FONT_HERSHEY_SIMPLEX, scale, 1, &baseline).width, 120);
  EXPECT_EQ(fit_label("short", 500, scale, 1), "short");
  // UTF-8 becomes one '?' per character, control bytes spaces.
  EXPECT_EQ(fit_label("caf\xC3\xA9\tcat", 1000, scale, 1), "caf? cat");
}

TEST(ContactSheet, RefusesMismatchedInput) {
  ContactSheetInput in = grid(2, 2, 16, 16);
  in.cells.pop_back();
  EXPECT_THROW(contact_sheet_layout(in), Error);
  ContactSheetInput none;
  EXPECT_THROW(compose_contact_sheet(none), Error);
  ContactSheetInput grey = grid(1, 1, 16, 16);
  grey.cells[0] = cv::Mat(16, 16, CV_8UC1, cv::Scalar(0));
  EXPECT_THROW(compose_contact_sheet(grey), Error);
}

}  // namespace
}  // namespace lathe
