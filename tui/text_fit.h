// Display width of UTF-8 text and cutting it to a number of terminal columns, so tags in any
// script, file names and messages never spill out of their box. Pure (uses the C library's
// wcwidth under the current locale; in the C locale every byte is one column).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace lathe::tui {

int display_width(std::string_view text);

// The longest prefix of `text` that fits `width` columns; when cut, ends with `ellipsis`.
std::string fit_text(std::string_view text, int width, std::string_view ellipsis = "~");

// `text` fitted and padded with spaces to exactly `width` columns.
std::string pad_text(std::string_view text, int width, std::string_view ellipsis = "~");

// Splits text into lines of at most `width` columns at spaces (long words are cut).
std::vector<std::string> wrap_text(std::string_view text, int width);

}  // namespace lathe::tui
