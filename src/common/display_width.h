// Terminal display width of UTF-8 text, and cutting or padding it to a number of columns, for
// the command line's tables (`lathe runs list`): a run id in Japanese or a 64-character id must
// not push the columns after it out of line. Independent of the process locale (the CLI never
// calls setlocale, and wcwidth answers -1 for every non-ASCII character in the C locale): the
// widths follow Unicode's East Asian Width (wide and fullwidth characters, emoji: 2 columns),
// combining marks and zero-width characters take 0, everything else 1. The TUI measures with
// the terminal's own wcwidth (tui/text_fit.h) since it runs under the user's locale.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace lathe {

// One character of `text` starting at byte `i`: its code point and byte length. A byte that
// does not start a well-formed UTF-8 sequence (stray continuation byte, overlong form,
// surrogate, beyond U+10FFFF, cut short) gives length 1 and `valid` false.
struct Utf8Char {
  char32_t code_point = 0;
  std::size_t length = 1;
  bool valid = false;
};
Utf8Char next_utf8_char(std::string_view text, std::size_t i);

// Columns one code point takes: 0, 1 or 2 (a control character counts 1: callers escape
// those first, see common/terminal_text.h).
int code_point_width(char32_t c);

// Columns `text` takes; an invalid byte counts 1.
int display_width(std::string_view text);

// The longest prefix of `text` (cut between characters) that fits `columns`; when anything
// was cut it ends with `ellipsis`, which counts in the width.
std::string truncate_to_width(std::string_view text, int columns, std::string_view ellipsis);

// `text` truncated to `columns` and padded with spaces to exactly that width: on the right
// (left-aligned) or, with `align_right`, on the left.
std::string pad_to_width(std::string_view text, int columns, std::string_view ellipsis,
                         bool align_right = false);

}  // namespace lathe
