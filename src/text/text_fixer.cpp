// ftfy fix_text subset. Each fixer is a pass over UTF-32 text; fix_segment mirrors
// ftfy.fix_and_explain's fixed-point loop and ftfy_fix_text its split into lines.
#include "text/text_fixer.h"

#include <algorithm>
#include <optional>

#include "text/html_unescape.h"
#include "text/unicode_props.h"
#include "text/unicode_tables.h"
#include "text/utf8.h"

namespace lathe::text {
namespace {

bool all_ascii(const std::u32string& s) {
  return std::all_of(s.begin(), s.end(), [](char32_t c) { return c < 0x80; });
}

// The byte a character stands for in Latin-1 or in ftfy's sloppy Windows-1252.
std::optional<unsigned char> latin1_byte(char32_t c) {
  if (c <= 0xFF) return static_cast<unsigned char>(c);
  return std::nullopt;
}
std::optional<unsigned char> sloppy1252_byte(char32_t c) {
  if (c < 0x80 || (c >= 0xA0 && c <= 0xFF)) return static_cast<unsigned char>(c);
  for (int i = 0; i < 32; ++i)
    if (unicode::kWindows1252High[i] == c) return static_cast<unsigned char>(0x80 + i);
  return std::nullopt;
}

template <typename ByteOf>
std::optional<std::string> encode_all(const std::u32string& s, ByteOf byte_of) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) {
    auto b = byte_of(c);
    if (!b) return std::nullopt;
    out.push_back(static_cast<char>(*b));
  }
  return out;
}

// Strict UTF-8 decode; nullopt when the bytes are not well-formed.
std::optional<std::u32string> decode_utf8_strict(const std::string& bytes) {
  std::u32string out = utf8_to_u32(bytes);
  // utf8_to_u32 writes U+FFFD for bad bytes; a real U+FFFD is EF BF BD.
  std::size_t real = 0;
  for (std::size_t i = 0; i + 2 < bytes.size(); ++i)
    if (bytes.compare(i, 3, "\xEF\xBF\xBD") == 0) ++real;
  std::size_t seen = std::count(out.begin(), out.end(), U'\uFFFD');
  if (seen != real) return std::nullopt;
  return out;
}

// Stand-in for ftfy.badness.is_bad: a lead byte of a UTF-8 sequence followed by a
// continuation byte, both spelled as Latin-1 / Windows-1252 characters ("Ã©", "â€").
bool looks_like_utf8_mojibake(const std::u32string& s) {
  for (std::size_t i = 0; i + 1 < s.size(); ++i) {
    auto lead = sloppy1252_byte(s[i]);
    if (!lead) lead = latin1_byte(s[i]);
    if (!lead || *lead < 0xC2 || *lead > 0xF4) continue;
    auto next = sloppy1252_byte(s[i + 1]);
    if (!next) next = latin1_byte(s[i + 1]);
    if (next && *next >= 0x80 && *next <= 0xBF) return true;
  }
  return false;
}

std::u32string fix_encoding_one_step(const std::u32string& s) {
  if (s.empty() || all_ascii(s) || !looks_like_utf8_mojibake(s)) return s;
  for (auto byte_of : {latin1_byte, sloppy1252_byte}) {
    if (auto bytes = encode_all(s, byte_of)) {
      if (auto fixed = decode_utf8_strict(*bytes)) return *fixed;
    }
  }
  return s;
}

std::u32string fix_latin_ligatures(const std::u32string& s) {
  std::u32string out;
  out.reserve(s.size());
  for (char32_t c : s) {
    switch (c) {
      case 0x132: out += U"IJ"; break;
      case 0x133: out += U"ij"; break;
      case 0x149: out += U"\u02BCn"; break;
      case 0x1F1: out += U"DZ"; break;
      case 0x1F2: out += U"Dz"; break;
      case 0x1F3: out += U"dz"; break;
      case 0x1C4: out += U"D\u017D"; break;
      case 0x1C5: out += U"D\u017E"; break;
      case 0x1C6: out += U"d\u017E"; break;
      case 0x1C7: out += U"LJ"; break;
      case 0x1C8: out += U"Lj"; break;
      case 0x1C9: out += U"lj"; break;
      case 0x1CA: out += U"NJ"; break;
      case 0x1CB: out += U"Nj"; break;
      case 0x1CC: out += U"nj"; break;
      case 0xFB00: out += U"ff"; break;
      case 0xFB01: out += U"fi"; break;
      case 0xFB02: out += U"fl"; break;
      case 0xFB03: out += U"ffi"; break;
      case 0xFB04: out += U"ffl"; break;
      case 0xFB05: out += U"\u017Ft"; break;
      case 0xFB06: out += U"st"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::u32string fix_character_width(const std::u32string& s) {
  std::u32string out;
  out.reserve(s.size());
  for (char32_t c : s)
    if (!width_replacement(c, out)) out.push_back(c);
  return out;
}

std::u32string uncurl_quotes(std::u32string s) {
  for (char32_t& c : s) {
    if (c == 0x2BC || (c >= 0x2018 && c <= 0x201B)) c = '\'';
    else if (c >= 0x201C && c <= 0x201F) c = '"';
  }
  return s;
}

std::u32string fix_line_breaks(const std::u32string& s) {
  std::u32string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char32_t c = s[i];
    if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') continue;  // CRLF -> LF
    if (c == '\r' || c == 0x2028 || c == 0x2029 || c == 0x85) c = '\n';
    out.push_back(c);
  }
  return out;
}

// ESC '[' (digit | ';')* letter
std::u32string remove_terminal_escapes(const std::u32string& s) {
  std::u32string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == 0x1B && i + 1 < s.size() && s[i + 1] == '[') {
      std::size_t k = i + 2;
      while (k < s.size() && ((s[k] >= '0' && s[k] <= '9') || s[k] == ';')) ++k;
      if (k < s.size() && ((s[k] | 0x20) >= 'a' && (s[k] | 0x20) <= 'z')) {
        i = k;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

bool is_removed_control(char32_t c) {
  return c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F ||
         (c >= 0x206A && c <= 0x206F) || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
}

std::u32string remove_control_chars(std::u32string s) {
  s.erase(std::remove_if(s.begin(), s.end(), is_removed_control), s.end());
  return s;
}

std::u32string fix_segment(std::u32string text, bool unescape) {
  while (true) {
    std::u32string orig = text;
    if (unescape) text = ftfy_unescape_html(text);
    text = ftfy_fix_encoding(text);
    text = ftfy_fix_c1_controls(text);
    text = fix_latin_ligatures(text);
    text = fix_character_width(text);
    text = uncurl_quotes(std::move(text));
    text = fix_line_breaks(text);
    text = remove_terminal_escapes(text);
    text = remove_control_chars(std::move(text));
    text = to_nfc(text);
    if (text == orig) return text;
  }
}

}  // namespace

std::u32string ftfy_fix_encoding(const std::u32string& text) {
  std::u32string cur = text;
  while (true) {
    std::u32string next = fix_encoding_one_step(cur);
    if (next == cur) return cur;
    cur = std::move(next);
  }
}

std::u32string ftfy_fix_c1_controls(const std::u32string& text) {
  std::u32string out = text;
  for (char32_t& c : out)
    if (c >= 0x80 && c <= 0x9F) c = unicode::kWindows1252High[c - 0x80];
  return out;
}

std::u32string ftfy_fix_text(const std::u32string& text) {
  std::u32string out;
  out.reserve(text.size());
  // "auto" HTML unescaping turns off at the first line holding '<' and stays off (as in ftfy).
  bool unescape = true;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find(U'\n', pos);
    std::size_t end = nl == std::u32string::npos ? text.size() : nl + 1;
    std::u32string segment = text.substr(pos, end - pos);
    if (unescape && segment.find(U'<') != std::u32string::npos) unescape = false;
    out += fix_segment(std::move(segment), unescape);
    pos = end;
  }
  return out;
}

}  // namespace lathe::text
