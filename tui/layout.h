// The screen layout as pure functions from the terminal size to rectangles: the frame (tab
// bar, body, hint bar), and the panes of each screen inside the body. Nothing here touches
// ncurses, so the layout is unit-tested over a sweep of sizes (tests/tui/layout_test.cpp).
#pragma once

namespace lathe::tui {

// The smallest terminal the TUI draws in; below it shows "terminal too small: need 80x24".
constexpr int kMinCols = 80;
constexpr int kMinRows = 24;

struct Rect {
  int y = 0, x = 0, h = 0, w = 0;
  int bottom() const { return y + h; }
  int right() const { return x + w; }
  bool empty() const { return h <= 0 || w <= 0; }
  bool contains(const Rect& r) const {
    return r.y >= y && r.x >= x && r.bottom() <= bottom() && r.right() <= right();
  }
  bool overlaps(const Rect& r) const {
    return !empty() && !r.empty() && r.x < right() && x < r.right() && r.y < bottom() &&
           y < r.bottom();
  }
};

struct FrameLayout {
  bool too_small = false;
  Rect screen;
  Rect tabs;   // top line: tabs and the screen title
  Rect body;   // what the current screen draws in
  Rect hints;  // bottom line: the hint bar from the binding table
};
FrameLayout frame_layout(int cols, int rows);

// Dataset screen: concepts | images | (caption tags above, image preview below).
struct DatasetLayout {
  Rect concepts, images, caption, preview;
};
DatasetLayout dataset_layout(const Rect& body);

// A table above, a detail box below (tags, audit, buckets, runs).
struct SplitLayout {
  Rect top, bottom;
};
// `bottom_share` of the body height (at least `min_bottom` rows) goes to the bottom box.
SplitLayout split_rows(const Rect& body, double bottom_share, int min_bottom);

// Run page: status line, loss chart, epoch table; with `samples`, the newest sample images
// take the right part of the chart's rows.
struct RunPageLayout {
  Rect status, chart, table;
  Rect samples;  // empty without samples
};
RunPageLayout run_page_layout(const Rect& body, bool samples = false);

// Samples view: a header line, then a grid of sample images, one row per sampling point
// (epoch) with its label on the left, one column per prompt with its label on top. As many
// rows and columns as fit at the minimum cell size are visible; the screen scrolls them.
struct SamplesGridLayout {
  Rect header;             // cursor position, prompt and file
  Rect column_labels;      // above the cells, right of the row labels
  int label_w = 0;         // row labels' width, left of the cells
  int visible_rows = 0, visible_columns = 0;
  int cell_w = 0, cell_h = 0;
  Rect cells;              // the area the visible cells tile
  Rect cell(int row, int column) const;       // visible row/column, 0-based
  Rect row_label(int row) const;
};
constexpr int kSampleCellMinW = 20, kSampleCellMinH = 7;
SamplesGridLayout samples_grid_layout(const Rect& body, int rows, int columns);

// A dialog of the wanted size, centred and clipped to `area` (keeping a one-cell margin).
Rect centered_rect(const Rect& area, int want_w, int want_h);

}  // namespace lathe::tui
