// Both unescapers scan for '&' by hand, following the patterns of the Python originals
// (html._charref and ftfy's HTML_ENTITY_RE), and look names up in the generated entity tables.
#include "text/html_unescape.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "text/unicode_tables.h"
#include "text/utf8.h"

namespace lathe::text {
namespace {

using namespace unicode;

const NamedEntity* find_entity(const NamedEntity* table, std::size_t count,
                               std::string_view name) {
  const NamedEntity* end = table + count;
  const NamedEntity* it = std::lower_bound(
      table, end, name, [](const NamedEntity& e, std::string_view v) { return e.name < v; });
  return (it != end && std::string_view(it->name) == name) ? it : nullptr;
}

bool is_digit(char32_t c) { return c >= '0' && c <= '9'; }
bool is_hex(char32_t c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool is_alnum(char32_t c) { return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'); }

void append_u8(const char* utf8, std::u32string& out) { out += utf8_to_u32(utf8); }

// html._replace_charref for a numeric reference: digits (without '#', 'x' or ';').
void append_numeric(const std::u32string& digits, int base, std::u32string& out) {
  unsigned long long num = 0;
  for (char32_t c : digits) {
    unsigned v = is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
    num = num * base + v;
    if (num > 0x10FFFFull) num = 0x110000;  // saturate: anything past the range is U+FFFD
  }
  for (std::size_t i = 0; i < kHtmlInvalidCharrefs_count; ++i) {
    if (kHtmlInvalidCharrefs[i].cp == num) {
      out.push_back(kHtmlInvalidCharrefs[i].to[0]);
      return;
    }
  }
  if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) {
    out.push_back(0xFFFD);
    return;
  }
  const char32_t* bad_end = kHtmlInvalidCodepoints + kHtmlInvalidCodepoints_count;
  if (std::binary_search(kHtmlInvalidCodepoints, bad_end, static_cast<char32_t>(num))) return;
  out.push_back(static_cast<char32_t>(num));
}

// Python's html._charref applied at s[i] == '&'; returns the index after the match, or i when
// nothing matches there.
std::size_t replace_charref_at(const std::u32string& s, std::size_t i, std::u32string& out) {
  std::size_t n = s.size(), j = i + 1;
  if (j < n && s[j] == '#') {
    bool hex = j + 1 < n && (s[j + 1] == 'x' || s[j + 1] == 'X');
    std::size_t k = j + (hex ? 2 : 1), start = k;
    while (k < n && (hex ? is_hex(s[k]) : is_digit(s[k]))) ++k;
    if (k == start) return i;
    append_numeric(s.substr(start, k - start), hex ? 16 : 10, out);
    return (k < n && s[k] == ';') ? k + 1 : k;
  }
  std::size_t k = j;
  auto name_char = [](char32_t c) {
    return c != '\t' && c != '\n' && c != '\f' && c != ' ' && c != '<' && c != '&' &&
           c != '#' && c != ';';
  };
  while (k < n && k - j < 32 && name_char(s[k])) ++k;
  if (k == j) return i;
  if (k < n && s[k] == ';') ++k;
  std::u32string name32 = s.substr(j, k - j);
  std::string name = u32_to_utf8(name32);
  if (auto* e = find_entity(kHtml5Entities, kHtml5Entities_count, name)) {
    append_u8(e->value, out);
    return k;
  }
  // The longest known prefix of at least two characters, the rest kept as text.
  for (std::size_t x = name32.size() - 1; x >= 2; --x) {
    std::string prefix = u32_to_utf8(name32.substr(0, x));
    if (auto* e = find_entity(kHtml5Entities, kHtml5Entities_count, prefix)) {
      append_u8(e->value, out);
      out.append(name32, x, std::u32string::npos);
      return k;
    }
  }
  out.push_back('&');
  out += name32;
  return k;
}

}  // namespace

std::u32string html_unescape(const std::u32string& s) {
  if (s.find(U'&') == std::u32string::npos) return s;
  std::u32string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    if (s[i] == '&') {
      std::size_t next = replace_charref_at(s, i, out);
      if (next != i) {
        i = next;
        continue;
      }
    }
    out.push_back(s[i++]);
  }
  return out;
}

std::u32string ftfy_unescape_html(const std::u32string& s) {
  if (s.find(U'&') == std::u32string::npos) return s;
  std::u32string out;
  out.reserve(s.size());
  std::size_t n = s.size();
  for (std::size_t i = 0; i < n;) {
    if (s[i] != '&') {
      out.push_back(s[i++]);
      continue;
    }
    // &#?[0-9A-Za-z]{1,24};
    std::size_t j = i + 1;
    bool numeric = j < n && s[j] == '#' && j + 1 < n && is_alnum(s[j + 1]);
    if (numeric) ++j;
    std::size_t k = j;
    while (k < n && is_alnum(s[k])) ++k;
    if (k == j || k - j > 24 || k >= n || s[k] != ';') {
      out.push_back(s[i++]);
      continue;
    }
    std::u32string match = s.substr(i, k + 1 - i);
    std::string name = u32_to_utf8(match.substr(1));
    const NamedEntity* e = nullptr;
    if (!numeric) {
      e = find_entity(kHtml5Entities, kHtml5Entities_count, name);
      if (!e) e = find_entity(kFtfyUpperEntities, kFtfyUpperEntities_count, name);
    }
    if (e) {
      append_u8(e->value, out);
    } else if (numeric) {
      std::u32string decoded = html_unescape(match);
      out += decoded.find(U';') == std::u32string::npos ? decoded : match;
    } else {
      out += match;
    }
    i = k + 1;
  }
  return out;
}

}  // namespace lathe::text
