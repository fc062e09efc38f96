// Escaping of terminal control bytes in untrusted text (see terminal_text.h).
#include "common/terminal_text.h"

#include <cstdio>

namespace lathe {
namespace {

bool is_plain_ascii(unsigned char c) { return c >= 0x20 && c < 0x7f; }

void append_hex_byte(std::string& out, unsigned char c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\x%02x", c);
  out += buf;
}

void append_c0(std::string& out, unsigned char c) {
  switch (c) {
    case '\t': out += "\\t"; return;
    case '\n': out += "\\n"; return;
    case '\r': out += "\\r"; return;
    case 0x1b: out += "\\e"; return;
    case 0x00: out += "\\0"; return;
    default: append_hex_byte(out, c);
  }
}

// Length of the well-formed UTF-8 sequence at p (2..4) and its code point, or 0 when the
// bytes there are not one (stray continuation byte, overlong form, surrogate, cut short).
std::size_t decode_utf8(const unsigned char* p, std::size_t left, char32_t& cp) {
  const unsigned char c = p[0];
  std::size_t len;
  if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F;
  else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F;
  else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07;
  else return 0;
  if (left < len) return 0;
  for (std::size_t i = 1; i < len; ++i) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000))
    return 0;  // overlong
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

// Code points above ASCII that a terminal acts on or that rearrange what the line shows.
bool is_unsafe_code_point(char32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) || cp == 0x200E || cp == 0x200F ||
         (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

}  // namespace

std::string terminal_safe(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && is_plain_ascii(static_cast<unsigned char>(text[i]))) ++i;
  if (i == text.size()) return std::string(text);  // the common case: nothing to escape

  std::string out(text.substr(0, i));
  out.reserve(text.size() + 16);
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  while (i < text.size()) {
    const unsigned char c = p[i];
    if (is_plain_ascii(c)) {
      out += static_cast<char>(c);
      ++i;
    } else if (c < 0x20) {
      append_c0(out, c);
      ++i;
    } else if (c == 0x7f) {
      append_hex_byte(out, c);
      ++i;
    } else {
      char32_t cp = 0;
      const std::size_t len = decode_utf8(p + i, text.size() - i, cp);
      if (len == 0) {
        append_hex_byte(out, c);
        ++i;
      } else if (is_unsafe_code_point(cp)) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "\\u{%x}", static_cast<unsigned>(cp));
        out += buf;
        i += len;
      } else {
        out.append(text.substr(i, len));
        i += len;
      }
    }
  }
  return out;
}

std::string terminal_safe_lines(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t start = 0;
  while (true) {
    const std::size_t nl = text.find('\n', start);
    out += terminal_safe(text.substr(start, nl == std::string_view::npos ? nl : nl - start));
    if (nl == std::string_view::npos) return out;
    out += '\n';
    start = nl + 1;
  }
}

}  // namespace lathe
