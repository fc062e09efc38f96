// Pure layout functions (see layout.h).
#include "tui/layout.h"

#include <algorithm>

namespace lathe::tui {

FrameLayout frame_layout(int cols, int rows) {
  FrameLayout f;
  f.screen = Rect{0, 0, std::max(rows, 0), std::max(cols, 0)};
  if (cols < kMinCols || rows < kMinRows) {
    f.too_small = true;
    return f;
  }
  f.tabs = Rect{0, 0, 1, cols};
  f.body = Rect{1, 0, rows - 2, cols};
  f.hints = Rect{rows - 1, 0, 1, cols};
  return f;
}

DatasetLayout dataset_layout(const Rect& b) {
  DatasetLayout d;
  // Concept names are short; image names a little longer; the rest is caption and preview.
  int cw = std::clamp(b.w / 5, 16, 28);
  int iw = std::clamp(b.w / 4, 20, 36);
  int rw = b.w - cw - iw;
  d.concepts = Rect{b.y, b.x, b.h, cw};
  d.images = Rect{b.y, b.x + cw, b.h, iw};
  int ch = std::clamp(b.h / 3, 6, 14);
  d.caption = Rect{b.y, b.x + cw + iw, ch, rw};
  d.preview = Rect{b.y + ch, b.x + cw + iw, b.h - ch, rw};
  return d;
}

SplitLayout split_rows(const Rect& b, double bottom_share, int min_bottom) {
  int bottom = std::max(min_bottom, static_cast<int>(b.h * bottom_share));
  bottom = std::min(bottom, b.h - 3);  // keep a header and two rows of the table
  bottom = std::max(bottom, 0);
  return SplitLayout{Rect{b.y, b.x, b.h - bottom, b.w}, Rect{b.y + b.h - bottom, b.x, bottom, b.w}};
}

RunPageLayout run_page_layout(const Rect& b, bool samples) {
  RunPageLayout r;
  r.status = Rect{b.y, b.x, 2, b.w};
  int rest = b.h - 2;
  int table = std::clamp(rest * 2 / 5, 5, 16);
  r.chart = Rect{b.y + 2, b.x, rest - table, b.w};
  r.table = Rect{b.y + 2 + rest - table, b.x, table, b.w};
  // The chart keeps at least 50 columns; the samples get up to half the width.
  int samples_w = std::min(b.w / 2, b.w - 50);
  if (samples && samples_w >= 24) {
    r.chart.w -= samples_w;
    r.samples = Rect{r.chart.y, r.chart.right(), r.chart.h, samples_w};
  }
  return r;
}

Rect SamplesGridLayout::cell(int row, int column) const {
  return Rect{cells.y + row * cell_h, cells.x + column * cell_w, cell_h, cell_w};
}

Rect SamplesGridLayout::row_label(int row) const {
  return Rect{cells.y + row * cell_h, cells.x - label_w, cell_h, label_w};
}

SamplesGridLayout samples_grid_layout(const Rect& b, int rows, int columns) {
  SamplesGridLayout g;
  g.header = Rect{b.y, b.x, 1, b.w};
  g.label_w = std::clamp(b.w / 6, 12, 18);
  const int area_w = b.w - g.label_w, area_h = b.h - 2;
  g.column_labels = Rect{b.y + 1, b.x + g.label_w, 1, area_w};
  g.visible_columns = std::clamp(area_w / kSampleCellMinW, 1, std::max(1, columns));
  g.visible_rows = std::clamp(area_h / kSampleCellMinH, 1, std::max(1, rows));
  g.cell_w = area_w / g.visible_columns;
  g.cell_h = area_h / g.visible_rows;
  g.cells = Rect{b.y + 2, b.x + g.label_w, g.cell_h * g.visible_rows, g.cell_w * g.visible_columns};
  return g;
}

Rect centered_rect(const Rect& a, int want_w, int want_h) {
  int w = std::clamp(want_w, 1, std::max(1, a.w - 2));
  int h = std::clamp(want_h, 1, std::max(1, a.h - 2));
  return Rect{a.y + (a.h - h) / 2, a.x + (a.w - w) / 2, h, w};
}

}  // namespace lathe::tui
