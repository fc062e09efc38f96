// UTF-8 <-> UTF-32 conversion for the tokenizer. Decoding never fails: a byte that does not
// start a well-formed sequence becomes U+FFFD, so a broken caption still tokenizes (the audit
// reports the encoding problem separately).
#pragma once

#include <string>
#include <string_view>

namespace lathe::text {

std::u32string utf8_to_u32(std::string_view bytes);
void append_utf8(char32_t c, std::string& out);
std::string u32_to_utf8(std::u32string_view s);

}  // namespace lathe::text
