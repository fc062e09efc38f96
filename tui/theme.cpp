// Role colours per depth, and RGB -> terminal colour mapping (see theme.h).
#include "tui/theme.h"

#include <curses.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace lathe::tui {
namespace {

struct RoleStyle {
  short fg, bg;   // ANSI colours, -1 = terminal default
  attr_t colour;  // attributes with colour
  attr_t mono;    // attributes without colour
};

// One row per Role, in enum order: the whole palette in one table.
const RoleStyle kStyles[] = {
    {-1, -1, A_NORMAL, A_NORMAL},                           // Normal
    {COLOR_WHITE, -1, A_DIM, A_DIM},                        // Dim
    {COLOR_CYAN, -1, A_BOLD, A_BOLD | A_UNDERLINE},         // Header
    {COLOR_BLACK, COLOR_CYAN, A_BOLD, A_REVERSE | A_BOLD},  // TabActive
    {-1, -1, A_NORMAL, A_NORMAL},                           // TabIdle
    {COLOR_BLACK, COLOR_CYAN, A_BOLD, A_REVERSE},           // HintKey
    {-1, -1, A_NORMAL, A_NORMAL},                           // HintText
    {COLOR_BLACK, COLOR_CYAN, A_NORMAL, A_REVERSE},         // Selected
    {-1, -1, A_REVERSE | A_DIM, A_UNDERLINE},               // SelectedIdle
    {COLOR_RED, -1, A_BOLD, A_BOLD},                        // Error
    {COLOR_YELLOW, -1, A_BOLD, A_BOLD},                     // Warn
    {COLOR_BLUE, -1, A_BOLD, A_NORMAL},                     // Info
    {COLOR_GREEN, -1, A_BOLD, A_BOLD},                      // Ok
    {COLOR_CYAN, -1, A_NORMAL, A_NORMAL},                   // LossLine
    {COLOR_MAGENTA, -1, A_BOLD, A_BOLD},                    // ValLine
    {COLOR_WHITE, -1, A_DIM, A_DIM},                        // EpochMarker
    {COLOR_GREEN, -1, A_BOLD, A_BOLD},                      // Best
    {COLOR_BLUE, -1, A_NORMAL, A_NORMAL},                   // Border
    {COLOR_WHITE, COLOR_BLUE, A_BOLD, A_UNDERLINE},         // Input
};
static_assert(sizeof(kStyles) / sizeof(kStyles[0]) == static_cast<std::size_t>(Role::Count));

constexpr int kFirstImagePair = static_cast<int>(Role::Count) + 1;

std::uint8_t red(std::uint32_t c) {
  return static_cast<std::uint8_t>(c >> 16);
}
std::uint8_t green(std::uint32_t c) {
  return static_cast<std::uint8_t>(c >> 8);
}
std::uint8_t blue(std::uint32_t c) {
  return static_cast<std::uint8_t>(c);
}

}  // namespace

const char* color_depth_name(ColorDepth d) {
  switch (d) {
    case ColorDepth::Mono:
      return "mono";
    case ColorDepth::Eight:
      return "8";
    case ColorDepth::Palette256:
      return "256";
    case ColorDepth::TrueColor:
      return "truecolor";
  }
  return "?";
}

ColorDepth pick_color_depth(int colors, const char* colorterm) {
  if (colors < 8) return ColorDepth::Mono;
  bool says_true = colorterm && (std::strcmp(colorterm, "truecolor") == 0 ||
                                 std::strcmp(colorterm, "24bit") == 0);
  if (says_true && colors >= 0x1000000) return ColorDepth::TrueColor;
  if (colors >= 256) return ColorDepth::Palette256;
  return ColorDepth::Eight;
}

int rgb_to_256(std::uint8_t r, std::uint8_t g, std::uint8_t b) {
  auto level = [](int v) { return v < 48 ? 0 : v < 115 ? 1 : (v - 35) / 40; };
  static const int steps[6] = {0, 95, 135, 175, 215, 255};
  int lr = level(r), lg = level(g), lb = level(b);
  int cube = 16 + 36 * lr + 6 * lg + lb;
  auto sq = [](int d) { return d * d; };
  int cube_err = sq(steps[lr] - r) + sq(steps[lg] - g) + sq(steps[lb] - b);
  int mean = (r + g + b) / 3;
  int grey = mean > 238 ? 23 : (mean < 8 ? 0 : (mean - 8) / 10);
  int gv = 8 + 10 * grey;
  int grey_err = sq(gv - r) + sq(gv - g) + sq(gv - b);
  return grey_err < cube_err ? 232 + grey : cube;
}

int rgb_to_8(std::uint8_t r, std::uint8_t g, std::uint8_t b) {
  // COLOR_* order: black red green yellow blue magenta cyan white = bit0 red, bit1 green,
  // bit2 blue. Each channel is on when it is above half of the brightest channel's level.
  int hi = std::max({int(r), int(g), int(b)});
  if (hi < 64) return COLOR_BLACK;
  int cut = hi / 2 + 16;
  return (r > cut ? 1 : 0) | (g > cut ? 2 : 0) | (b > cut ? 4 : 0);
}

void Theme::init() {
  depth_ = ColorDepth::Mono;
  if (!has_colors()) return;
  start_color();  // COLORS is known only after this
  depth_ = pick_color_depth(COLORS, std::getenv("COLORTERM"));
  if (depth_ == ColorDepth::Mono) return;
  use_default_colors();
  for (int i = 0; i < static_cast<int>(Role::Count); ++i)
    init_pair(static_cast<short>(i + 1), kStyles[i].fg, kStyles[i].bg);
  if (depth_ == ColorDepth::Eight) {
    // Image cells in 8 colours are whole cells of one background colour: 8 fixed pairs.
    if (COLOR_PAIRS < kFirstImagePair + 8) return;
    for (short c = 0; c < 8; ++c) init_pair(static_cast<short>(kFirstImagePair + c), c, c);
  }
}

unsigned long Theme::attrs(Role r) const {
  const auto& s = kStyles[static_cast<int>(r)];
  return depth_ == ColorDepth::Mono ? s.mono : s.colour;
}

int Theme::pair(Role r) const {
  return depth_ == ColorDepth::Mono ? 0 : static_cast<int>(r) + 1;
}

int Theme::color_of(std::uint32_t c) const {
  if (depth_ == ColorDepth::TrueColor) return static_cast<int>(c & 0xFFFFFF);
  if (depth_ == ColorDepth::Palette256) return rgb_to_256(red(c), green(c), blue(c));
  return rgb_to_8(red(c), green(c), blue(c));
}

int Theme::rgb_pair(std::uint32_t fg, std::uint32_t bg) const {
  switch (depth_) {
    case ColorDepth::Mono:
      return 0;
    case ColorDepth::Eight:
      return COLOR_PAIRS >= kFirstImagePair + 8 ? kFirstImagePair + color_of(bg) : 0;
    default: {
      int p = alloc_pair(color_of(fg), color_of(bg));
      return p < 0 ? 0 : p;
    }
  }
}

}  // namespace lathe::tui
