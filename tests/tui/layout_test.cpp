// The layout is a pure function of the terminal size: swept over sizes, every pane stays
// inside its parent, panes never overlap, and below 80x24 the frame says it is too small.
#include "tui/layout.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace lathe::tui {
namespace {

void expect_inside(const Rect& outer, const Rect& inner, const char* what, int w, int h) {
  EXPECT_TRUE(outer.contains(inner)) << what << " outside its parent at " << w << "x" << h;
  EXPECT_FALSE(inner.empty()) << what << " empty at " << w << "x" << h;
}

TEST(Layout, TooSmallBelowTheMinimum) {
  for (int w : {1, 40, 79}) EXPECT_TRUE(frame_layout(w, 30).too_small) << w;
  for (int h : {1, 10, 23}) EXPECT_TRUE(frame_layout(100, h).too_small) << h;
  EXPECT_FALSE(frame_layout(80, 24).too_small);
}

TEST(Layout, FrameSweep) {
  for (int w = kMinCols; w <= 320; w += 7)
    for (int h = kMinRows; h <= 120; h += 5) {
      FrameLayout f = frame_layout(w, h);
      ASSERT_FALSE(f.too_small);
      expect_inside(f.screen, f.tabs, "tabs", w, h);
      expect_inside(f.screen, f.body, "body", w, h);
      expect_inside(f.screen, f.hints, "hints", w, h);
      EXPECT_FALSE(f.tabs.overlaps(f.body));
      EXPECT_FALSE(f.body.overlaps(f.hints));
      EXPECT_EQ(f.tabs.h + f.body.h + f.hints.h, h);
      EXPECT_EQ(f.body.w, w);
    }
}

TEST(Layout, DatasetPanesSweep) {
  for (int w = kMinCols; w <= 320; w += 7)
    for (int h = kMinRows; h <= 120; h += 5) {
      Rect body = frame_layout(w, h).body;
      DatasetLayout d = dataset_layout(body);
      const Rect* panes[] = {&d.concepts, &d.images, &d.caption, &d.preview};
      for (const Rect* p : panes) expect_inside(body, *p, "dataset pane", w, h);
      for (int i = 0; i < 4; ++i)
        for (int j = i + 1; j < 4; ++j)
          EXPECT_FALSE(panes[i]->overlaps(*panes[j])) << i << "," << j << " at " << w << "x" << h;
      EXPECT_GE(d.concepts.w, 16);
      EXPECT_GE(d.images.w, 20);
      EXPECT_GE(d.caption.w, 24);  // room for a tag
      EXPECT_GE(d.caption.h, 6);   // a few tags and the status line
      EXPECT_GE(d.preview.h, 8);   // an image worth looking at
      EXPECT_EQ(d.concepts.w + d.images.w + d.caption.w, body.w);
    }
}

TEST(Layout, RunPageAndSplitsSweep) {
  for (int w = kMinCols; w <= 320; w += 11)
    for (int h = kMinRows; h <= 120; h += 3) {
      Rect body = frame_layout(w, h).body;
      RunPageLayout r = run_page_layout(body);
      expect_inside(body, r.status, "status", w, h);
      expect_inside(body, r.chart, "chart", w, h);
      expect_inside(body, r.table, "table", w, h);
      EXPECT_FALSE(r.chart.overlaps(r.table));
      EXPECT_FALSE(r.status.overlaps(r.chart));
      EXPECT_GE(r.chart.h, 8) << "chart too flat at " << w << "x" << h;
      EXPECT_GE(r.table.h, 5);
      for (double share : {0.25, 0.35}) {
        SplitLayout s = split_rows(body, share, 5);
        expect_inside(body, s.top, "top", w, h);
        expect_inside(body, s.bottom, "bottom", w, h);
        EXPECT_FALSE(s.top.overlaps(s.bottom));
        EXPECT_EQ(s.top.h + s.bottom.h, body.h);
      }
    }
}

TEST(Layout, RunPageWithSamplesSweep) {
  for (int w = kMinCols; w <= 320; w += 11)
    for (int h = kMinRows; h <= 120; h += 7) {
      Rect body = frame_layout(w, h).body;
      RunPageLayout r = run_page_layout(body, true);
      expect_inside(body, r.chart, "chart", w, h);
      expect_inside(body, r.samples, "samples", w, h);
      EXPECT_FALSE(r.chart.overlaps(r.samples));
      EXPECT_FALSE(r.samples.overlaps(r.table));
      EXPECT_GE(r.chart.w, 50) << "chart too narrow at " << w << "x" << h;
      EXPECT_GE(r.samples.w, 24);
      EXPECT_EQ(r.chart.w + r.samples.w, body.w);
      EXPECT_TRUE(run_page_layout(body, false).samples.empty());
    }
}

TEST(Layout, SamplesGridSweep) {
  for (int w = kMinCols; w <= 320; w += 11)
    for (int h = kMinRows; h <= 120; h += 7)
      for (auto [rows, cols] : std::vector<std::pair<int, int>>{{1, 1}, {3, 2}, {40, 12}}) {
        Rect body = frame_layout(w, h).body;
        SamplesGridLayout g = samples_grid_layout(body, rows, cols);
        expect_inside(body, g.header, "header", w, h);
        expect_inside(body, g.column_labels, "column labels", w, h);
        expect_inside(body, g.cells, "cells", w, h);
        EXPECT_FALSE(g.header.overlaps(g.cells));
        EXPECT_FALSE(g.column_labels.overlaps(g.cells));
        EXPECT_GE(g.visible_rows, 1);
        EXPECT_LE(g.visible_rows, rows);
        EXPECT_LE(g.visible_columns, cols);
        EXPECT_GE(g.cell_w, kSampleCellMinW) << w << "x" << h;
        EXPECT_GE(g.cell_h, kSampleCellMinH) << w << "x" << h;
        for (int r = 0; r < g.visible_rows; ++r) {
          expect_inside(body, g.row_label(r), "row label", w, h);
          EXPECT_FALSE(g.row_label(r).overlaps(g.cells));
          for (int c = 0; c < g.visible_columns; ++c) EXPECT_TRUE(g.cells.contains(g.cell(r, c)));
        }
        // A big terminal shows more of a big table.
        if (w >= 200 && h >= 60 && rows >= 3) {
          EXPECT_GE(g.visible_rows, 3);
          EXPECT_GE(g.visible_columns, std::min(cols, 3));
        }
      }
}

TEST(Layout, DialogsAreCentredAndClipped) {
  for (int w = kMinCols; w <= 200; w += 13)
    for (int h = kMinRows; h <= 80; h += 9) {
      Rect body = frame_layout(w, h).body;
      for (int want : {10, 64, 500}) {
        Rect d = centered_rect(body, want, want / 4 + 3);
        EXPECT_TRUE(body.contains(d)) << want << " at " << w << "x" << h;
        EXPECT_LE(d.w, body.w - 2);
        EXPECT_LE(std::abs((d.x - body.x) - (body.right() - d.right())), 1);
      }
    }
}

}  // namespace
}  // namespace lathe::tui
