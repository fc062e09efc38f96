// Embedding names (see embedding_name.h).
#include "text/embedding_name.h"

#include <fmt/format.h>

namespace lathe::text {
namespace {

bool is_ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ascii_alnum(char c) { return is_ascii_letter(c) || is_ascii_digit(c); }

}  // namespace

const char* embedding_name_rule() {
  return "an embedding name is one word of 1 to 64 ASCII letters, digits, '_' and '-', starting and "
         "ending with a letter or digit, with at least one letter (e.g. jinxdef)";
}

std::string embedding_name_problem(std::string_view name) {
  if (name.empty()) return "is empty";
  if (name.size() > 64) return "is longer than 64 characters";
  bool letter = false;
  for (char c : name) {
    if (is_ascii_letter(c)) letter = true;
    else if (!is_ascii_digit(c) && c != '_' && c != '-')
      return static_cast<unsigned char>(c) < 0x80 ? fmt::format("contains '{}'", c) : "contains a non-ASCII character";
  }
  if (!is_ascii_alnum(name.front()) || !is_ascii_alnum(name.back()))
    return "does not start and end with a letter or digit";
  if (!letter) return "has no letter";
  return "";
}

}  // namespace lathe::text
