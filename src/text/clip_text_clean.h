// Caption text as the CLIP reference sees it before BPE: basic_clean (ftfy's fix_text, then
// html.unescape twice, then strip), whitespace_clean (runs of blanks become one space), and
// lower-casing, followed by the reference's pre-tokenization pattern
//   <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// (case-insensitive), implemented as a hand-written scanner.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lathe::text {

enum class TextFixing {
  kFtfy,     // ftfy fix_text subset (text_fixer.h): the reference's behaviour
  kNfcOnly,  // Unicode NFC only: the reference run without ftfy's fixes
};

// basic_clean + whitespace_clean + lower(), on UTF-8 input.
std::u32string clean_caption(std::string_view utf8, TextFixing fixing);

// The words of cleaned text, in order, as spans into it.
struct WordSpan {
  std::size_t start, length;
};
std::vector<WordSpan> pretokenize(const std::u32string& cleaned);

}  // namespace lathe::text
