// Glyph sets for Unicode and ASCII terminals (see glyphs.h).
#include "tui/glyphs.h"

#include <langinfo.h>

#include <cstring>

namespace lathe::tui {

GlyphSet unicode_glyphs() {
  return GlyphSet{true, "\u25cf", "\u2026", "\u2500", "\u2502", "\u25b2", "\u25bc", "\u2580"};
}

GlyphSet ascii_glyphs() {
  return GlyphSet{false, "*", "~", "-", "|", "^", "v", ""};
}

bool locale_is_utf8() {
  const char* cs = nl_langinfo(CODESET);
  return cs && (std::strcmp(cs, "UTF-8") == 0 || std::strcmp(cs, "utf8") == 0);
}

}  // namespace lathe::tui
