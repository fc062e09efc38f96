// Sparkline rendering (see sparkline.h).
#include "runs/sparkline.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string_view>

namespace lathe {
namespace {

constexpr std::string_view kBlocks[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
constexpr char kAscii[] = {'_', '.', '-', '~', '=', '^', '*', '#'};

bool names_utf8(const char* value) {
  if (!value || !*value) return false;
  std::string v(value);
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  return v.find("utf-8") != std::string::npos || v.find("utf8") != std::string::npos;
}

}  // namespace

SparkGlyphs sparkline_glyphs_for_locale() {
  // POSIX precedence: the first of LC_ALL, LC_CTYPE, LANG that is set decides.
  for (const char* var : {"LC_ALL", "LC_CTYPE", "LANG"}) {
    const char* v = std::getenv(var);
    if (v && *v) return names_utf8(v) ? SparkGlyphs::Unicode : SparkGlyphs::Ascii;
  }
  return SparkGlyphs::Ascii;
}

std::vector<double> resample_mean(const std::vector<double>& values, int width) {
  if (width <= 0) return {};
  const std::size_t n = values.size();
  if (n <= static_cast<std::size_t>(width)) return values;
  std::vector<double> out;
  out.reserve(width);
  for (int i = 0; i < width; ++i) {
    std::size_t lo = n * i / width, hi = n * (i + 1) / width;
    double sum = 0;
    int count = 0;
    for (std::size_t k = lo; k < hi; ++k)
      if (std::isfinite(values[k])) sum += values[k], ++count;
    out.push_back(count ? sum / count : NAN);
  }
  return out;
}

std::string render_sparkline(const std::vector<double>& values, int width, SparkGlyphs glyphs,
                             std::optional<std::pair<double, double>> range) {
  std::vector<double> cells = resample_mean(values, width);
  double lo = INFINITY, hi = -INFINITY;
  if (range) {
    lo = range->first, hi = range->second;
  } else {
    for (double v : cells)
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  }
  std::string out;
  for (double v : cells) {
    if (!std::isfinite(v)) {
      out += ' ';
      continue;
    }
    int level = 3;  // a flat curve sits mid-height
    if (hi > lo) {
      double t = std::clamp((v - lo) / (hi - lo), 0.0, 1.0);
      level = std::min(7, static_cast<int>(std::lround(t * 7)));
    }
    if (glyphs == SparkGlyphs::Unicode)
      out += kBlocks[level];
    else
      out += kAscii[level];
  }
  return out;
}

}  // namespace lathe
