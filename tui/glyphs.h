// The glyph sets the TUI draws with, chosen once at start from the locale: Unicode (braille
// charts, block sparklines, half-block image previews, box lines) when the terminal speaks
// UTF-8, plain ASCII otherwise (LANG=C over SSH). Pure data, so charts are testable.
#pragma once

#include <string>

namespace lathe::tui {

struct GlyphSet {
  bool unicode = true;
  std::string bullet;    // marks the best epoch, the selected tab
  std::string ellipsis;  // text cut to fit
  std::string hline;     // separators
  std::string vline;
  std::string up, down;    // sort direction
  std::string half_block;  // upper half block for image previews ("" in ASCII)
};

GlyphSet unicode_glyphs();
GlyphSet ascii_glyphs();

// True when the current locale's character set is UTF-8 (call after setlocale).
bool locale_is_utf8();

}  // namespace lathe::tui
