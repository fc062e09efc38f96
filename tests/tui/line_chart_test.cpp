// Loss charts: braille, blocks and ASCII renderings of known curves, epoch markers behind the
// curve, non-finite values skipped; and the sparkline the Runs screen shares with the CLI.
#include "tui/line_chart.h"

#include <gtest/gtest.h>

#include <cmath>

#include "runs/sparkline.h"

namespace lathe::tui {
namespace {

int filled(const Chart& c) {
  int n = 0;
  for (const auto& cell : c.cells)
    if (cell.glyph != " " && cell.role != Role::EpochMarker) ++n;
  return n;
}

TEST(LineChart, FlatLineIsOneRowOfDots) {
  ChartSeries s{{0, 1, 2, 3}, {2, 2, 2, 2}, Role::LossLine, '*'};
  Chart c = render_line_chart({s}, {}, 0, 3, 4, 3, ChartStyle::Ascii);
  // A constant gets a range around it, so the line sits in the middle row.
  EXPECT_EQ(c.row_text(0), "    ");
  EXPECT_EQ(c.row_text(1), "****");
  EXPECT_EQ(c.row_text(2), "    ");
  EXPECT_LT(c.y_min, 2);
  EXPECT_GT(c.y_max, 2);
}

TEST(LineChart, FallingLineGoesFromTopLeftToBottomRight) {
  ChartSeries s{{0, 1, 2, 3}, {3, 2, 1, 0}, Role::LossLine, '*'};
  Chart c = render_line_chart({s}, {}, 0, 3, 4, 4, ChartStyle::Ascii);
  EXPECT_EQ(c.row_text(0), "*   ");
  EXPECT_EQ(c.row_text(1), " *  ");
  EXPECT_EQ(c.row_text(2), "  * ");
  EXPECT_EQ(c.row_text(3), "   *");
  EXPECT_EQ(c.y_max, 3);
  EXPECT_EQ(c.y_min, 0);
  EXPECT_EQ(c.at(0, 0).role, Role::LossLine);
}

TEST(LineChart, BrailleDotsAndJoins) {
  // Two points, one cell: top-left dot and bottom-right dot, joined down the right column.
  ChartSeries s{{0, 1}, {1, 0}, Role::LossLine, '*'};
  Chart c = render_line_chart({s}, {}, 0, 1, 1, 1, ChartStyle::Braille);
  // Dots 1 (0x01, top-left) and the whole right column 4,5,6,8 (0x08|0x10|0x20|0x80).
  EXPECT_EQ(c.at(0, 0).glyph, utf8_encode(0x2800 + 0x01 + 0x08 + 0x10 + 0x20 + 0x80));
  EXPECT_EQ(utf8_encode(0x2801), "\u2801");
  EXPECT_EQ(utf8_encode(0x41), "A");
}

TEST(LineChart, ConnectedAcrossSparsePoints) {
  // 3 points over 40 columns: a connected line fills every column between them.
  ChartSeries s{{0, 50, 100}, {1, 0.5, 0.8}, Role::LossLine, '*'};
  Chart c = render_line_chart({s}, {}, 0, 100, 40, 10, ChartStyle::Braille);
  for (int col = 0; col < 40; ++col) {
    bool any = false;
    for (int row = 0; row < 10; ++row) any |= c.at(row, col).glyph != " ";
    EXPECT_TRUE(any) << "gap at column " << col;
  }
}

TEST(LineChart, BlocksUseHalfCells) {
  ChartSeries s{{0, 1}, {1, 1 - 1e-9}, Role::LossLine, '*'};
  Chart c = render_line_chart({s}, {}, 0, 1, 2, 1, ChartStyle::Blocks);
  // Both points fall in the upper half of the single row.
  EXPECT_EQ(c.at(0, 0).glyph, "\u2580");
}

TEST(LineChart, EpochMarkersStayBehindTheCurve) {
  ChartSeries s{{0, 10}, {1, 1}, Role::LossLine, '*'};
  Chart c = render_line_chart({s}, {5}, 0, 10, 11, 3, ChartStyle::Ascii);
  EXPECT_EQ(c.at(0, 5).glyph, ":");
  EXPECT_EQ(c.at(0, 5).role, Role::EpochMarker);
  EXPECT_EQ(c.at(1, 0).glyph, "*");
  EXPECT_EQ(c.at(1, 10).glyph, "*");
  EXPECT_EQ(c.at(2, 5).glyph, ":");
}

TEST(LineChart, SkipsNonFiniteAndHandlesEmpty) {
  ChartSeries s{{0, 1, 2}, {1, NAN, INFINITY}, Role::LossLine, '*'};
  Chart c = render_line_chart({s}, {}, 0, 2, 3, 3, ChartStyle::Ascii);
  EXPECT_EQ(filled(c), 1);
  Chart empty = render_line_chart({}, {}, 0, 0, 5, 2, ChartStyle::Braille);
  EXPECT_EQ(filled(empty), 0);
  Chart none = render_line_chart({s}, {}, 0, 2, 0, 0, ChartStyle::Braille);
  EXPECT_TRUE(none.cells.empty());
}

TEST(LineChart, TwoSeriesKeepTheirRoles) {
  ChartSeries train{{0, 1, 2}, {3, 2, 1}, Role::LossLine, '.'};
  ChartSeries val{{0, 2}, {0, 0}, Role::ValLine, 'o'};
  Chart c = render_line_chart({train, val}, {}, 0, 2, 3, 4, ChartStyle::Ascii);
  EXPECT_EQ(c.at(0, 0).role, Role::LossLine);
  EXPECT_EQ(c.at(3, 0).role, Role::ValLine);
  EXPECT_EQ(c.at(3, 0).glyph, "o");
}

TEST(Sparkline, RunsScreenCurve) {
  // The shared sparkline (src/runs): falling values end on the lowest glyph.
  std::string s = render_sparkline({4, 3, 2, 1}, 4, SparkGlyphs::Unicode);
  EXPECT_EQ(s, "\u2588\u2586\u2583\u2581");
}

}  // namespace
}  // namespace lathe::tui
