// Cleaning and pre-tokenization. ASCII captions without '&' or control characters skip the
// ftfy pass: every ftfy fixer is the identity on them (CR becomes LF, which whitespace_clean
// turns into a space either way).
#include "text/clip_text_clean.h"

#include <algorithm>

#include "text/html_unescape.h"
#include "text/text_fixer.h"
#include "text/unicode_props.h"
#include "text/utf8.h"

namespace lathe::text {
namespace {

bool ftfy_is_identity(std::string_view utf8) {
  return std::all_of(utf8.begin(), utf8.end(), [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return (c >= 0x20 && c < 0x7F && c != '&') || c == '\t' || c == '\n' || c == '\r';
  });
}

std::u32string strip_py(const std::u32string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && is_py_space(s[b])) ++b;
  while (e > b && is_py_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

std::u32string collapse_blanks(const std::u32string& s) {
  std::u32string out;
  out.reserve(s.size());
  bool in_blank = false;
  for (char32_t c : s) {
    if (is_regex_space(c)) {
      if (!in_blank) out.push_back(' ');
      in_blank = true;
    } else {
      out.push_back(c);
      in_blank = false;
    }
  }
  return out;
}

// Literal match under the pattern's IGNORECASE flag; after lower() only U+017F LONG S still
// folds onto an ASCII letter ("s").
bool literal_at(const std::u32string& s, std::size_t i, std::u32string_view lit) {
  if (i + lit.size() > s.size()) return false;
  for (std::size_t k = 0; k < lit.size(); ++k) {
    char32_t c = s[i + k];
    if (c == 0x17F) c = 's';
    if (c != lit[k]) return false;
  }
  return true;
}

std::size_t match_special_or_contraction(const std::u32string& s, std::size_t i) {
  static constexpr std::u32string_view kAlternatives[] = {
      U"<|startoftext|>", U"<|endoftext|>", U"'s", U"'t", U"'re", U"'ve", U"'m", U"'ll", U"'d"};
  for (auto lit : kAlternatives)
    if (literal_at(s, i, lit)) return lit.size();
  return 0;
}

}  // namespace

std::u32string clean_caption(std::string_view utf8, TextFixing fixing) {
  std::u32string text = utf8_to_u32(utf8);
  if (fixing == TextFixing::kNfcOnly) text = to_nfc(text);
  else if (!ftfy_is_identity(utf8)) text = ftfy_fix_text(text);
  text = strip_py(html_unescape(html_unescape(text)));
  text = strip_py(collapse_blanks(text));
  return to_lower(text);
}

std::vector<WordSpan> pretokenize(const std::u32string& s) {
  std::vector<WordSpan> words;
  std::size_t n = s.size(), i = 0;
  while (i < n) {
    char32_t c = s[i];
    std::size_t len = 0;
    if (c == '<' || c == '\'') len = match_special_or_contraction(s, i);
    if (len == 0) {
      if (is_letter(c)) {
        len = 1;
        while (i + len < n && is_letter(s[i + len])) ++len;
      } else if (is_number(c)) {
        len = 1;
      } else if (!is_regex_space(c) && !is_pattern_skipped(c)) {
        len = 1;
        while (i + len < n && !is_regex_space(s[i + len]) && !is_letter(s[i + len]) &&
               !is_number(s[i + len]) && !is_pattern_skipped(s[i + len]))
          ++len;
      }
    }
    if (len == 0) {
      ++i;  // a blank (or U+0345): no alternative matches here
      continue;
    }
    words.push_back({i, len});
    i += len;
  }
  return words;
}

}  // namespace lathe::text
