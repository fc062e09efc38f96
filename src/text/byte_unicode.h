// CLIP's byte-to-unicode alphabet: every byte gets a printable character (printable Latin-1
// bytes map to themselves, the rest to U+0100 onwards), so BPE runs on visible symbols and
// vocabulary files can be plain text. "é" (C3 A9) is spelled "Ã©" in the vocabulary.
#pragma once

#include <array>
#include <string>

namespace lathe::text {

// The bytes in the reference's order (printable ones first): position i of this list is the
// vocabulary id of the byte's symbol in OpenAI's layout.
const std::array<unsigned char, 256>& byte_symbol_order();

// The character standing for byte b, as UTF-8.
const std::string& byte_symbol(unsigned char b);

// Back from symbols to bytes: "Ã©</w>" -> "é " (a word end becomes a space); characters outside
// the alphabet are kept as they are.
std::string symbols_to_bytes(const std::string& symbols);

}  // namespace lathe::text
