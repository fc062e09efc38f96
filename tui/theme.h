// Semantic colours: screens ask for a role (Role::Warn, Role::LossLine), never a colour
// number. The theme is chosen once at start from what the terminal can do: truecolor (a
// direct-colour terminal with COLORTERM=truecolor/24bit), 256 colours, 8 colours, or
// monochrome (attributes only), and maps each role and each RGB pixel onto that depth.
#pragma once

#include <cstdint>

namespace lathe::tui {

enum class Role {
  Normal,
  Dim,
  Header,
  TabActive,
  TabIdle,
  HintKey,
  HintText,
  Selected,
  SelectedIdle,
  Error,
  Warn,
  Info,
  Ok,
  LossLine,
  ValLine,
  EpochMarker,
  Best,
  Border,
  Input,
  Count
};

enum class ColorDepth { Mono, Eight, Palette256, TrueColor };
const char* color_depth_name(ColorDepth d);

// Which depth a terminal gets: `colors` is ncurses' COLORS (0 without colour support),
// `colorterm` the COLORTERM variable (may be null). Pure, for the tests.
ColorDepth pick_color_depth(int colors, const char* colorterm);

// The xterm 256-colour index nearest to an RGB colour (6x6x6 cube or grey ramp).
int rgb_to_256(std::uint8_t r, std::uint8_t g, std::uint8_t b);
// The nearest of the 8 ANSI colours (0 black .. 7 white, COLOR_* order).
int rgb_to_8(std::uint8_t r, std::uint8_t g, std::uint8_t b);

class Theme {
 public:
  // Sets up colours on the current ncurses screen (after initscr).
  void init();
  ColorDepth depth() const { return depth_; }
  // attr_t bits and the colour pair number for a role.
  unsigned long attrs(Role r) const;
  int pair(Role r) const;
  // A pair showing `fg` over `bg` (0xRRGGBB), allocated on demand (ncurses alloc_pair).
  int rgb_pair(std::uint32_t fg, std::uint32_t bg) const;

 private:
  int color_of(std::uint32_t rgb) const;
  ColorDepth depth_ = ColorDepth::Mono;
};

}  // namespace lathe::tui
