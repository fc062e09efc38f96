// Drawing primitives over one ncurses window (see canvas.h).
#include "tui/canvas.h"

#include <curses.h>

#include <string>

#include "common/terminal_text.h"
#include "tui/text_fit.h"

namespace lathe::tui {

bool Canvas::clip(int& y, int& x, int& width) const {
  if (y < area_.y || y >= area_.bottom() || x >= area_.right()) return false;
  if (x < area_.x) x = area_.x;
  int room = area_.right() - x;
  if (width < 0 || width > room) width = room;
  return width > 0;
}

void Canvas::set_role(Role r) {
  int pair = theme_.pair(r);
  wattr_set(win_, static_cast<attr_t>(theme_.attrs(r)), static_cast<short>(pair), &pair);
}

// Every string a screen draws passes terminal_safe first: tags, captions, file names and run
// names come from files, and ncurses would send C1 controls and invalid bytes to the terminal
// as they are (and a newline would wipe the rest of the row). Escaping before fitting also
// keeps the widths right.
int Canvas::text(int y, int x, std::string_view s, Role role, int width) {
  if (!clip(y, x, width)) return 0;
  std::string cut = fit_text(terminal_safe(s), width, glyphs_.ellipsis);
  set_role(role);
  mvwaddnstr(win_, y - area_.y, x - area_.x, cut.c_str(), static_cast<int>(cut.size()));
  return display_width(cut);
}

void Canvas::line(int y, int x, std::string_view s, int width, Role role) {
  if (!clip(y, x, width)) return;
  std::string padded = pad_text(terminal_safe(s), width, glyphs_.ellipsis);
  set_role(role);
  mvwaddnstr(win_, y - area_.y, x - area_.x, padded.c_str(), static_cast<int>(padded.size()));
}

void Canvas::fill(const Rect& r, Role role) {
  for (int y = r.y; y < r.bottom(); ++y) line(y, r.x, "", r.w, role);
}

void Canvas::heading(const Rect& r, std::string_view title, bool focused) {
  if (r.empty()) return;
  std::string bar;
  for (int i = 0; i < r.w; ++i) bar += glyphs_.hline;
  text(r.y, r.x, bar, Role::Border, r.w);
  text(r.y, r.x + 1, " " + std::string(title) + " ", focused ? Role::Header : Role::Dim, r.w - 2);
}

void Canvas::frame(const Rect& r, std::string_view title) {
  fill(r, Role::Normal);
  set_role(Role::Border);
  int top = r.y - area_.y, left = r.x - area_.x;
  // Box lines through ncurses' own line drawing (ASCII + - | under LANG=C).
  mvwhline(win_, top, left, 0, r.w);
  mvwhline(win_, top + r.h - 1, left, 0, r.w);
  mvwvline(win_, top, left, 0, r.h);
  mvwvline(win_, top, left + r.w - 1, 0, r.h);
  mvwaddch(win_, top, left, ACS_ULCORNER);
  mvwaddch(win_, top, left + r.w - 1, ACS_URCORNER);
  mvwaddch(win_, top + r.h - 1, left, ACS_LLCORNER);
  mvwaddch(win_, top + r.h - 1, left + r.w - 1, ACS_LRCORNER);
  if (!title.empty()) text(r.y, r.x + 2, " " + std::string(title) + " ", Role::Header, r.w - 4);
}

void Canvas::rgb_cell(int y, int x, std::string_view glyph, std::uint32_t fg, std::uint32_t bg) {
  int w = 1;
  if (!clip(y, x, w)) return;
  int pair = theme_.rgb_pair(fg, bg);
  wattr_set(win_, A_NORMAL, static_cast<short>(pair), &pair);
  mvwaddnstr(win_, y - area_.y, x - area_.x, glyph.data(), static_cast<int>(glyph.size()));
}

}  // namespace lathe::tui
