// The byte alphabet (simple_tokenizer.py's bytes_to_unicode), built once.
#include "text/byte_unicode.h"

#include <unordered_map>

#include "text/utf8.h"

namespace lathe::text {
namespace {

struct ByteAlphabet {
  std::array<unsigned char, 256> order{};
  std::array<std::string, 256> symbol;
  std::unordered_map<char32_t, unsigned char> back;

  ByteAlphabet() {
    auto kept = [](int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) ||
                                   (b >= 0xAE && b <= 0xFF); };
    int pos = 0, extra = 0;
    for (int b = 0; b < 256; ++b)
      if (kept(b)) set(pos++, b, static_cast<char32_t>(b));
    for (int b = 0; b < 256; ++b)
      if (!kept(b)) set(pos++, b, static_cast<char32_t>(256 + extra++));
  }
  void set(int pos, int b, char32_t c) {
    order[pos] = static_cast<unsigned char>(b);
    append_utf8(c, symbol[b]);
    back[c] = static_cast<unsigned char>(b);
  }
};

const ByteAlphabet& alphabet() {
  static const ByteAlphabet a;
  return a;
}

}  // namespace

const std::array<unsigned char, 256>& byte_symbol_order() { return alphabet().order; }

const std::string& byte_symbol(unsigned char b) { return alphabet().symbol[b]; }

std::string symbols_to_bytes(const std::string& symbols) {
  std::string s = symbols;
  std::string out;
  for (std::size_t pos; (pos = s.find("</w>")) != std::string::npos;)
    s.replace(pos, 4, " ");
  for (char32_t c : utf8_to_u32(s)) {
    auto it = alphabet().back.find(c);
    if (c != ' ' && it != alphabet().back.end()) out.push_back(static_cast<char>(it->second));
    else append_utf8(c, out);
  }
  return out;
}

}  // namespace lathe::text
