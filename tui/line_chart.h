// Loss curves as a text chart: braille (2x4 dots per cell) when the terminal speaks UTF-8,
// half blocks (1x2) as a plainer Unicode fallback, or ASCII (one point per cell). Series are
// drawn as connected lines over a shared scale, epoch boundaries as vertical markers behind
// them. Pure: returns cells with a glyph and a role, which the run page draws and the tests
// read.
#pragma once

#include <string>
#include <vector>

#include "tui/theme.h"

namespace lathe::tui {

enum class ChartStyle { Braille, Blocks, Ascii };

struct ChartSeries {
  std::vector<double> x, y;  // same length; x ascending (steps)
  Role role = Role::LossLine;
  char ascii = '*';  // its glyph in ASCII charts
};

struct ChartCell {
  std::string glyph = " ";
  Role role = Role::Normal;
};

struct Chart {
  int width = 0, height = 0;
  double y_min = 0, y_max = 0;   // the scale the rows show (top row = y_max)
  std::vector<ChartCell> cells;  // row-major, height x width
  const ChartCell& at(int row, int col) const {
    return cells[static_cast<std::size_t>(row) * width + col];
  }
  std::string row_text(int row) const;
};

// Non-finite values are skipped. x_min/x_max set the horizontal range (the run's steps so
// far); markers are x positions (epoch ends).
Chart render_line_chart(const std::vector<ChartSeries>& series, const std::vector<double>& markers,
                        double x_min, double x_max, int width, int height, ChartStyle style);

// "▁▂▃" style glyph encoding of one Unicode code point.
std::string utf8_encode(unsigned code_point);

}  // namespace lathe::tui
