// Caption parsing: tags split on commas, trimmed; file conventions recorded for the audit and
// for edits that must write the file back in its own style.
#include "dataset/caption.h"

namespace lathe {

std::string_view trim_ascii(std::string_view s) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool is_valid_utf8(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto* end = p + bytes.size();
  while (p < end) {
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int len;
    unsigned cp;
    if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07;
    else return false;
    if (end - p < len) return false;
    for (int i = 1; i < len; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000))
      return false;  // overlong
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    p += len;
  }
  return true;
}

std::vector<std::string_view> split_tags_keep_empty(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    std::size_t comma = text.find(',', start);
    std::string_view piece =
        text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    out.push_back(trim_ascii(piece));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

CaptionText parse_caption(std::string raw) {
  CaptionText c;
  c.raw = std::move(raw);
  std::string_view text = c.raw;
  c.valid_utf8 = is_valid_utf8(text);
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") {
    c.has_bom = true;
    text.remove_prefix(3);
  }
  c.has_crlf = text.find("\r\n") != std::string_view::npos;
  c.trailing_newline = !text.empty() && text.back() == '\n';

  // Extra lines become more tags: kohya reads the whole file and strips it, so a second
  // line's tags still reach the text encoder; the audit flags multiple_lines.
  std::string_view body = trim_ascii(text);
  c.multiple_lines = body.find('\n') != std::string_view::npos;
  std::size_t newline_len = c.trailing_newline ? (text.size() >= 2 && text[text.size() - 2] == '\r' ? 2 : 1) : 0;
  if (!body.empty() && body.size() != text.size() - newline_len) c.stray_whitespace = true;
  if (body.empty()) return c;

  // A line break already separates tags, so "a,\nb" holds no empty tag: join with a comma
  // only where neither side of the break has one.
  std::string joined;
  for (std::string_view line_rest = body; !line_rest.empty();) {
    std::size_t nl = line_rest.find('\n');
    std::string_view line = trim_ascii(line_rest.substr(0, nl));
    if (!line.empty()) {
      if (!joined.empty() && joined.back() != ',' && line.front() != ',') joined += ',';
      joined += line;
    }
    if (nl == std::string_view::npos) break;
    line_rest.remove_prefix(nl + 1);
  }
  for (std::string_view piece : split_tags_keep_empty(joined)) {
    if (piece.empty()) {
      ++c.empty_tags;
      continue;
    }
    if (piece.find("  ") != std::string_view::npos || piece.find('\t') != std::string_view::npos)
      c.stray_whitespace = true;
    c.tags.emplace_back(piece);
  }
  return c;
}

}  // namespace lathe
