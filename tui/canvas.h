// What screens draw with: text in a role, cut to a width; filled boxes; titled frames; image
// cells. Coordinates are absolute terminal cells (as layout.h gives them); the canvas maps
// them into its ncurses window, so a screen never sees a WINDOW or a colour number.
#pragma once

#include <cstdint>
#include <string_view>

#include "tui/glyphs.h"
#include "tui/layout.h"
#include "tui/theme.h"

typedef struct _win_st WINDOW;

namespace lathe::tui {

class Canvas {
 public:
  Canvas(WINDOW* win, Rect area, const Theme& theme, const GlyphSet& glyphs)
      : win_(win), area_(area), theme_(theme), glyphs_(glyphs) {}

  const Theme& theme() const { return theme_; }
  const GlyphSet& glyphs() const { return glyphs_; }

  // Text at (y, x), cut to `width` columns (to the window's edge when width < 0); returns
  // the columns written.
  int text(int y, int x, std::string_view s, Role role = Role::Normal, int width = -1);
  // The same, padded with spaces to exactly `width` (rows of tables, selection bars).
  void line(int y, int x, std::string_view s, int width, Role role = Role::Normal);
  void fill(const Rect& r, Role role = Role::Normal);
  // A one-line title over a box: "── Title ─────".
  void heading(const Rect& r, std::string_view title, bool focused);
  // A framed box (dialogs).
  void frame(const Rect& r, std::string_view title);
  // One image cell: `glyph` in colour `fg` over `bg` (0xRRGGBB).
  void rgb_cell(int y, int x, std::string_view glyph, std::uint32_t fg, std::uint32_t bg);

 private:
  bool clip(int& y, int& x, int& width) const;
  void set_role(Role r);

  WINDOW* win_;
  Rect area_;
  const Theme& theme_;
  const GlyphSet& glyphs_;
};

}  // namespace lathe::tui
