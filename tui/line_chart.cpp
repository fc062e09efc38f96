// Text line charts (see line_chart.h).
#include "tui/line_chart.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace lathe::tui {

std::string utf8_encode(unsigned cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

std::string Chart::row_text(int row) const {
  std::string s;
  for (int c = 0; c < width; ++c) s += at(row, c).glyph;
  return s;
}

namespace {

// Braille dot bits by (sub-column, sub-row): the Unicode braille pattern layout.
const unsigned kBrailleBit[2][4] = {{0x01, 0x02, 0x04, 0x40}, {0x08, 0x10, 0x20, 0x80}};

struct Grid {
  int sx, sy, w, h;
  std::vector<unsigned> bits;  // per cell
  std::vector<int> owner;      // per cell: series index that drew last, -1 none
  void set(int px, int py, int series) {
    if (px < 0 || py < 0 || px >= w * sx || py >= h * sy) return;
    std::size_t cell = static_cast<std::size_t>(py / sy) * w + px / sx;
    unsigned bit = sx == 2 ? kBrailleBit[px % 2][py % 4] : (1u << (py % sy));
    bits[cell] |= bit;
    owner[cell] = series;
  }
};

}  // namespace

Chart render_line_chart(const std::vector<ChartSeries>& series, const std::vector<double>& markers,
                        double x_min, double x_max, int width, int height, ChartStyle style) {
  Chart chart;
  chart.width = std::max(width, 0);
  chart.height = std::max(height, 0);
  chart.cells.assign(static_cast<std::size_t>(chart.width) * chart.height, ChartCell{});
  if (chart.width == 0 || chart.height == 0) return chart;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& s : series)
    for (double v : s.y)
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  if (hi - lo < 1e-12) lo -= 0.5 * (std::abs(lo) + 1e-3), hi += 0.5 * (std::abs(hi) + 1e-3);
  chart.y_min = lo;
  chart.y_max = hi;
  if (!(x_max > x_min)) x_max = x_min + 1;

  int sx = style == ChartStyle::Braille ? 2 : 1;
  int sy = style == ChartStyle::Braille ? 4 : style == ChartStyle::Blocks ? 2 : 1;
  Grid g{sx,
         sy,
         chart.width,
         chart.height,
         std::vector<unsigned>(chart.cells.size(), 0),
         std::vector<int>(chart.cells.size(), -1)};
  int pw = chart.width * sx, ph = chart.height * sy;
  auto col_of = [&](double x) {
    return std::clamp(static_cast<int>((x - x_min) / (x_max - x_min) * (pw - 1) + 0.5), 0, pw - 1);
  };
  auto row_of = [&](double y) {
    return std::clamp(static_cast<int>((hi - y) / (hi - lo) * (ph - 1) + 0.5), 0, ph - 1);
  };

  for (std::size_t si = 0; si < series.size(); ++si) {
    const auto& s = series[si];
    // The mean of the points in each sub-column, then a line through consecutive columns.
    std::vector<double> sum(static_cast<std::size_t>(pw), 0);
    std::vector<int> n(static_cast<std::size_t>(pw), 0);
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.y[i]) || !std::isfinite(s.x[i])) continue;
      auto c = static_cast<std::size_t>(col_of(s.x[i]));
      sum[c] += s.y[i];
      ++n[c];
    }
    int prev_col = -1, prev_row = -1;
    for (int c = 0; c < pw; ++c) {
      if (n[static_cast<std::size_t>(c)] == 0) continue;
      int r = row_of(sum[static_cast<std::size_t>(c)] / n[static_cast<std::size_t>(c)]);
      if (style != ChartStyle::Ascii && prev_col >= 0) {
        // Join to the previous point: each column between gets the vertical run from the
        // interpolated height of the column before it to its own.
        int from = prev_row;
        for (int x = prev_col + 1; x <= c; ++x) {
          int to = prev_row + (r - prev_row) * (x - prev_col) / (c - prev_col);
          int a = std::min(from, to), b = std::max(from, to);
          for (int y = a; y <= b; ++y) g.set(x, y, static_cast<int>(si));
          from = to;
        }
      }
      g.set(c, r, static_cast<int>(si));
      prev_col = c;
      prev_row = r;
    }
  }

  for (int row = 0; row < chart.height; ++row)
    for (int col = 0; col < chart.width; ++col) {
      std::size_t i = static_cast<std::size_t>(row) * chart.width + col;
      if (!g.bits[i]) continue;
      const auto& s = series[static_cast<std::size_t>(g.owner[i])];
      ChartCell& cell = chart.cells[i];
      cell.role = s.role;
      if (style == ChartStyle::Braille)
        cell.glyph = utf8_encode(0x2800 + g.bits[i]);
      else if (style == ChartStyle::Blocks)
        cell.glyph = g.bits[i] == 1 ? "\u2580" : g.bits[i] == 2 ? "\u2584" : "\u2588";
      else
        cell.glyph = std::string(1, s.ascii);
    }
  // Epoch markers go behind the curves: only into empty cells.
  std::string bar = style == ChartStyle::Ascii ? ":" : "\u2502";
  for (double m : markers) {
    if (!(m >= x_min && m <= x_max)) continue;
    int col = col_of(m) / sx;
    for (int row = 0; row < chart.height; ++row) {
      ChartCell& cell = chart.cells[static_cast<std::size_t>(row) * chart.width + col];
      if (cell.glyph == " ") cell = ChartCell{bar, Role::EpochMarker};
    }
  }
  return chart;
}

}  // namespace lathe::tui
