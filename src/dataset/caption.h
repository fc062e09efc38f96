// A caption file as Lathe sees it: the exact bytes from disk, the comma-separated tags, and
// the conventions of the file (BOM, line ending, trailing newline) so that an edit can write
// the file back in the same style and the audit can report what is off.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lathe {

struct CaptionText {
  std::string raw;                // bytes as read from disk
  bool valid_utf8 = true;
  bool has_bom = false;           // starts with EF BB BF
  bool has_crlf = false;          // contains "\r\n"
  bool trailing_newline = false;  // ends with "\n" (or "\r\n")
  bool multiple_lines = false;    // more than one non-empty line; extra lines are read as more tags
  bool stray_whitespace = false;  // leading/trailing blanks, tabs, doubled spaces inside tags
  int empty_tags = 0;             // "a,,b" or a trailing comma
  std::vector<std::string> tags;  // trimmed, in order, empty tags dropped; duplicates kept
  bool empty() const { return tags.empty(); }
};

// Parses caption bytes. Never throws: invalid UTF-8 is recorded, tags are still split on
// ASCII commas so the rest of the audit can run.
CaptionText parse_caption(std::string raw);

// Splits on commas and trims spaces/tabs/newlines; keeps empty pieces (for "a,,b" checks).
std::vector<std::string_view> split_tags_keep_empty(std::string_view text);

// Trims ASCII whitespace (space, tab, CR, LF) from both ends.
std::string_view trim_ascii(std::string_view s);

// True when `bytes` is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool is_valid_utf8(std::string_view bytes);

}  // namespace lathe
