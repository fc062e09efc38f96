// Character classes, lower-casing and NFC normalization with the semantics of the Python the
// reference CLIP tokenizer runs on (regex's \p{L} \p{N} \s, str.isspace, str.lower with its
// final-sigma rule, unicodedata.normalize("NFC")). Text is handled as UTF-32 strings here.
#pragma once

#include <string>

namespace lathe::text {

bool is_letter(char32_t c);       // regex \p{L}
bool is_number(char32_t c);       // regex \p{N}
bool is_regex_space(char32_t c);  // regex \s (the pre-tokenizer's and whitespace_clean's)
bool is_py_space(char32_t c);     // str.isspace (what str.strip removes)
// Characters the case-insensitive pre-tokenization pattern matches nowhere (U+0345): they are
// dropped and split words, like blanks.
bool is_pattern_skipped(char32_t c);

// str.lower(): full lower-case mappings, Greek capital sigma becomes final sigma at word ends.
std::u32string to_lower(const std::u32string& s);

// unicodedata.normalize("NFC", s).
std::u32string to_nfc(const std::u32string& s);

// The ftfy width map (fullwidth / halfwidth forms and U+3000) applied to one character;
// returns false when c has no replacement.
bool width_replacement(char32_t c, std::u32string& out);

}  // namespace lathe::text
