// Text sparklines: a loss curve as one line of block characters (▁▂▃▄▅▆▇█), or ASCII
// (_.-~^*#) when the terminal's locale is not UTF-8. A pure function of the values and the
// width so the CLI (`lathe runs list`, `compare`) and the TUI draw the same curve.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace lathe {

enum class SparkGlyphs { Unicode, Ascii };

// The glyph set the current locale can show (LC_ALL / LC_CTYPE / LANG name UTF-8).
SparkGlyphs sparkline_glyphs_for_locale();

// Draws `values` in `width` cells: when there are more values than cells, each cell shows the
// mean of its share of them; fewer values give a shorter line. Non-finite values draw as a
// space. `range` fixes the low/high ends (to put several curves on one scale); by default the
// curve's own finite min and max. Empty input gives an empty string.
std::string render_sparkline(const std::vector<double>& values, int width, SparkGlyphs glyphs,
                             std::optional<std::pair<double, double>> range = std::nullopt);

// Averages `values` down to at most `width` buckets (the resampling render_sparkline uses).
std::vector<double> resample_mean(const std::vector<double>& values, int width);

}  // namespace lathe
