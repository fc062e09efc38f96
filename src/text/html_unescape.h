// HTML character references, decoded the two ways the reference tokenizer does: Python's
// html.unescape (run twice by CLIP's basic_clean; accepts legacy names without ';') and
// ftfy's stricter unescape_html (only `&name;` / `&#n;` forms, plus upper-cased names such as
// "&EACUTE;").
#pragma once

#include <string>

namespace lathe::text {

// Python's html.unescape.
std::u32string html_unescape(const std::u32string& s);

// ftfy.fixes.unescape_html.
std::u32string ftfy_unescape_html(const std::u32string& s);

}  // namespace lathe::text
