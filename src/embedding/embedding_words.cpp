// Whole-word, ASCII-case-insensitive search for embedding names (see embedding_words.h).
#include "embedding/embedding_words.h"

#include <algorithm>
#include <numeric>

namespace lathe {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Word characters for the boundary test: ASCII letters, digits, '_', and every byte of a UTF-8
// sequence (a name glued to a non-ASCII letter is part of a longer word).
bool is_word_byte(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}

bool matches_at(std::string_view caption, std::size_t at, const std::string& name) {
  if (name.empty() || at + name.size() > caption.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i)
    if (lower(caption[at + i]) != lower(name[i])) return false;
  const bool left_ok = at == 0 || !is_word_byte(caption[at - 1]);
  const std::size_t end = at + name.size();
  const bool right_ok = end == caption.size() || !is_word_byte(caption[end]);
  return left_ok && right_ok;
}

}  // namespace

std::vector<CaptionPiece> split_at_embedding_words(std::string_view caption,
                                                   const std::vector<std::string>& names) {
  // Longest first, so of two names matching at one place the longer wins.
  std::vector<int> order(names.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return names[a].size() > names[b].size(); });
  std::vector<CaptionPiece> pieces;
  std::size_t plain_start = 0;
  std::size_t at = 0;
  while (at < caption.size()) {
    // A name can only start at a word start; skip the rest of a word in one go.
    if (at > 0 && is_word_byte(caption[at - 1])) {
      ++at;
      continue;
    }
    int found = -1;
    for (int w : order)
      if (matches_at(caption, at, names[w])) {
        found = w;
        break;
      }
    if (found < 0) {
      ++at;
      continue;
    }
    if (at > plain_start) pieces.push_back({caption.substr(plain_start, at - plain_start), -1});
    pieces.push_back({caption.substr(at, names[found].size()), found});
    at += names[found].size();
    plain_start = at;
  }
  if (plain_start < caption.size() || pieces.empty())
    pieces.push_back({caption.substr(plain_start), -1});
  return pieces;
}

}  // namespace lathe
